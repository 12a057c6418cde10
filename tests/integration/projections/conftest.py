"""The whole write side on real parts: built-in Odoo -> sync -> event store -> projections."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from domain.ingestion import Ingestor
from domain.sync import SyncHandler, SyncMode, SyncOdoo, SyncRun, SyncStatus
from infrastructure.bootstrap import SystemClock
from infrastructure.eventstore.mongo import MongoEventStore
from infrastructure.ingestion.runs import MongoSyncRunRepository
from infrastructure.ingestion.snapshots import MongoSnapshotStore
from infrastructure.odoo import OdooClient
from infrastructure.odoo_fake import FakeOdoo, OdooClock
from projections.catalog import PROJECTIONS
from projections.framework import Notification, ProjectionRunner, RunnerConfig, active_collection


@pytest.fixture(scope="session")
def northwind() -> Iterator[FakeOdoo]:
    with FakeOdoo(version="19.0", clock=OdooClock("2026-03-02 09:00:00")) as fake:
        yield fake


@dataclass
class Pipeline:
    odoo: FakeOdoo
    db: Any
    events: MongoEventStore
    sync_handler: SyncHandler
    runner: ProjectionRunner
    published: list[Notification] = field(default_factory=list)

    async def sync(self, mode: SyncMode = SyncMode.INCREMENTAL) -> SyncRun:
        run = await self.sync_handler(SyncOdoo(mode, "test"))
        assert run.status is SyncStatus.SUCCEEDED, run.error
        head = await self.events.head_position()
        assert await self.runner.wait_until(head, timeout=60), await self.runner.status()
        return run

    async def doc(self, projection: str, collection: str, key: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = await (
            await active_collection(self.db, projection, collection)
        ).find_one({"_id": key})
        return found

    def channels(self) -> set[str]:
        return {n.channel for n in self.published}


def fresh_demo_client(northwind: FakeOdoo) -> OdooClient:
    """The demo company reset to its first state, and a client of it (close it after)."""
    northwind.clock.freeze("2026-03-02 09:00:00")
    northwind.reset()
    return OdooClient(
        northwind.url, northwind.db, northwind.login, northwind.api_key, protocol="json2"
    )


@pytest.fixture
async def pipeline(northwind: FakeOdoo, mongo_db: Any) -> AsyncIterator[Pipeline]:
    client = fresh_demo_client(northwind)
    events = MongoEventStore(mongo_db)
    snapshots, runs = MongoSnapshotStore(mongo_db), MongoSyncRunRepository(mongo_db)
    for part in (events, snapshots, runs):
        await part.ensure_indexes()
    published: list[Notification] = []

    async def publish(notes: Sequence[Notification]) -> None:
        published.extend(notes)

    runner = ProjectionRunner(
        mongo_db,
        events,
        PROJECTIONS,
        publish=publish,
        config=RunnerConfig(poll_interval=0.1, backoff_initial=0.05),
    )
    ingestor = Ingestor(events, snapshots, SystemClock(), after_append=runner.notify)
    handler = SyncHandler(client, ingestor, runs, SystemClock())
    await runner.start()
    yield Pipeline(northwind, mongo_db, events, handler, runner, published)
    await runner.stop()
    await client.aclose()
