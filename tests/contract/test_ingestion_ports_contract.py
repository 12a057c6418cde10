"""Contract of the ingestion ports (snapshot store, sync-run repository): memory and Mongo."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from domain.ingestion import RawVersion, Snapshot
from domain.model import LeadRecord
from domain.normalize import normalize
from domain.sync import SyncMode, SyncRun, SyncStatus
from infrastructure.ingestion.runs import InMemorySyncRunRepository, MongoSyncRunRepository
from infrastructure.ingestion.snapshots import InMemorySnapshotStore, MongoSnapshotStore
from tests.unit.sync.fakes import lead

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "mongo"])
async def ports(
    request: pytest.FixtureRequest, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[tuple[Any, Any]]:
    if request.param == "memory":
        yield InMemorySnapshotStore(), InMemorySyncRunRepository()
        return
    name = f"t_{uuid.uuid4().hex[:12]}"
    db = mongo_client[name]
    snaps, runs = MongoSnapshotStore(db), MongoSyncRunRepository(db)
    await snaps.ensure_indexes()
    await runs.ensure_indexes()
    yield snaps, runs
    await mongo_client.drop_database(name)


def row(odoo_id: int, name: str) -> dict[str, Any]:
    return lead(odoo_id, name=name, expected_revenue=5.0)


def snap(odoo_id: int, name: str, version: int, deleted: bool = False) -> Snapshot:
    record = None if deleted else normalize("crm.lead", row(odoo_id, name))
    return Snapshot("crm.lead", odoo_id, f"h-{name}", record, version, NOW, "2026-05-01 11:00:00")


def raw(odoo_id: int, name: str, source: str = "sync") -> RawVersion:
    return RawVersion("crm.lead", odoo_id, f"h-{name}", row(odoo_id, name), NOW, source)


async def test_snapshots_latest_live_ids_and_raw_versions(ports: tuple[Any, Any]) -> None:
    store, _ = ports
    await store.save(
        [snap(1, "a", 1), snap(2, "b", 1), snap(3, "c", 2, deleted=True)],
        [raw(1, "a"), raw(2, "b")],
    )
    latest = await store.latest("crm.lead", [1, 2, 3, 4])
    assert set(latest) == {1, 2, 3}
    assert latest[1].record == normalize("crm.lead", row(1, "a"))
    assert isinstance(latest[1].record, LeadRecord) and latest[1].record.name == "a"
    assert latest[1].content_hash == "h-a" and latest[1].stream_version == 1
    assert latest[3].deleted
    assert await store.live_ids("crm.lead") == {1, 2}
    assert {s.odoo_id for s in await store.all_live("crm.lead")} == {1, 2}
    assert await store.live_ids("crm.stage") == set()
    # A newer version replaces the latest; raw versions are write-once and accumulate.
    await store.save([snap(1, "a2", 2)], [raw(1, "a2")])
    assert (await store.latest("crm.lead", [1]))[1].content_hash == "h-a2"
    assert await store.known_versions("crm.lead", [1, 2]) == {(1, "h-a"), (1, "h-a2"), (2, "h-b")}


async def test_a_late_older_snapshot_does_not_replace_a_newer_one(ports: tuple[Any, Any]) -> None:
    """Two writers of one record (a webhook and a sync): the one that appended the newer
    version may save first; the older save neither replaces it nor loses its raw version."""
    store, _ = ports
    await store.save([snap(1, "v2", 2)], [raw(1, "v2")])
    await store.save([snap(1, "v1", 1)], [raw(1, "v1")])
    latest = (await store.latest("crm.lead", [1]))[1]
    assert latest.content_hash == "h-v2" and latest.stream_version == 2
    assert await store.known_versions("crm.lead", [1]) == {(1, "h-v1"), (1, "h-v2")}
    # The same version again (fields no event records changed) is a refresh: it replaces.
    await store.save([snap(1, "v2b", 2)], [raw(1, "v2b")])
    assert (await store.latest("crm.lead", [1]))[1].content_hash == "h-v2b"


async def test_only_one_sync_run_holds_the_lock(ports: tuple[Any, Any]) -> None:
    _, runs = ports
    await runs.set_cursors({"crm.lead": "2026-05-01 10:00:00"})  # a neighbour document
    first = SyncRun("r1", SyncMode.FULL, "cli", SyncStatus.RUNNING, NOW)
    second = SyncRun("r2", SyncMode.INCREMENTAL, "scheduler", SyncStatus.RUNNING, NOW)
    results = await asyncio.gather(runs.try_start(first), runs.try_start(second))
    assert sorted(results) == [False, True]
    winner, loser = (first, second) if results[0] else (second, first)
    assert not await runs.try_start(loser)
    winner.status, winner.finished_at = SyncStatus.SUCCEEDED, NOW
    winner.stats.fetched = 12
    await runs.finish(winner)
    assert await runs.try_start(loser)  # released
    assert await runs.cursors() == {"crm.lead": "2026-05-01 10:00:00"}
    recent = await runs.recent(10)
    assert {r.id for r in recent} == {"r1", "r2"}
    done = next(r for r in recent if r.id == winner.id)
    assert done.status is SyncStatus.SUCCEEDED and done.stats.fetched == 12


async def test_cursors_round_trip(ports: tuple[Any, Any]) -> None:
    _, runs = ports
    assert await runs.cursors() == {}
    await runs.set_cursors({"crm.lead": "2026-05-01 10:00:00"})
    assert await runs.cursors() == {"crm.lead": "2026-05-01 10:00:00"}


async def test_a_lock_left_by_a_crashed_run_expires(mongo_db: Any) -> None:
    from datetime import timedelta

    runs = MongoSyncRunRepository(mongo_db, lease=timedelta(milliseconds=300))
    crashed = SyncRun("crashed", SyncMode.FULL, "cli", SyncStatus.RUNNING, NOW)
    assert await runs.try_start(crashed)  # ...and its process dies without finish()
    nxt = SyncRun("next", SyncMode.FULL, "cli", SyncStatus.RUNNING, NOW)
    assert not await runs.try_start(nxt)
    await asyncio.sleep(0.4)
    assert await runs.try_start(nxt)
    old = next(r for r in await runs.recent(5) if r.id == "crashed")
    assert old.status is SyncStatus.FAILED and "interrupted" in (old.error or "")
