"""Normalized Odoo records: the state that domain events carry and projections fold.

Odoo's wire values (``false`` for empty, ``[id, name]`` many2one pairs, naive UTC datetime
strings) are converted once, at ingestion, into these plain records. Dates are kept as ISO
strings (``YYYY-MM-DD``) and datetimes as ISO-8601 UTC strings (``YYYY-MM-DDTHH:MM:SSZ``) so
that a record round-trips through JSON and BSON unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, Self, TypeVar


class OpportunityStatus(StrEnum):
    OPEN = "OPEN"
    WON = "WON"
    LOST = "LOST"
    ARCHIVED = "ARCHIVED"


class Record:
    """Mixin: dict round-trip for frozen dataclass records."""

    def to_dict(self) -> dict[str, Any]:
        # Not ``dataclasses.asdict``: its recursive deep copy was a third of a sync's CPU in
        # Pulse (27 vs 1.6 us per lead, several calls per record ingested). Every field is a
        # scalar or a tuple of scalars, so a new list per tuple is the whole copy needed.
        data: dict[str, Any] = {}
        for name in _field_order(type(self)):
            value = getattr(self, name)
            data[name] = list(value) if type(value) is tuple else value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        names = _field_names(cls)
        kwargs = {}
        for key, value in data.items():
            if key in names:
                kwargs[key] = tuple(value) if isinstance(value, list) else value
        return cls(**kwargs)


_FIELD_NAMES: dict[type, frozenset[str]] = {}
_FIELD_ORDER: dict[type, tuple[str, ...]] = {}


def _field_order(cls: type) -> tuple[str, ...]:
    order = _FIELD_ORDER.get(cls)
    if order is None:
        order = _FIELD_ORDER[cls] = tuple(f.name for f in fields(cls))
    return order


def _field_names(cls: type) -> frozenset[str]:
    # Cached per class: ``dataclasses.fields`` re-introspects the class on every call, and
    # projections build a record per event they fold.
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = frozenset(f.name for f in fields(cls))
    return names


@dataclass(frozen=True, slots=True)
class UserRecord(Record):
    """``res.users``. ``share = True`` marks portal/public accounts, which are never users."""

    odoo_id: int
    login: str
    name: str
    email: str | None = None
    active: bool = True
    share: bool = False
    company_id: int | None = None


@dataclass(frozen=True, slots=True)
class EmployeeRecord(Record):
    """``hr.employee`` (or ``hr.employee.public``): the org chart's nodes."""

    odoo_id: int
    name: str
    user_id: int | None = None
    parent_id: int | None = None
    work_email: str | None = None
    active: bool = True
    department_id: int | None = None
    company_id: int | None = None


@dataclass(frozen=True, slots=True)
class StageRecord(Record):
    odoo_id: int
    name: str
    sequence: int = 1
    is_won: bool = False
    fold: bool = False


@dataclass(frozen=True, slots=True)
class TeamRecord(Record):
    odoo_id: int
    name: str
    leader_user_id: int | None = None
    member_user_ids: tuple[int, ...] = ()
    active: bool = True


@dataclass(frozen=True, slots=True)
class PartnerRecord(Record):
    odoo_id: int
    name: str
    is_company: bool = False
    email: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class LeadRecord(Record):
    """``crm.lead``. Only ``type == 'opportunity'`` is pipeline; leads are kept, never counted."""

    odoo_id: int
    name: str
    type: str = "opportunity"
    user_id: int | None = None
    team_id: int | None = None
    stage_id: int | None = None
    partner_id: int | None = None
    expected_revenue: float = 0.0
    probability: float = 0.0
    date_deadline: str | None = None
    date_closed: str | None = None
    create_date: str | None = None
    write_date: str | None = None
    active: bool = True
    lost_reason_id: int | None = None
    company_id: int | None = None

    @property
    def is_opportunity(self) -> bool:
        return self.type == "opportunity"

    @property
    def weighted_revenue(self) -> float:
        return self.expected_revenue * self.probability / 100.0


def opportunity_status(lead: LeadRecord, stage_is_won: bool) -> OpportunityStatus:
    """PRODUCT.md §3: WON if active in a won stage; LOST if archived at probability 0;
    ARCHIVED if archived otherwise; OPEN otherwise."""
    if lead.active:
        return OpportunityStatus.WON if stage_is_won else OpportunityStatus.OPEN
    if lead.probability == 0:
        return OpportunityStatus.LOST
    return OpportunityStatus.ARCHIVED


R = TypeVar("R", bound=Record)
