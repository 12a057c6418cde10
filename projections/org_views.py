"""``user_profiles`` and ``user_access_matrix``: one document per Odoo user, derived from the
whole org chart (users + employees) and rewritten only for the users an org change affects.

Each is its own projection (own checkpoint, failures and rebuild) over the same org events.
A batch writes the derived documents first and the records they were derived from last, so
that after a crash the replay still sees the records as changed and re-derives; derived
documents are guarded by the position of the last org event they reflect.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from domain.events import RecordedEvent
from domain.normalize import EMPLOYEE, USER
from domain.org import (
    OrgChart,
    Person,
    changed_access,
    changed_profiles,
    resolve_org,
    user_email_key,
)
from projections.framework import (
    CollectionSpec,
    Notification,
    Projection,
    ProjectionContext,
    guarded_bulk_write,
    guarded_delete,
    guarded_replace,
)
from projections.framework.projection import Handler
from projections.read_models import (
    USER_ACCESS,
    USER_ACCESS_INDEXES,
    USER_PROFILE_INDEXES,
    USER_PROFILES,
)
from projections.records import KeepsRecords, RecordSet, event_types_for

ORG_EVENTS = event_types_for(USER, EMPLOYEE)


def person_doc(person: Person) -> dict[str, Any]:
    return {
        "employee_id": person.employee_id,
        "user_id": person.user_id,
        "name": person.name,
        "email": person.email,
    }


class OrgDerivedProjection(KeepsRecords, Projection):
    collection_name: str

    def __init__(self) -> None:
        self.records = RecordSet(f"{self.collection_name}_refs")
        self._previous: OrgChart | None = None
        self._position = 0

    def handlers(self) -> Mapping[str, Handler]:
        return dict.fromkeys(ORG_EVENTS, self._on_org_event)

    def _on_org_event(self, event: RecordedEvent) -> None:
        if self.records.apply(event) is not None:
            self._position = event.position

    async def load(self, ctx: ProjectionContext) -> None:
        await self.records.load(ctx)
        self._previous = self.records.chart()
        self.records.org_changed = False

    async def flush(self, ctx: ProjectionContext) -> list[Notification]:
        if self.records.org_changed:
            new = self.records.chart()
            old = self._previous if self._previous is not None else resolve_org([], [])
            writes = []
            for uid in sorted(self.affected(old, new)):
                doc = self.document(uid, new)
                if doc is None:
                    writes.append(guarded_delete(uid, self._position))
                else:
                    writes.append(guarded_replace(uid, self._position, doc))
            await guarded_bulk_write(ctx.collection(self.collection_name), writes)
            self.content_position = self._position
            self._previous = new
            self.records.org_changed = False
        await self.records.flush(ctx)
        return []

    def all_documents(self) -> dict[str, dict[str, Any]]:
        """Every document this fold implies (``pulse check`` compares them with the store)."""
        chart = self.records.chart()
        docs = {uid: self.document(uid, chart) for uid in chart.user_ids}
        return {uid: doc for uid, doc in docs.items() if doc is not None}

    @abstractmethod
    def affected(self, old: OrgChart, new: OrgChart) -> set[str]: ...

    @abstractmethod
    def document(self, uid: str, chart: OrgChart) -> dict[str, Any] | None: ...


class UserProfilesProjection(OrgDerivedProjection):
    name = "user_profiles"
    collection_name = USER_PROFILES
    collections = (
        CollectionSpec(USER_PROFILES, tuple(USER_PROFILE_INDEXES)),
        CollectionSpec(f"{USER_PROFILES}_refs"),
    )

    def affected(self, old: OrgChart, new: OrgChart) -> set[str]:
        return changed_profiles(old, new)

    def document(self, uid: str, chart: OrgChart) -> dict[str, Any] | None:
        profile = chart.profile(uid)
        user = chart.user(uid)
        if profile is None or user is None:
            return None
        h = profile.hierarchy
        return {
            "email": profile.email,
            "email_key": user_email_key(user),
            "name": profile.name,
            "active": profile.active,
            "odoo": {
                "user_id": profile.odoo.user_id,
                "employee_id": profile.odoo.employee_id,
                "manager_employee_id": profile.odoo.manager_employee_id,
                "linked_by": profile.odoo.linked_by.value,
            },
            "hierarchy": {
                "manager": person_doc(h.manager) if h.manager is not None else None,
                "direct_reports": [person_doc(p) for p in h.direct_reports],
                "subordinates": [person_doc(p) for p in h.subordinates],
                "is_manager": h.is_manager,
                "reports_count": h.reports_count,
            },
            "org_chart": [
                {
                    "person": person_doc(n.person),
                    "manager_employee_id": n.manager_employee_id,
                    "depth": n.depth,
                }
                for n in chart.chart_for(uid)
            ],
        }


class AccessMatrixProjection(OrgDerivedProjection):
    name = "user_access_matrix"
    collection_name = USER_ACCESS
    collections = (
        CollectionSpec(USER_ACCESS, tuple(USER_ACCESS_INDEXES)),
        CollectionSpec(f"{USER_ACCESS}_refs"),
    )

    def affected(self, old: OrgChart, new: OrgChart) -> set[str]:
        return changed_access(old, new) | changed_profiles(old, new)

    def document(self, uid: str, chart: OrgChart) -> dict[str, Any] | None:
        user = chart.user(uid)
        profile = chart.profile(uid)
        if user is None or profile is None:
            return None
        visible = chart.visible_salesperson_ids(uid)
        above = chart.users_above(uid)
        return {
            "email_key": user_email_key(user),
            "active": user.active,
            # The caller's card, as user_profiles shows it (affected() includes every
            # profile change, so a rename rewrites this document too).
            "name": profile.name,
            "email": profile.email,
            "visible_user_ids": sorted(visible, key=int),
            "readable_profile_ids": sorted(chart.readable_profile_ids(uid), key=int),
            "manager_ids": sorted(above - {uid}, key=int),
            "subordinate_ids": sorted(visible - {uid}, key=int),
            "direct_report_count": chart.reports_count(uid),
            "refreshed_at": datetime.now(UTC),
        }
