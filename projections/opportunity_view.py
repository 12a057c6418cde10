"""``opportunity_view`` (+ ``stage_view``): one document per opportunity, pre-joined.

Stage, salesperson, account and team are copied in, and ``visible_to`` lists every user who
may see it (the salesperson and everyone above them), so listing a user's opportunities is
one indexed query. A change to a related record (a stage renamed, a rep moved to another
manager) re-derives exactly the opportunities it touches.

Notifications after each committed batch, per affected viewer and for admins (``__all__``):
``{"kind": CREATED|UPDATED|REMOVED, "opportunityId": id, "position": p}`` on
``opportunities:<viewer>``; REMOVED also goes to viewers who no longer see it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from domain.events import RecordedEvent
from domain.model import LeadRecord, StageRecord, UserRecord, opportunity_status
from domain.normalize import EMPLOYEE, LEAD, PARTNER, STAGE, TEAM, USER
from domain.org import OrgChart, changed_access, changed_profiles, resolve_org, user_key
from projections.framework import (
    CollectionSpec,
    Notification,
    Projection,
    ProjectionContext,
    guarded_bulk_write,
    guarded_delete,
    guarded_replace,
    guarded_write,
)
from projections.framework.projection import Handler
from projections.read_models import (
    ADMIN_DASHBOARD_ID,
    OPPORTUNITIES,
    OPPORTUNITY_INDEXES,
    STAGES,
    opportunity_channel,
)
from projections.records import KeepsRecords, RecordSet, event_types_for, stage_doc

HANDLED = event_types_for(LEAD, STAGE, TEAM, PARTNER, USER, EMPLOYEE)
REFS = f"{OPPORTUNITIES}_refs"


def parse_odoo_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


class OpportunityViewProjection(KeepsRecords, Projection):
    name = "opportunity_view"
    version = 2  # 2: the salesperson's card carries ``active``
    collections = (
        CollectionSpec(OPPORTUNITIES, tuple(OPPORTUNITY_INDEXES)),
        CollectionSpec(STAGES),
        CollectionSpec(REFS),
    )

    def __init__(self) -> None:
        self.records = RecordSet(REFS)
        self._chart: OrgChart | None = None
        self._dirty: dict[int, int] = {}  # lead id -> position that last touched it
        self._dirty_stages: dict[int, int] = {}
        self._org_position = 0
        self._visible: dict[int, frozenset[str]] = {}  # as last written
        # Related records changed in this batch, (lead field, id) -> position: resolved to
        # the opportunities they touch by one scan at flush, not one scan per event.
        self._related: dict[tuple[str, int], int] = {}

    def handlers(self) -> Mapping[str, Handler]:
        return dict.fromkeys(HANDLED, self._on_event)

    async def load(self, ctx: ProjectionContext) -> None:
        await self.records.load(ctx)
        self._chart = self.records.chart()
        self.records.org_changed = False
        async for doc in ctx.collection(OPPORTUNITIES).find({}, {"visible_to": 1}):
            self._visible[int(doc["_id"])] = frozenset(doc.get("visible_to") or ())

    def _on_event(self, event: RecordedEvent) -> None:
        applied = self.records.apply(event)
        if applied is None:
            return
        model, odoo_id = applied.model, applied.odoo_id
        position = event.position
        if model == LEAD:
            self._dirty[odoo_id] = position
        elif model == STAGE:
            self._dirty_stages[odoo_id] = position
            self._related[("stage_id", odoo_id)] = position
        elif model == TEAM:
            self._related[("team_id", odoo_id)] = position
        elif model == PARTNER:
            self._related[("partner_id", odoo_id)] = position
        elif model == USER:
            self._org_position = position
            if _card_changed(applied.before(), applied.after()):
                self._related[("user_id", odoo_id)] = position
        else:
            self._org_position = position

    def _touch_related(self) -> None:
        if not self._related:
            return
        for lead in self.records.leads():
            for field in ("stage_id", "team_id", "partner_id", "user_id"):
                value = getattr(lead, field)
                position = self._related.get((field, value)) if value is not None else None
                if position is not None:
                    self._dirty[lead.odoo_id] = max(self._dirty.get(lead.odoo_id, 0), position)
        self._related.clear()

    def _touch(self, predicate: Any, position: int) -> None:
        for lead in self.records.leads():
            if predicate(lead):
                self._dirty[lead.odoo_id] = max(self._dirty.get(lead.odoo_id, 0), position)

    def _reconcile_org(self) -> None:
        """After org events: opportunities of salespeople whose viewers changed."""
        if not self.records.org_changed:
            return
        new = self.records.chart()
        old = self._chart if self._chart is not None else resolve_org([], [])
        moved = changed_access(old, new) | changed_profiles(old, new)
        # A viewer whose access changed means some salespeople below them moved: every
        # salesperson in the old or new visible set of such a viewer may have new viewers.
        salespeople: set[str] = set()
        for uid in moved:
            salespeople.add(uid)
            if uid in old.user_ids:
                salespeople |= old.visible_salesperson_ids(uid)
            if uid in new.user_ids:
                salespeople |= new.visible_salesperson_ids(uid)
        self._touch(
            lambda lead: lead.user_id is not None and user_key(lead.user_id) in salespeople,
            self._org_position,
        )
        self._chart = new
        self.records.org_changed = False

    def document(self, lead: LeadRecord, chart: OrgChart) -> dict[str, Any]:
        stage = self.records.stage(lead.stage_id)
        status = opportunity_status(lead, stage is not None and stage.is_won)
        salesperson_id = user_key(lead.user_id) if lead.user_id is not None else None
        user = self.records.get(USER, lead.user_id)
        profile = chart.profile(salesperson_id) if salesperson_id is not None else None
        partner = self.records.partner(lead.partner_id)
        team = self.records.team(lead.team_id)
        created = parse_odoo_time(lead.create_date) or datetime(1970, 1, 1, tzinfo=UTC)
        updated = parse_odoo_time(lead.write_date) or created
        account_name = partner.name if partner is not None else ""
        return {
            "odoo_id": lead.odoo_id,
            "name": lead.name,
            "name_key": f"{lead.name} {account_name}".casefold(),
            "status": status.value,
            "expected_revenue": round(lead.expected_revenue, 2),
            "probability": lead.probability,
            "weighted_revenue": round(lead.weighted_revenue, 2),
            "stage": stage_doc(stage) if stage is not None else None,
            "salesperson_id": salesperson_id if profile is not None else None,
            "salesperson": (
                {
                    "id": salesperson_id,
                    "name": profile.name,
                    "email": profile.email,
                    "active": profile.active,
                }
                if profile is not None and isinstance(user, UserRecord)
                else None
            ),
            "account": {"odoo_id": partner.odoo_id, "name": partner.name} if partner else None,
            "team": {"odoo_id": team.odoo_id, "name": team.name} if team else None,
            "deadline": lead.date_deadline,
            "closed_at": parse_odoo_time(lead.date_closed),
            "created_at": created,
            "updated_at": updated,
            "visible_to": sorted(self._viewers(salesperson_id, chart), key=int),
        }

    @staticmethod
    def _viewers(salesperson_id: str | None, chart: OrgChart) -> frozenset[str]:
        if salesperson_id is None or salesperson_id not in chart.user_ids:
            return frozenset()
        return chart.users_above(salesperson_id)

    async def flush(self, ctx: ProjectionContext) -> list[Notification]:
        self._touch_related()
        self._reconcile_org()
        chart = self._chart if self._chart is not None else self.records.chart()
        notes: list[Notification] = []
        writes = []
        for odoo_id, position in sorted(self._dirty.items()):
            lead = self.records.lead(odoo_id)
            before = self._visible.get(odoo_id)
            listed = lead is not None and lead.is_opportunity
            if not listed:
                writes.append(guarded_delete(str(odoo_id), position))
                self._visible.pop(odoo_id, None)
                after: frozenset[str] | None = None
            else:
                assert lead is not None
                doc = self.document(lead, chart)
                writes.append(guarded_write(str(odoo_id), position, doc, stored=before is not None))
                after = frozenset(doc["visible_to"])
                self._visible[odoo_id] = after
            if not ctx.rebuilding:
                notes.extend(_notifications(str(odoo_id), before, after, position))
        await guarded_bulk_write(ctx.collection(OPPORTUNITIES), writes)
        stage_writes = []
        for stage_id, position in sorted(self._dirty_stages.items()):
            stage = self.records.stage(stage_id)
            if stage is None:
                stage_writes.append(guarded_delete(str(stage_id), position))
            else:
                stage_writes.append(guarded_replace(str(stage_id), position, _stage_list(stage)))
        await guarded_bulk_write(ctx.collection(STAGES), stage_writes)
        await self.records.flush(ctx)
        self._dirty.clear()
        self._dirty_stages.clear()
        return notes

    def all_documents(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every document this fold implies, per collection (for ``pulse check``)."""
        chart = self.records.chart()
        opportunities = {
            str(lead.odoo_id): self.document(lead, chart)
            for lead in self.records.leads()
            if lead.is_opportunity
        }
        stages = {str(i): _stage_list(s) for i, s in self.records.stages().items()}
        return {OPPORTUNITIES: opportunities, STAGES: stages}


def _stage_list(stage: StageRecord) -> dict[str, Any]:
    return {
        "odoo_id": stage.odoo_id,
        "name": stage.name,
        "sequence": stage.sequence,
        "is_won": stage.is_won,
        "fold": stage.fold,
    }


def _card_changed(before: Any, after: Any) -> bool:
    """Whether the salesperson card copied into the user's opportunities may change. (An
    archived or restored user also changes the org chart, which re-derives them anyway.)"""
    if not isinstance(before, UserRecord) or not isinstance(after, UserRecord):
        return True
    fields = ("name", "email", "login", "active")
    return any(getattr(before, f) != getattr(after, f) for f in fields)


def _notifications(
    opportunity_id: str,
    before: frozenset[str] | None,
    after: frozenset[str] | None,
    position: int,
) -> list[Notification]:
    """CREATED for viewers who now see it and did not, UPDATED for those who still do,
    REMOVED for those who no longer do (or when it was deleted). Admins see everything."""
    old, new = before or frozenset(), after or frozenset()
    notes = []

    def note(viewer: str, kind: str) -> None:
        payload = {"kind": kind, "opportunityId": opportunity_id, "position": position}
        notes.append(Notification(opportunity_channel(viewer), payload))

    for viewer in sorted(new - old, key=int):
        note(viewer, "CREATED")
    for viewer in sorted(new & old, key=int):
        note(viewer, "UPDATED")
    for viewer in sorted(old - new, key=int):
        note(viewer, "REMOVED")
    if after is None:
        if before is not None:
            note(ADMIN_DASHBOARD_ID, "REMOVED")
    else:
        note(ADMIN_DASHBOARD_ID, "CREATED" if before is None else "UPDATED")
    return notes
