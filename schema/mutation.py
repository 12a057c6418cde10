"""``type Mutation``: admin commands, handed to the injected ``Commands``."""

from __future__ import annotations

import strawberry
from strawberry import UNSET

from domain.sync import SyncAlreadyRunning
from domain.sync import SyncMode as DomainSyncMode
from projections.framework import RebuildInProgress
from schema import described
from schema.context import Context
from schema.errors import BadUserInput
from schema.inputs import given
from schema.permissions import require_admin
from schema.types.admin import ProjectionStatus, SyncRun
from schema.types.enums import SyncMode

Info = strawberry.Info[Context]
MAX_NAMES = 50


@strawberry.type
class Mutation:
    @described.mutation(
        "Admin only. wait: return once the run finished and every projection has "
        "caught up to its last event. Only one sync runs at a time."
    )
    async def sync_odoo(
        self, info: Info, mode: SyncMode | None = SyncMode.INCREMENTAL, wait: bool | None = True
    ) -> SyncRun:
        await require_admin(info.context)
        chosen = DomainSyncMode((mode or SyncMode.INCREMENTAL).value)
        try:
            run = await info.context.commands.sync(chosen, True if wait is None else wait)
        except SyncAlreadyRunning as exc:
            raise BadUserInput(str(exc)) from None
        return SyncRun.from_run(run)

    @described.mutation("Admin only. No names: every projection.")
    async def rebuild_projections(
        self, info: Info, names: list[str] | None = UNSET
    ) -> list[ProjectionStatus]:
        await require_admin(info.context)
        names = given(names)
        if names is not None and len(names) > MAX_NAMES:
            raise BadUserInput(f"at most {MAX_NAMES} names")
        try:
            statuses = await info.context.commands.rebuild(names)
        except RebuildInProgress as exc:
            raise BadUserInput(f"a rebuild of {exc} is already running") from None
        return [ProjectionStatus.from_data(s) for s in statuses]
