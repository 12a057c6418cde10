"""The event catalog: the facts Pulse records about Odoo records, and their builders.

One stream per Odoo record: ``opportunity/<id>`` (crm.lead, leads included), ``user/<id>``,
``employee/<id>`` (hr.employee and hr.employee.public alike), ``stage/<id>``, ``team/<id>``,
``partner/<id>``.

Every event's data holds ``odoo_id`` and ``record``: the full normalized record *after* the
event (``Record.to_dict()``), ``None`` after a deletion. Projections fold ``record`` and never
need Odoo or the previous event; the other keys say what happened (history, notifications):

================================  ==================================================================
type (all schema v1)              keys besides ``odoo_id`` and ``record``
================================  ==================================================================
``*Appeared``                     (none): first sighting, in whatever state the record is
``*Deleted``                      ``last_record``: the last known record (``record`` is None)
``*Changed``, ``*DetailsChanged`` ``changes``: ``{field: {"from": old, "to": new}}``
OpportunityStageChanged           ``from_stage_id``, ``to_stage_id``
OpportunityWon                    ``from_stage_id``, ``to_stage_id``, ``from_probability``,
                                  ``to_probability``
OpportunityLost                   ``from_probability``, ``to_probability``, ``lost_reason_id``
OpportunityArchived               ``from_probability``, ``to_probability``
OpportunityRestored               ``from_probability``, ``to_probability``
OpportunityReassigned             ``from_user_id``, ``to_user_id``
OpportunityRevenueChanged         ``from_expected_revenue``, ``to_expected_revenue``,
                                  ``from_probability``, ``to_probability``
UserDeactivated, UserReactivated  (none)
EmployeeManagerChanged            ``from_parent_id``, ``to_parent_id``
EmployeeUserLinkChanged           ``from_user_id``, ``to_user_id``
EmployeeArchived/Restored         (none)
================================  ==================================================================

Type names are stable: a change of shape bumps the version in ``EVENT_TYPES`` and adds an
upcaster (``domain/upcasting.py``); a type is never renamed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from domain.events import NewEvent, StreamRef
from domain.model import (
    EmployeeRecord,
    LeadRecord,
    PartnerRecord,
    Record,
    StageRecord,
    TeamRecord,
    UserRecord,
)
from domain.normalize import (
    CANONICAL_MODEL,
    EMPLOYEE,
    LEAD,
    PARTNER,
    RECORD_TYPE_BY_MODEL,
    STAGE,
    TEAM,
    USER,
)

OPPORTUNITY_APPEARED: Final = "OpportunityAppeared"
OPPORTUNITY_STAGE_CHANGED: Final = "OpportunityStageChanged"
OPPORTUNITY_WON: Final = "OpportunityWon"
OPPORTUNITY_LOST: Final = "OpportunityLost"
OPPORTUNITY_ARCHIVED: Final = "OpportunityArchived"
OPPORTUNITY_RESTORED: Final = "OpportunityRestored"
OPPORTUNITY_REASSIGNED: Final = "OpportunityReassigned"
OPPORTUNITY_REVENUE_CHANGED: Final = "OpportunityRevenueChanged"
OPPORTUNITY_DETAILS_CHANGED: Final = "OpportunityDetailsChanged"
OPPORTUNITY_DELETED: Final = "OpportunityDeleted"
USER_APPEARED: Final = "UserAppeared"
USER_CHANGED: Final = "UserChanged"
USER_DEACTIVATED: Final = "UserDeactivated"
USER_REACTIVATED: Final = "UserReactivated"
USER_DELETED: Final = "UserDeleted"
EMPLOYEE_APPEARED: Final = "EmployeeAppeared"
EMPLOYEE_CHANGED: Final = "EmployeeChanged"
EMPLOYEE_MANAGER_CHANGED: Final = "EmployeeManagerChanged"
EMPLOYEE_USER_LINK_CHANGED: Final = "EmployeeUserLinkChanged"
EMPLOYEE_ARCHIVED: Final = "EmployeeArchived"
EMPLOYEE_RESTORED: Final = "EmployeeRestored"
EMPLOYEE_DELETED: Final = "EmployeeDeleted"
STAGE_APPEARED: Final = "StageAppeared"
STAGE_CHANGED: Final = "StageChanged"
STAGE_DELETED: Final = "StageDeleted"
TEAM_APPEARED: Final = "TeamAppeared"
TEAM_CHANGED: Final = "TeamChanged"
TEAM_DELETED: Final = "TeamDeleted"
PARTNER_APPEARED: Final = "PartnerAppeared"
PARTNER_CHANGED: Final = "PartnerChanged"
PARTNER_DELETED: Final = "PartnerDeleted"


@dataclass(frozen=True, slots=True)
class _Kind:
    """One kind of record: its canonical model, stream type and generic event types."""

    model: str
    stream_type: str
    appeared: str
    changed: str
    deleted: str
    specific: tuple[str, ...] = ()


_KINDS: Final[dict[type[Record], _Kind]] = {
    LeadRecord: _Kind(
        LEAD,
        "opportunity",
        OPPORTUNITY_APPEARED,
        OPPORTUNITY_DETAILS_CHANGED,
        OPPORTUNITY_DELETED,
        (
            OPPORTUNITY_STAGE_CHANGED,
            OPPORTUNITY_WON,
            OPPORTUNITY_LOST,
            OPPORTUNITY_ARCHIVED,
            OPPORTUNITY_RESTORED,
            OPPORTUNITY_REASSIGNED,
            OPPORTUNITY_REVENUE_CHANGED,
        ),
    ),
    UserRecord: _Kind(
        USER,
        "user",
        USER_APPEARED,
        USER_CHANGED,
        USER_DELETED,
        (USER_DEACTIVATED, USER_REACTIVATED),
    ),
    EmployeeRecord: _Kind(
        EMPLOYEE,
        "employee",
        EMPLOYEE_APPEARED,
        EMPLOYEE_CHANGED,
        EMPLOYEE_DELETED,
        (
            EMPLOYEE_MANAGER_CHANGED,
            EMPLOYEE_USER_LINK_CHANGED,
            EMPLOYEE_ARCHIVED,
            EMPLOYEE_RESTORED,
        ),
    ),
    StageRecord: _Kind(STAGE, "stage", STAGE_APPEARED, STAGE_CHANGED, STAGE_DELETED),
    TeamRecord: _Kind(TEAM, "team", TEAM_APPEARED, TEAM_CHANGED, TEAM_DELETED),
    PartnerRecord: _Kind(PARTNER, "partner", PARTNER_APPEARED, PARTNER_CHANGED, PARTNER_DELETED),
}

# Event type -> canonical Odoo model ("hr.employee" for both employee models).
MODEL_BY_EVENT_TYPE: Final[dict[str, str]] = {
    event_type: kind.model
    for kind in _KINDS.values()
    for event_type in (kind.appeared, kind.changed, kind.deleted, *kind.specific)
}
DELETION_TYPES: Final[frozenset[str]] = frozenset(kind.deleted for kind in _KINDS.values())

# Event type -> current schema version. Everything starts at 1.
EVENT_TYPES: Final[dict[str, int]] = dict.fromkeys(MODEL_BY_EVENT_TYPE, 1)

STREAM_TYPE_BY_MODEL: Final[dict[str, str]] = {
    model: _KINDS[record_type].stream_type for model, record_type in RECORD_TYPE_BY_MODEL.items()
}
MODEL_BY_STREAM_TYPE: Final[dict[str, str]] = {
    kind.stream_type: kind.model for kind in _KINDS.values()
}


def stream_for(model: str, odoo_id: int) -> StreamRef:
    """The stream of one Odoo record: ``stream_for("crm.lead", 42)`` is ``opportunity/42``."""
    stream_type = STREAM_TYPE_BY_MODEL.get(model)
    if stream_type is None:
        raise ValueError(f"unknown model {model!r}")
    return StreamRef(stream_type, str(odoo_id))


def record_data_of(
    event_type: str, data: Mapping[str, Any]
) -> tuple[str, Mapping[str, Any] | None]:
    """The canonical model and the record's state after the event as the event carries it
    (``Record.to_dict()`` form; None after a deletion), without building the dataclass.

    ``data`` must be at the current schema version (upcast on read).
    """
    model = MODEL_BY_EVENT_TYPE.get(event_type)
    if model is None:
        raise ValueError(f"not a record event: {event_type!r}")
    if event_type in DELETION_TYPES:
        return model, None
    record = data.get("record")
    if not isinstance(record, Mapping):
        raise ValueError(f"{event_type} carries no record")
    return model, record


def record_from_event(event_type: str, data: Mapping[str, Any]) -> tuple[str, Record | None]:
    """The canonical model and the record's state after the event (None after a deletion).

    ``data`` must be at the current schema version (upcast on read).
    """
    model, record = record_data_of(event_type, data)
    if record is None:
        return model, None
    return model, RECORD_TYPE_BY_MODEL[model].from_dict(record)


# --- builders -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventMeta:
    """What every event of one diff shares: where it came from and when it happened."""

    source: str
    occurred_at: datetime
    correlation_id: str | None = None


Changes = dict[str, dict[str, Any]]


def _kind(record: Record) -> _Kind:
    kind = _KINDS.get(type(record))
    if kind is None:
        raise TypeError(f"not an ingested record: {type(record).__name__}")
    return kind


def _event(event_type: str, record: Record, meta: EventMeta, **specifics: Any) -> NewEvent:
    state = record.to_dict()
    data: dict[str, Any] = {"odoo_id": state["odoo_id"], "record": state, **specifics}
    return NewEvent(
        type=event_type,
        data=data,
        schema_version=EVENT_TYPES[event_type],
        occurred_at=meta.occurred_at,
        correlation_id=meta.correlation_id,
        source=meta.source,
    )


def appeared(record: Record, meta: EventMeta) -> NewEvent:
    return _event(_kind(record).appeared, record, meta)


def changed(record: Record, changes: Changes, meta: EventMeta) -> NewEvent:
    """``*Changed`` (``OpportunityDetailsChanged`` for opportunities) with the field changes."""
    return _event(_kind(record).changed, record, meta, changes=changes)


def deleted(last: Record, meta: EventMeta) -> NewEvent:
    event_type = _kind(last).deleted
    state = last.to_dict()
    return NewEvent(
        type=event_type,
        data={"odoo_id": state["odoo_id"], "record": None, "last_record": state},
        schema_version=EVENT_TYPES[event_type],
        occurred_at=meta.occurred_at,
        correlation_id=meta.correlation_id,
        source=meta.source,
    )


def _probabilities(previous: LeadRecord, record: LeadRecord) -> dict[str, float]:
    return {"from_probability": previous.probability, "to_probability": record.probability}


def opportunity_stage_changed(
    record: LeadRecord, previous: LeadRecord, meta: EventMeta
) -> NewEvent:
    return _event(
        OPPORTUNITY_STAGE_CHANGED,
        record,
        meta,
        from_stage_id=previous.stage_id,
        to_stage_id=record.stage_id,
    )


def opportunity_won(record: LeadRecord, previous: LeadRecord, meta: EventMeta) -> NewEvent:
    return _event(
        OPPORTUNITY_WON,
        record,
        meta,
        from_stage_id=previous.stage_id,
        to_stage_id=record.stage_id,
        **_probabilities(previous, record),
    )


def opportunity_lost(record: LeadRecord, previous: LeadRecord, meta: EventMeta) -> NewEvent:
    return _event(
        OPPORTUNITY_LOST,
        record,
        meta,
        lost_reason_id=record.lost_reason_id,
        **_probabilities(previous, record),
    )


def opportunity_archived(record: LeadRecord, previous: LeadRecord, meta: EventMeta) -> NewEvent:
    return _event(OPPORTUNITY_ARCHIVED, record, meta, **_probabilities(previous, record))


def opportunity_restored(record: LeadRecord, previous: LeadRecord, meta: EventMeta) -> NewEvent:
    return _event(OPPORTUNITY_RESTORED, record, meta, **_probabilities(previous, record))


def opportunity_reassigned(record: LeadRecord, previous: LeadRecord, meta: EventMeta) -> NewEvent:
    return _event(
        OPPORTUNITY_REASSIGNED,
        record,
        meta,
        from_user_id=previous.user_id,
        to_user_id=record.user_id,
    )


def opportunity_revenue_changed(
    record: LeadRecord, previous: LeadRecord, meta: EventMeta
) -> NewEvent:
    return _event(
        OPPORTUNITY_REVENUE_CHANGED,
        record,
        meta,
        from_expected_revenue=previous.expected_revenue,
        to_expected_revenue=record.expected_revenue,
        **_probabilities(previous, record),
    )


def user_deactivated(record: UserRecord, meta: EventMeta) -> NewEvent:
    return _event(USER_DEACTIVATED, record, meta)


def user_reactivated(record: UserRecord, meta: EventMeta) -> NewEvent:
    return _event(USER_REACTIVATED, record, meta)


def employee_manager_changed(
    record: EmployeeRecord, previous: EmployeeRecord, meta: EventMeta
) -> NewEvent:
    return _event(
        EMPLOYEE_MANAGER_CHANGED,
        record,
        meta,
        from_parent_id=previous.parent_id,
        to_parent_id=record.parent_id,
    )


def employee_user_link_changed(
    record: EmployeeRecord, previous: EmployeeRecord, meta: EventMeta
) -> NewEvent:
    return _event(
        EMPLOYEE_USER_LINK_CHANGED,
        record,
        meta,
        from_user_id=previous.user_id,
        to_user_id=record.user_id,
    )


def employee_archived(record: EmployeeRecord, meta: EventMeta) -> NewEvent:
    return _event(EMPLOYEE_ARCHIVED, record, meta)


def employee_restored(record: EmployeeRecord, meta: EventMeta) -> NewEvent:
    return _event(EMPLOYEE_RESTORED, record, meta)


def canonical_model(model: str) -> str:
    """``hr.employee.public`` -> ``hr.employee``; other ingested models unchanged."""
    canonical = CANONICAL_MODEL.get(model)
    if canonical is None:
        raise ValueError(f"unknown model {model!r}")
    return canonical
