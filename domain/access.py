"""Who sees what: the named access rules (PRODUCT.md §3 "Visibility", ARCHITECTURE.md §8).

Every read path (lists, single lookups, dashboards, history, subscription pushes) asks these
functions, so the rule lives in one place. They take precomputed access sets (from
``OrgChart``) rather than the chart itself where a hot path calls them per record.

Rules decided here where PRODUCT.md is silent:

* An opportunity whose salesperson is not a user (a portal account, an unknown id) is seen
  by admins only, like an unassigned one: its salesperson is in nobody's access set.
* A non-admin caller without a user id sees nothing but has no profile to read either.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass

from domain.org import OrgChart, user_key


@dataclass(frozen=True, slots=True)
class Viewer:
    """The authenticated caller. ``user_id`` is the profile id (``str(odoo user id)``), None
    for an admin who is not an Odoo user."""

    user_id: str | None
    email: str
    is_admin: bool = False


def salesperson_id_of(odoo_user_id: int | None) -> str | None:
    """The profile id of a lead's ``user_id`` (None when unassigned)."""
    return None if odoo_user_id is None else user_key(odoo_user_id)


def access_set_of(viewer: Viewer, org: OrgChart) -> frozenset[str]:
    """Salespeople whose opportunities a non-admin viewer sees (unused for admins)."""
    if viewer.user_id is None:
        return frozenset()
    return org.visible_salesperson_ids(viewer.user_id)


def readable_set_of(viewer: Viewer, org: OrgChart) -> frozenset[str]:
    """Profiles a non-admin viewer may read (unused for admins)."""
    if viewer.user_id is None:
        return frozenset()
    return org.readable_profile_ids(viewer.user_id)


def can_see_opportunity(viewer: Viewer, salesperson_id: str | None, access_set: Set[str]) -> bool:
    """Admins see everything; anyone else sees deals of a salesperson in their access set
    (themself and the users of their subtree). Unassigned: admins only."""
    if viewer.is_admin:
        return True
    if salesperson_id is None or viewer.user_id is None:
        return False
    return salesperson_id in access_set


def can_read_profile(viewer: Viewer, profile_id: str, readable_set: Set[str]) -> bool:
    """Admins read every profile; anyone else: self, subordinates, managers above."""
    if viewer.is_admin:
        return True
    if viewer.user_id is None:
        return False
    return profile_id in readable_set


def visible_viewers_of(salesperson_id: str | None, org: OrgChart) -> frozenset[str]:
    """Non-admin users who see a salesperson's deals: the salesperson and every user above
    them (plus any user linked to the same employee). Exactly the users whose access set
    holds the salesperson; empty when unassigned or not a user. Admins are separate."""
    if salesperson_id is None:
        return frozenset()
    return org.users_above(salesperson_id)
