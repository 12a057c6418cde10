"""A LIVE batch leaves the projections' own records (``<name>_refs``) for later
(``RunnerConfig.records_later``): they are written once the log is quiet, the checkpoint
says how far they are stored, and a runner that stops before writing them folds those
events again on its next start, so the next change is computed from the right records.
Real sync from the built-in Odoo, real embedded store."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest

from domain.ingestion import Ingestor
from domain.normalize import LEAD
from domain.sync import SyncHandler, SyncMode, SyncOdoo, SyncStatus
from infrastructure.bootstrap import SystemClock
from infrastructure.eventstore.mongo import MongoEventStore
from infrastructure.ingestion.runs import MongoSyncRunRepository
from infrastructure.ingestion.snapshots import MongoSnapshotStore
from infrastructure.odoo import OdooClient
from infrastructure.odoo_fake import FakeOdoo
from projections.catalog import PROJECTIONS
from projections.check import check
from projections.framework import (
    Checkpoints,
    ProjectionRunner,
    ProjectionState,
    RunnerConfig,
    active_collection,
)
from projections.framework.checkpoints import Checkpoint
from projections.records import bucket_key
from tests.integration.projections.conftest import fresh_demo_client
from tests.integration.projections_framework.test_idle_checkpoints import until

pytestmark = pytest.mark.integration

DASHBOARDS = "dashboard_metrics"
# Records left for later stay so for the whole test unless it says otherwise.
PATIENT = RunnerConfig(
    poll_interval=0.1, backoff_initial=0.05, idle_checkpoint_delay=30, idle_checkpoint_max_age=60
)


@dataclass
class Parts:
    odoo: FakeOdoo
    db: Any
    events: MongoEventStore
    client: OdooClient

    @asynccontextmanager
    async def runner(self, config: RunnerConfig) -> AsyncIterator[Callable[[], Any]]:
        """A started runner; yields ``sync()`` (incremental, then waits for every projection)."""
        runner = ProjectionRunner(self.db, self.events, PROJECTIONS, config=config)
        snapshots, runs = MongoSnapshotStore(self.db), MongoSyncRunRepository(self.db)
        for part in (snapshots, runs):
            await part.ensure_indexes()
        ingestor = Ingestor(self.events, snapshots, SystemClock(), after_append=runner.notify)
        handler = SyncHandler(self.client, ingestor, runs, SystemClock())

        async def sync() -> int:
            run = await handler(SyncOdoo(SyncMode.INCREMENTAL, "test"))
            assert run.status is SyncStatus.SUCCEEDED, run.error
            head = await self.events.head_position()
            assert await runner.wait_until(head, timeout=60), await runner.status()
            return head

        await runner.start()
        try:
            yield sync
        finally:
            await runner.stop()


@pytest.fixture
async def parts(northwind: FakeOdoo, mongo_db: Any) -> AsyncIterator[Parts]:
    client = fresh_demo_client(northwind)
    events = MongoEventStore(mongo_db)
    await events.ensure_indexes()
    yield Parts(northwind, mongo_db, events, client)
    await client.aclose()


async def checkpoint_of(db: Any, name: str = DASHBOARDS) -> Checkpoint:
    checkpoint = await Checkpoints(db).get(name)
    assert checkpoint is not None
    return checkpoint


async def dashboards_live(db: Any) -> bool:
    return (await checkpoint_of(db)).state is ProjectionState.LIVE


async def records_caught_up(db: Any) -> bool:
    checkpoint = await checkpoint_of(db)
    return checkpoint.records_position == checkpoint.position


def an_open_deal(odoo: FakeOdoo) -> dict[str, Any]:
    won = odoo.demo.won_stage_id
    return next(
        r
        for r in odoo.records(LEAD, [["type", "=", "opportunity"]])
        if r["active"] and r["user_id"] and r["stage_id"] and r["stage_id"] != won
    )


async def stored_at(db: Any, projection: str, lead_id: int) -> int:
    """The position of the lead's record in the projection's stored records (-1: none)."""
    refs = await active_collection(db, projection, f"{projection}_refs")
    bucket = await refs.find_one({"_id": bucket_key(LEAD, lead_id)})
    if bucket is None:
        return -1
    return int(json.loads(bucket["at"]).get(str(lead_id), -1))


async def written_at(db: Any, lead_id: int, position: int) -> bool:
    return await stored_at(db, DASHBOARDS, lead_id) >= position


async def change_stage(parts: Parts, deal: dict[str, Any]) -> None:
    stages = [s["id"] for s in parts.odoo.records("crm.stage", []) if not s.get("is_won")]
    current = deal["stage_id"]
    new = next(s for s in stages if s != current)
    parts.odoo.clock.advance(60)
    parts.odoo.write(LEAD, [deal["id"]], {"stage_id": new})
    deal["stage_id"] = new


async def one_live_change(parts: Parts, sync: Callable[[], Any]) -> tuple[dict[str, Any], int]:
    """A full sync, the projections LIVE, then one deal's stage changed and synced: the deal
    and the head position after it."""
    await sync()
    await until(lambda: dashboards_live(parts.db), seconds=20)
    deal = an_open_deal(parts.odoo)
    await change_stage(parts, deal)
    return deal, await sync()


async def test_a_live_change_leaves_the_records_for_later_and_they_follow_once_quiet(
    parts: Parts,
) -> None:
    quiet = RunnerConfig(poll_interval=0.1, backoff_initial=0.05, idle_checkpoint_delay=0.5)
    async with parts.runner(quiet) as sync:
        deal, head = await one_live_change(parts, sync)
        # The dashboards are written (wait_until), the records not yet.
        checkpoint = await checkpoint_of(parts.db)
        assert checkpoint.position >= head
        assert checkpoint.records_position is not None and checkpoint.records_position < head
        assert await stored_at(parts.db, DASHBOARDS, deal["id"]) < head
        assert await stored_at(parts.db, "opportunity_view", deal["id"]) < head
        # Once quiet (0.5 s), written, and the checkpoint says so.
        await until(lambda: written_at(parts.db, deal["id"], head))
        await until(lambda: records_caught_up(parts.db))
        assert await stored_at(parts.db, "opportunity_view", deal["id"]) >= head


async def test_records_left_unwritten_by_a_stop_are_folded_again_at_the_next_start(
    parts: Parts,
) -> None:
    async with parts.runner(PATIENT) as sync:
        deal, first = await one_live_change(parts, sync)
        assert await stored_at(parts.db, DASHBOARDS, deal["id"]) < first
    # Stopped without writing them: the checkpoint is past the change, the records not.
    checkpoint = await checkpoint_of(parts.db)
    assert checkpoint.position >= first
    assert checkpoint.resume_position < first
    async with parts.runner(PATIENT) as sync:
        # The same deal again: its old stage must come from the first change, which the
        # stored records lack. Folded from them, the first change would be lost.
        await change_stage(parts, deal)
        await sync()
        report = await check(parts.db, parts.events)
        assert report.clean, report.differences[:20]
        assert report.compared > 50
