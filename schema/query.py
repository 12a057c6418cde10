"""``type Query`` (PRODUCT.md §4): thin resolvers over ``schema.readers``."""

from __future__ import annotations

import strawberry
from strawberry import UNSET

from projections.read_models import STAGES, StageListDoc
from schema import described
from schema.context import Context
from schema.errors import check_range
from schema.inputs import given
from schema.permissions import require_admin
from schema.readers.dashboards import current_dashboard
from schema.readers.events import explore_events
from schema.readers.opportunities import find_opportunity, list_opportunities
from schema.readers.profiles import org_chart, readable_profile, viewer_profile
from schema.selection import selects
from schema.types.admin import EventConnection, EventFilter, ProjectionStatus, SyncRun
from schema.types.dashboard import Dashboard
from schema.types.enums import OpportunityOrder
from schema.types.opportunities import (
    Opportunity,
    OpportunityConnection,
    OpportunityFilter,
    Stage,
)
from schema.types.people import OrgNode, UserProfile

Info = strawberry.Info[Context]
MAX_SYNC_RUNS = 100


@strawberry.type
class Query:
    @described.field("Null for an admin who is not an Odoo user.")
    async def viewer(self, info: Info) -> UserProfile | None:
        return await viewer_profile(info.context)

    @strawberry.field
    async def dashboard(self, info: Info) -> Dashboard:
        return await current_dashboard(info.context)

    @strawberry.field
    async def opportunities(
        self,
        info: Info,
        filter: OpportunityFilter | None = UNSET,
        order_by: OpportunityOrder | None = OpportunityOrder.UPDATED_DESC,
        first: int | None = 50,
        after: str | None = UNSET,
    ) -> OpportunityConnection:
        return await list_opportunities(
            info.context, given(filter), order_by, first, given(after),
            count_early=selects(info, "totalCount"),
        )  # fmt: skip

    @described.field("Null when unknown or not visible.")
    async def opportunity(self, info: Info, id: strawberry.ID) -> Opportunity | None:
        return await find_opportunity(info.context, str(id))

    @described.field("Null when unknown or not visible.")
    async def user(self, info: Info, id: strawberry.ID) -> UserProfile | None:
        return await readable_profile(info.context, str(id))

    @described.field("The viewer's subtree, viewer first; admins: the whole org.")
    async def org_chart(self, info: Info) -> list[OrgNode]:
        return await org_chart(info.context)

    @described.field("Ordered by sequence, then name.")
    async def stages(self, info: Info) -> list[Stage]:
        await info.context.session.caller()
        collection = await info.context.read_models.collection(STAGES)
        docs = [StageListDoc.model_validate(d) async for d in collection.find({})]
        docs.sort(key=lambda s: (s.sequence, s.name.casefold(), s.odoo_id))
        return [Stage.from_doc(d) for d in docs]

    @described.field("Admin only. Newest first.")
    async def sync_runs(self, info: Info, last: int | None = 10) -> list[SyncRun]:
        await require_admin(info.context)
        count = check_range("last", 10 if last is None else last, 0, MAX_SYNC_RUNS)
        if count == 0:
            return []
        runs = await info.context.commands.recent_runs(count)
        return [SyncRun.from_run(r) for r in runs[:count]]

    @described.field("Admin only.")
    async def projections(self, info: Info) -> list[ProjectionStatus]:
        await require_admin(info.context)
        statuses = await info.context.commands.projection_statuses()
        return [ProjectionStatus.from_data(s) for s in statuses]

    @described.field("Admin only. The cursor is the event's position.")
    async def events(
        self,
        info: Info,
        filter: EventFilter | None = UNSET,
        first: int | None = 100,
        after: str | None = UNSET,
    ) -> EventConnection:
        await require_admin(info.context)
        return await explore_events(info.context, given(filter), first, given(after))
