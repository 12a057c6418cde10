"""The visibility rules as every read path applies them (PRODUCT.md §3 "Visibility").

Opportunities carry ``visible_to`` (the users who see them, precomputed by the projection);
a non-admin sees one only when it lists them AND its salesperson is in their access set
(``domain.access.can_see_opportunity``). Both come from the same org chart, so they agree;
requiring both means a lagging read model can only hide a record, never leak one.
Lookups, lists, history and subscription pushes all go through these functions, and a
record the caller cannot see is reported exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from domain.access import can_read_profile, can_see_opportunity
from projections.read_models import HierarchyDoc, PersonDoc
from schema.session import Caller

MATCH_NOTHING: dict[str, Any] = {"_id": {"$in": []}}


def sees_opportunity(caller: Caller, doc: Mapping[str, Any]) -> bool:
    if caller.is_admin:
        return True
    user_id = caller.viewer.user_id
    if user_id is None or user_id not in (doc.get("visible_to") or ()):
        return False
    return can_see_opportunity(caller.viewer, doc.get("salesperson_id"), caller.visible_user_ids)


def opportunity_scope(caller: Caller) -> dict[str, Any]:
    """The MongoDB filter equivalent of ``sees_opportunity``."""
    if caller.is_admin:
        return {}
    user_id = caller.viewer.user_id
    if user_id is None or not caller.visible_user_ids:
        return MATCH_NOTHING
    return {"visible_to": user_id, "salesperson_id": {"$in": sorted(caller.visible_user_ids)}}


def reads_profile(caller: Caller, profile_id: str) -> bool:
    return can_read_profile(caller.viewer, profile_id, caller.readable_profile_ids)


def visible_subordinates(
    caller: Caller, profile_id: str, hierarchy: HierarchyDoc
) -> Sequence[PersonDoc]:
    """The subordinates a readable profile shows. Reading a manager above must not reveal
    that manager's other reports (the caller's peers and their teams): unless the profile is
    the caller's own or below them, only the subordinates the caller may read themself."""
    if caller.is_admin or profile_id in caller.visible_user_ids:
        return hierarchy.subordinates
    return [
        p
        for p in hierarchy.subordinates
        if p.user_id is not None and reads_profile(caller, p.user_id)
    ]
