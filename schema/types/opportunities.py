"""Opportunities, their stages and history, and the paginated connection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON

from domain.events import RecordedEvent
from domain.metrics import round_money, to_units
from projections.read_models import OpportunityDoc, StageDoc, StageListDoc
from schema import described
from schema.context import Context
from schema.json_values import to_json
from schema.readers.history import read_history
from schema.types.enums import ChangeKind, OpportunityStatus
from schema.types.people import UserProfile


def money(value: float) -> float:
    """PRODUCT.md §3: money is output rounded to 2 decimals, by the domain's rule (the decimal
    the float prints as, half away from zero: 250.555 -> 250.56, not float rounding's .55).

    Stored values are mostly rounded already (a dashboard's sums, Odoo's amounts): a float
    that prints with at most two decimals is its own rounding, and the exact path (two
    Decimal operations) was a twentieth of a big dashboard's CPU. ``tests/unit/schema/
    test_money.py`` checks both paths agree."""
    number = float(value)
    text = repr(number)
    dot = text.find(".")
    if dot > 0 and len(text) - dot <= 3 and "e" not in text:
        return number if number != 0 else 0.0  # the exact path turns -0.0 into 0.0 too
    return round_money(to_units(number))


@strawberry.type
class Stage:
    id: strawberry.ID
    odoo_id: int
    name: str
    sequence: int
    is_won: bool

    @classmethod
    def from_doc(cls, doc: StageDoc | StageListDoc) -> Stage:
        return cls(
            id=strawberry.ID(doc.id),
            odoo_id=doc.odoo_id,
            name=doc.name,
            sequence=doc.sequence,
            is_won=doc.is_won,
        )


@strawberry.type
class Account:
    odoo_id: int
    name: str


@strawberry.type
class SalesTeam:
    odoo_id: int
    name: str


@strawberry.type
class HistoryEntry:
    type: str
    occurred_at: datetime
    position: int
    data: JSON

    @classmethod
    def from_event(cls, event: RecordedEvent) -> HistoryEntry:
        return cls(
            type=event.type,
            occurred_at=event.occurred_at,
            position=event.position,
            data=to_json(event.data),
        )


@strawberry.type
class Opportunity:
    """Only ever built for a caller who may see it (``schema.visibility``)."""

    id: strawberry.ID
    odoo_id: int
    name: str
    status: OpportunityStatus
    expected_revenue: float
    probability: float
    weighted_revenue: float
    stage: Stage | None
    account: Account | None
    team: SalesTeam | None
    deadline: date | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # Read with the node (``schema.readers.opportunities.opportunity_nodes``: one read for a
    # page's salespeople), not by a resolver: an async resolver per node made graphql-core
    # complete every node of a page through coroutines and tasks, half of a page's CPU.
    salesperson: UserProfile | None  # null when unassigned or not readable by the caller

    @described.field("The opportunity's events, newest first.")
    async def history(
        self, info: strawberry.Info[Context], first: int | None = 50
    ) -> list[HistoryEntry]:
        events = await read_history(info.context.events, self.odoo_id, first)
        return [HistoryEntry.from_event(e) for e in events]

    @classmethod
    def from_doc(cls, doc: OpportunityDoc, salesperson: UserProfile | None) -> Opportunity:
        return cls(
            id=strawberry.ID(doc.id),
            odoo_id=doc.odoo_id,
            name=doc.name,
            status=OpportunityStatus(doc.status),
            expected_revenue=money(doc.expected_revenue),
            probability=doc.probability,
            weighted_revenue=money(doc.weighted_revenue),
            stage=None if doc.stage is None else Stage.from_doc(doc.stage),
            account=(
                None
                if doc.account is None
                else Account(odoo_id=doc.account.odoo_id, name=doc.account.name)
            ),
            team=(
                None
                if doc.team is None
                else SalesTeam(odoo_id=doc.team.odoo_id, name=doc.team.name)
            ),
            deadline=None if doc.deadline is None else date.fromisoformat(doc.deadline),
            closed_at=doc.closed_at,
            created_at=doc.created_at,
            updated_at=doc.updated_at,
            salesperson=salesperson,
        )


@strawberry.input
class OpportunityFilter:
    """Every given field must match (AND). Leaving a field out does not filter on it; an
    empty list matches nothing."""

    status: list[OpportunityStatus] | None = strawberry.field(
        default=UNSET, description="Default: OPEN, WON and LOST (ARCHIVED only when asked)"
    )
    stage_ids: list[strawberry.ID] | None = UNSET
    salesperson_ids: list[strawberry.ID] | None = UNSET
    search: str | None = strawberry.field(
        default=UNSET, description="Case-insensitive, in the name and account"
    )
    min_revenue: float | None = UNSET
    deadline_before: date | None = strawberry.field(default=UNSET, description="Exclusive")
    deadline_after: date | None = strawberry.field(default=UNSET, description="Exclusive")


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class OpportunityEdge:
    cursor: str
    node: Opportunity


async def _total_count(root: OpportunityConnection) -> int:
    return await root.total()


@strawberry.type
class OpportunityConnection:
    # A resolver, so that the count is only made when a client selects it.
    total_count: int = strawberry.field(resolver=_total_count)
    page_info: PageInfo
    edges: list[OpportunityEdge]
    total: strawberry.Private[Callable[[], Awaitable[int]]]


@strawberry.type
class OpportunityChange:
    kind: ChangeKind
    opportunity_id: strawberry.ID
    opportunity: Opportunity | None
    position: int
