"""Change detection: compare a record's new snapshot with the last one and decide the events.

Pure and deterministic: the same (previous, current) pair always yields the same event types,
in the same order, with the same data, whichever path (full sync, incremental sync, webhook
re-read, import) saw the change. Every event carries the full new record, so a projection can
fold any single event without knowing the others; the specific events only say *what*
happened.

Rules:

* nothing for an unchanged record: the normalized content is compared, ``write_date`` aside
  (a touch that changes nothing Pulse reads is not an event);
* ``*Appeared`` when there was no previous snapshot, in whatever state the record is (an
  opportunity first seen already lost is one OpportunityAppeared, not Appeared + Lost);
* ``*Deleted`` when the record is gone (a full sync's id list or a re-read that finds
  nothing), carrying the last known record;
* otherwise one event per kind of change, in a fixed order: what reopens first, what closes
  last. For opportunities:

  1. OpportunityRestored: inactive -> active.
  2. OpportunityWon: moved, while active, from a stage that is not won into a won stage;
     it *replaces* OpportunityStageChanged (it carries from/to stage ids, so a consumer of
     stage moves handles both). Needs ``won_stage_ids``: without it, no event claims a win.
  3. OpportunityStageChanged: any other stage move (into another won stage, out of a won
     stage, or while archived).
  4. OpportunityReassigned: user_id changed.
  5. OpportunityRevenueChanged: expected_revenue changed, or probability changed for a
     reason that no event above explains. Odoo forces probability to 100 on a win and 0 on
     a loss, and recomputes it on restore; those moves belong to Won/Lost/Restored.
  6. OpportunityDetailsChanged: any other field. date_closed and lost_reason_id are Odoo's
     bookkeeping of a win, loss, archive, restore or stage move: when one of those events
     is emitted they are left to it (they are in its ``record``), not repeated here.
  7. OpportunityLost (status became LOST: inactive at probability 0) or OpportunityArchived
     (status became ARCHIVED: inactive at probability > 0), including a move between the two
     while archived.

  Users: UserReactivated, UserChanged, UserDeactivated. Employees: EmployeeRestored,
  EmployeeManagerChanged, EmployeeUserLinkChanged, EmployeeChanged, EmployeeArchived.
  Stages, teams, partners: *Changed (``active`` included in its ``changes``).
"""

from __future__ import annotations

import re
from collections.abc import Set
from dataclasses import fields
from datetime import datetime
from typing import Any, Final

from domain import catalog
from domain.catalog import Changes, EventMeta, stream_for
from domain.events import NewEvent, utcnow
from domain.model import (
    EmployeeRecord,
    LeadRecord,
    OpportunityStatus,
    Record,
    UserRecord,
    opportunity_status,
)
from domain.normalize import RECORD_TYPE_BY_MODEL, record_content

__all__ = ["detect_changes", "stream_for"]

# The form normalize() gives Odoo's write_date (UTC).
_WRITE_DATE_RE: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T(?:[01][0-9]|2[0-3]):[0-9]{2}:[0-9]{2}Z"
)


def _fields_except(record_type: type[Record], *excluded: str) -> tuple[str, ...]:
    # Derived from the dataclass, so that a field added to a record is reported by the
    # generic *Changed event instead of being silently ignored.
    skip = {"odoo_id", "write_date", *excluded}
    return tuple(f.name for f in fields(record_type) if f.name not in skip)  # type: ignore[arg-type]


_LEAD_BOOKKEEPING: Final = ("date_closed", "lost_reason_id")
_LEAD_DETAILS: Final = _fields_except(
    LeadRecord, "active", "stage_id", "user_id", "expected_revenue", "probability"
)
_LEAD_DETAILS_BESIDE_LIFECYCLE: Final = _fields_except(
    LeadRecord,
    "active",
    "stage_id",
    "user_id",
    "expected_revenue",
    "probability",
    *_LEAD_BOOKKEEPING,
)
_USER_DETAILS: Final = _fields_except(UserRecord, "active")
_EMPLOYEE_DETAILS: Final = _fields_except(EmployeeRecord, "active", "parent_id", "user_id")


def detect_changes(
    model: str,
    previous: Record | None,
    current: Record | None,
    *,
    source: str,
    correlation_id: str | None = None,
    occurred_at: datetime | None = None,
    won_stage_ids: Set[int] | None = None,
) -> list[NewEvent]:
    """The events that turn ``previous`` into ``current`` (both normalized, same record).

    ``occurred_at`` dates the events when the record has no write_date (only crm.lead has
    one) and for deletions; it defaults to now. ``won_stage_ids`` (ids of stages with
    ``is_won``) lets a move into a won stage be recorded as OpportunityWon; leave it None
    only when stages are unknown, and the move is recorded as OpportunityStageChanged.
    Raises ValueError/TypeError for an unknown model, a record of the wrong type or two
    different records: those are programming errors, not bad data.
    """
    record_type = RECORD_TYPE_BY_MODEL.get(model)
    if record_type is None:
        raise ValueError(f"unknown model {model!r}")
    for record in (previous, current):
        if record is not None and type(record) is not record_type:
            raise TypeError(f"{model} expects {record_type.__name__}, got {type(record).__name__}")
    if previous is None:
        if current is None:
            return []  # never seen, still absent: nothing happened
        return [catalog.appeared(current, _meta(current, source, correlation_id, occurred_at))]
    if current is None:
        # A deletion has no write_date: it is dated by the caller (when it was noticed).
        return [catalog.deleted(previous, _meta(None, source, correlation_id, occurred_at))]

    before, after = record_content(previous), record_content(current)
    if before["odoo_id"] != after["odoo_id"]:
        raise ValueError(f"cannot diff two records: {before['odoo_id']} != {after['odoo_id']}")
    if before == after:
        return []
    meta = _meta(current, source, correlation_id, occurred_at)
    if isinstance(previous, LeadRecord) and isinstance(current, LeadRecord):
        return _lead_events(previous, current, meta, won_stage_ids)
    if isinstance(previous, UserRecord) and isinstance(current, UserRecord):
        return _user_events(previous, current, meta)
    if isinstance(previous, EmployeeRecord) and isinstance(current, EmployeeRecord):
        return _employee_events(previous, current, meta)
    return [catalog.changed(current, _changes(before, after, tuple(after)), meta)]


def _meta(
    current: Record | None, source: str, correlation_id: str | None, given: datetime | None
) -> EventMeta:
    return EventMeta(source, _occurred_at(current, given), correlation_id)


def _occurred_at(current: Record | None, given: datetime | None) -> datetime:
    # Odoo's write_date is when the change was made; our clock only says when we noticed.
    if isinstance(current, LeadRecord) and _WRITE_DATE_RE.fullmatch(current.write_date or ""):
        try:
            # fromisoformat, not strptime (0.2 vs 6 us a lead): the pattern fixed the format.
            return datetime.fromisoformat(current.write_date or "")
        except ValueError:
            pass  # not produced by normalize(); fall back rather than lose the change
    return given if given is not None else utcnow()


def _changes(before: dict[str, Any], after: dict[str, Any], names: tuple[str, ...]) -> Changes:
    return {
        name: {"from": before[name], "to": after[name]}
        for name in names
        if name not in ("odoo_id", "write_date") and before[name] != after[name]
    }


def _closed(lead: LeadRecord) -> OpportunityStatus | None:
    """LOST or ARCHIVED for an inactive lead, None while active (stage is irrelevant here)."""
    return None if lead.active else opportunity_status(lead, stage_is_won=False)


def _lead_events(
    prev: LeadRecord, cur: LeadRecord, meta: EventMeta, won_stage_ids: Set[int] | None
) -> list[NewEvent]:
    restored = not prev.active and cur.active
    closed_now = _closed(cur) if _closed(prev) != _closed(cur) else None
    lost = closed_now is OpportunityStatus.LOST
    archived = closed_now is OpportunityStatus.ARCHIVED
    stage_moved = prev.stage_id != cur.stage_id
    won = (
        stage_moved
        and cur.active
        and won_stage_ids is not None
        and cur.stage_id in won_stage_ids
        and prev.stage_id not in won_stage_ids
    )
    probability_explained = (won and cur.probability == 100.0) or lost or restored
    revenue_changed = prev.expected_revenue != cur.expected_revenue or (
        prev.probability != cur.probability and not probability_explained
    )
    lifecycle = restored or lost or archived or stage_moved
    details = _changes(
        prev.to_dict(),
        cur.to_dict(),
        _LEAD_DETAILS_BESIDE_LIFECYCLE if lifecycle else _LEAD_DETAILS,
    )

    events: list[NewEvent] = []
    if restored:
        events.append(catalog.opportunity_restored(cur, prev, meta))
    if won:
        events.append(catalog.opportunity_won(cur, prev, meta))
    elif stage_moved:
        events.append(catalog.opportunity_stage_changed(cur, prev, meta))
    if prev.user_id != cur.user_id:
        events.append(catalog.opportunity_reassigned(cur, prev, meta))
    if revenue_changed:
        events.append(catalog.opportunity_revenue_changed(cur, prev, meta))
    if details:
        events.append(catalog.changed(cur, details, meta))
    if lost:
        events.append(catalog.opportunity_lost(cur, prev, meta))
    elif archived:
        events.append(catalog.opportunity_archived(cur, prev, meta))
    return events


def _user_events(prev: UserRecord, cur: UserRecord, meta: EventMeta) -> list[NewEvent]:
    events: list[NewEvent] = []
    if not prev.active and cur.active:
        events.append(catalog.user_reactivated(cur, meta))
    details = _changes(prev.to_dict(), cur.to_dict(), _USER_DETAILS)
    if details:
        events.append(catalog.changed(cur, details, meta))
    if prev.active and not cur.active:
        events.append(catalog.user_deactivated(cur, meta))
    return events


def _employee_events(prev: EmployeeRecord, cur: EmployeeRecord, meta: EventMeta) -> list[NewEvent]:
    events: list[NewEvent] = []
    if not prev.active and cur.active:
        events.append(catalog.employee_restored(cur, meta))
    if prev.parent_id != cur.parent_id:
        events.append(catalog.employee_manager_changed(cur, prev, meta))
    if prev.user_id != cur.user_id:
        events.append(catalog.employee_user_link_changed(cur, prev, meta))
    details = _changes(prev.to_dict(), cur.to_dict(), _EMPLOYEE_DETAILS)
    if details:
        events.append(catalog.changed(cur, details, meta))
    if prev.active and not cur.active:
        events.append(catalog.employee_archived(cur, meta))
    return events
