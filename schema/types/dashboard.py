"""The per-viewer dashboard (PRODUCT.md §3 "Dashboard"), from ``DashboardDoc``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import strawberry

from projections.read_models import MetricsDoc, TeamRowDoc
from schema.context import Context
from schema.readers.profiles import required_profiles, viewer_profile
from schema.session import Caller
from schema.types.enums import DashboardScope
from schema.types.opportunities import Stage, money
from schema.types.people import UserProfile
from schema.visibility import reads_profile


@strawberry.type
class Metrics:
    total_count: int
    open_count: int
    won_count: int
    lost_count: int
    pipeline_value: float
    weighted_pipeline_value: float
    won_value: float
    win_rate: float | None = strawberry.field(description="A fraction from 0 to 1")
    average_deal_size: float | None

    @classmethod
    def from_doc(cls, doc: MetricsDoc | TeamRowDoc) -> Metrics:
        return cls(
            total_count=doc.total_count,
            open_count=doc.open_count,
            won_count=doc.won_count,
            lost_count=doc.lost_count,
            pipeline_value=money(doc.pipeline_value),
            weighted_pipeline_value=money(doc.weighted_pipeline_value),
            won_value=money(doc.won_value),
            win_rate=doc.win_rate,
            average_deal_size=(
                None if doc.average_deal_size is None else money(doc.average_deal_size)
            ),
        )


@strawberry.type
class StageMetrics:
    stage: Stage
    count: int
    value: float


@strawberry.type
class SalespersonMetrics:
    metrics: Metrics
    salesperson: UserProfile


async def _team(root: Dashboard, info: strawberry.Info[Context]) -> list[SalespersonMetrics]:
    # Plain fields below this one: a resolver per row (up to every user's row for a CEO or
    # an admin) cost several times the rest of the dashboard.
    rows = root.team_rows
    caller = await info.context.session.caller()
    # Rows carry the salesperson as shown; only rows of the earlier stored form (no name)
    # are completed from the profiles, in one read.
    older = [row.salesperson_id for row in rows if row.name is None]
    found = dict(zip(older, await required_profiles(info.context, older), strict=True))
    return [
        SalespersonMetrics(
            metrics=Metrics.from_doc(row), salesperson=_salesperson(caller, row, found)
        )
        for row in rows
    ]


def _salesperson(caller: Caller, row: TeamRowDoc, found: Mapping[str, UserProfile]) -> UserProfile:
    sid = row.salesperson_id
    if row.name is None:
        return found[sid]
    if not reads_profile(caller, sid):
        return UserProfile.placeholder(sid)  # as required_profiles answers for such a row
    return UserProfile(
        id=strawberry.ID(sid), email=row.email or "", name=row.name, active=bool(row.active)
    )


@strawberry.type
class Dashboard:
    scope: DashboardScope
    metrics: Metrics
    by_stage: list[StageMetrics]
    team: list[SalespersonMetrics] = strawberry.field(resolver=_team)
    team_rows: strawberry.Private[Sequence[TeamRowDoc]]
    as_of: int = strawberry.field(description="The event-store position this reflects")
    updated_at: datetime

    @strawberry.field
    async def viewer(self, info: strawberry.Info[Context]) -> UserProfile | None:
        return await viewer_profile(info.context)
