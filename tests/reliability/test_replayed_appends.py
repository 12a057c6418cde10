"""A commit replayed after a crash must be recognised by its idempotency key.

Ingestion appends a record's change with the exact expected version ``v`` and the key
``model:id:v:hash`` and only then saves the snapshot. If the process dies in between (kill
-9 mid-sync), the next run replays the same append: "replaying the same change ... hits the
key and stores nothing new", on both stores. (The MongoDB store once compared the expected
version with the stream's head first and answered ConcurrencyError, which the ingestor
retried against the same stale snapshot until it gave up: that record could never be synced
again.)
"""

from __future__ import annotations

from typing import Any

import pytest

from domain.event_store import EventStore
from domain.events import NewEvent, StreamRef
from domain.ingestion import Ingestor
from infrastructure.bootstrap import SystemClock
from infrastructure.eventstore.memory import InMemoryEventStore
from infrastructure.eventstore.mongo import MongoEventStore
from infrastructure.ingestion.snapshots import MongoSnapshotStore

STREAM = StreamRef("stage", "4")


async def _replay(store: EventStore, fresh: EventStore) -> bool:
    await store.append(STREAM, [NewEvent("A", {})], 0, idempotency_key="k1")
    await store.append(STREAM, [NewEvent("B", {})], 1, idempotency_key="k2")
    await store.append(STREAM, [NewEvent("C", {})], 2, idempotency_key="k3")
    again = await fresh.append(STREAM, [NewEvent("B", {})], 1, idempotency_key="k2")
    return again.duplicate and again.first_version == 2


async def test_the_in_memory_store_answers_a_replay_as_a_duplicate() -> None:
    store = InMemoryEventStore()
    assert await _replay(store, store)


async def test_the_mongo_store_answers_a_replay_as_a_duplicate(mongo_db: Any) -> None:
    store = MongoEventStore(mongo_db)
    await store.ensure_indexes()
    assert await _replay(store, MongoEventStore(mongo_db))  # a restarted process


STAGE = {"id": 4, "name": "Proposal", "sequence": 1, "is_won": False, "fold": False,
         "write_date": "2026-03-02 09:00:00"}  # fmt: skip


async def test_a_crash_between_append_and_snapshot_does_not_wedge_the_record(
    mongo_db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    events, snapshots = MongoEventStore(mongo_db), MongoSnapshotStore(mongo_db)
    for part in (events, snapshots):
        await part.ensure_indexes()
    await Ingestor(events, snapshots, SystemClock()).ingest_rows("crm.stage", [STAGE], source="t")
    renamed = {**STAGE, "name": "Proposal (renamed)"}

    async def killed(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("kill -9 between the append and the snapshot")

    with monkeypatch.context() as patch:
        patch.setattr(snapshots, "save", killed)
        with pytest.raises(ConnectionError):
            await Ingestor(events, snapshots, SystemClock()).ingest_rows(
                "crm.stage", [renamed], source="t"
            )
    restarted = Ingestor(MongoEventStore(mongo_db), snapshots, SystemClock())
    stats = await restarted.ingest_rows("crm.stage", [renamed], source="t")  # the next sync
    assert stats.events_appended == 0  # the change was already recorded: nothing new
    assert (await snapshots.latest("crm.stage", [4]))[4].stream_version == 2
