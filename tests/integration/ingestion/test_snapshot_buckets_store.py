"""The bucketed snapshot store on the real embedded store: concurrent writers of one
bucket, and the conversion of the layout before buckets (one document per record)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.ingestion import RawVersion, Snapshot
from domain.normalize import normalize
from infrastructure.ingestion import snapshots as snapshot_module
from infrastructure.ingestion.snapshot_buckets import BUCKET_SIZE, LayoutError, Policy
from infrastructure.ingestion.snapshot_restore import has_snapshots
from infrastructure.ingestion.snapshots import (
    LATEST,
    LEGACY_LATEST,
    MAX_ATTEMPTS,
    RAW,
    MongoSnapshotStore,
    SnapshotContention,
)
from tests.unit.sync.fakes import lead

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def snap(odoo_id: int, name: str, version: int) -> Snapshot:
    record = normalize("crm.lead", lead(odoo_id, name=name))
    return Snapshot("crm.lead", odoo_id, f"h-{name}", record, version, NOW, None)


def raw(odoo_id: int, name: str) -> RawVersion:
    return RawVersion("crm.lead", odoo_id, f"h-{name}", lead(odoo_id, name=name), NOW, "sync")


def legacy_doc(odoo_id: int, name: str, version: int, **extra: Any) -> dict[str, Any]:
    """A snapshot document as the code before buckets wrote it."""
    return {
        "_id": f"crm.lead:{odoo_id}", "model": "crm.lead", "odoo_id": odoo_id,
        "hash": f"h-{name}", "live": True, "version": version, "received_at": NOW,
        "write_date": "2026-05-01 11:00:00", "raw": lead(odoo_id, name=name), "source": "sync",
        **extra,
    }  # fmt: skip


async def test_concurrent_writers_of_one_bucket_lose_nothing(mongo_db: Any) -> None:
    first = MongoSnapshotStore(mongo_db)
    await first.ensure_indexes()
    writers = [MongoSnapshotStore(mongo_db) for _ in range(BUCKET_SIZE)]
    # Every record of one bucket, each by its own writer, all at once, twice over: the
    # second round replaces existing buckets (compare and swap) rather than inserting.
    for version in (1, 2):
        await asyncio.gather(
            *(
                w.save([snap(i, f"n{i}v{version}", version)], [raw(i, f"n{i}v{version}")])
                for i, w in enumerate(writers, BUCKET_SIZE)  # ids 16..31: bucket 1
            )
        )
        ids = list(range(BUCKET_SIZE, 2 * BUCKET_SIZE))
        latest = await first.latest("crm.lead", ids)
        assert {i: s.content_hash for i, s in latest.items()} == {
            i: f"h-n{i}v{version}" for i in ids
        }
    assert await mongo_db[LATEST].count_documents({}) == 1
    # The first versions were set aside when the second replaced them.
    assert await first.known_versions("crm.lead", [16]) == {(16, "h-n16v1"), (16, "h-n16v2")}


async def test_racing_versions_of_one_record_end_at_the_highest(mongo_db: Any) -> None:
    store = MongoSnapshotStore(mongo_db)
    await store.ensure_indexes()
    writers = [MongoSnapshotStore(mongo_db) for _ in range(8)]
    await asyncio.gather(
        *(w.save([snap(5, f"v{v}", v)], [raw(5, f"v{v}")]) for v, w in enumerate(writers, 1))
    )
    assert (await store.latest("crm.lead", [5]))[5].stream_version == 8
    versions = await store.raw_versions("crm.lead", 5)
    assert sorted(v["hash"] for v in versions) == sorted(f"h-v{v}" for v in range(1, 9))
    assert versions[-1]["hash"] == "h-v8"  # the latest last


async def test_the_layout_before_buckets_is_converted_when_the_store_opens(mongo_db: Any) -> None:
    legacy = mongo_db[LEGACY_LATEST]
    rebuilt = normalize("crm.lead", lead(4, name="from the log")).to_dict()
    await legacy.insert_many(
        [
            legacy_doc(1, "one", 1),
            legacy_doc(2, "two-old", 1),  # a bucket holds version 2 already: it stays
            legacy_doc(3, "gone", 2, live=False, raw=None, source=None, hash="deleted"),
            legacy_doc(4, "x", 3, raw=None, source=None, hash="h-log", record=rebuilt),
            legacy_doc(40, "forty", 5),
            *(legacy_doc(100 + i, f"n{i}", 1) for i in range(2_500)),  # several batches
        ]
    )
    store = MongoSnapshotStore(mongo_db)
    await store.save([snap(2, "two-new", 2)], [raw(2, "two-new")])  # before the conversion
    await store.ensure_indexes()

    assert LEGACY_LATEST not in await mongo_db.list_collection_names()
    latest = await store.latest("crm.lead", [1, 2, 3, 4, 40, 5, 2_599])
    assert {i: (s.content_hash, s.stream_version) for i, s in latest.items()} == {
        1: ("h-one", 1), 2: ("h-two-new", 2), 3: ("deleted", 2), 4: ("h-log", 3),
        40: ("h-forty", 5), 2_599: ("h-n2499", 1),
    }  # fmt: skip
    assert latest[1].record == normalize("crm.lead", lead(1, name="one"))
    assert latest[1].received_at == NOW and latest[1].write_date == "2026-05-01 11:00:00"
    assert latest[3].deleted and latest[4].record is not None
    assert latest[4].record.to_dict() == rebuilt
    assert len(await store.live_ids("crm.lead")) == 2_500 + 4  # 1, 2, 4, 40 and the batch
    # The older version the conversion did not take is kept among the raw versions.
    assert await store.known_versions("crm.lead", [2]) == {(2, "h-two-old"), (2, "h-two-new")}
    await store.ensure_indexes()  # nothing left to convert: a no-op
    assert (await store.latest("crm.lead", [1]))[1].content_hash == "h-one"


async def test_a_conversion_cut_before_its_deletes_is_finished_at_the_next_open(
    mongo_db: Any,
) -> None:
    store = MongoSnapshotStore(mongo_db)
    await store.ensure_indexes()
    # The buckets were written, the crash came before the old documents were deleted; one
    # record was ingested again since (version 2).
    await store.save([snap(1, "one", 1), snap(2, "two-v2", 2)], [raw(1, "one"), raw(2, "two-v2")])
    await mongo_db[LEGACY_LATEST].insert_many([legacy_doc(1, "one", 1), legacy_doc(2, "two", 1)])
    await MongoSnapshotStore(mongo_db).ensure_indexes()
    latest = await store.latest("crm.lead", [1, 2])
    assert (latest[1].content_hash, latest[2].content_hash) == ("h-one", "h-two-v2")
    assert LEGACY_LATEST not in await mongo_db.list_collection_names()
    assert await mongo_db[RAW].count_documents({}) == 1  # "two" v1, set aside once


async def test_an_old_collection_holding_something_else_stops_the_conversion(
    mongo_db: Any,
) -> None:
    await mongo_db[LEGACY_LATEST].insert_many(
        [legacy_doc(1, "one", 1), {"_id": "crm.lead:2", "note": "not a snapshot"}]
    )
    with pytest.raises(ValueError, match="not a snapshot of the layout before buckets"):
        await MongoSnapshotStore(mongo_db).ensure_indexes()
    assert await mongo_db[LEGACY_LATEST].count_documents({}) == 2  # nothing deleted


async def test_a_bucket_of_another_layout_is_refused(mongo_db: Any) -> None:
    store = MongoSnapshotStore(mongo_db)
    await store.ensure_indexes()
    await mongo_db[LATEST].insert_one(
        {"_id": "crm.lead/0", "model": "crm.lead", "rev": 1, "entries": {"1": {}}}
    )
    with pytest.raises(LayoutError):
        await store.latest("crm.lead", [1])
    with pytest.raises(LayoutError):
        await store.save([snap(1, "one", 1)], [raw(1, "one")])


async def test_a_save_after_a_read_notices_a_bucket_changed_in_between(mongo_db: Any) -> None:
    """``latest`` remembers the buckets it read for the save that follows; a bucket another
    writer changed (or created) in between is read again, not overwritten."""
    mine, other = MongoSnapshotStore(mongo_db), MongoSnapshotStore(mongo_db)
    await mine.ensure_indexes()
    assert await mine.latest("crm.lead", [17, 33]) == {}  # remembered: neither bucket stored
    await other.save([snap(18, "created meanwhile", 1), snap(34, "x", 1)], [])
    await mine.latest("crm.lead", [1])
    await other.save([snap(2, "two", 1)], [raw(2, "two")])
    await mine.save([snap(1, "one", 1), snap(17, "seventeen", 1)], [])
    latest = await mine.latest("crm.lead", [1, 2, 17, 18, 34])
    assert {i: s.content_hash for i, s in latest.items()} == {
        1: "h-one",
        2: "h-two",
        17: "h-seventeen",
        18: "h-created meanwhile",
        34: "h-x",
    }


async def test_an_old_document_written_during_its_conversion_is_converted_next_round(
    mongo_db: Any,
) -> None:
    """A process of the code before buckets writes a newer version of a record while this
    one converts it: the delete spares it (its version moved on) and the next round of the
    same conversion converts it."""
    legacy = mongo_db[LEGACY_LATEST]
    await legacy.insert_many([legacy_doc(1, "one", 1), legacy_doc(2, "two", 1)])
    rounds = 0

    class Interleaved(MongoSnapshotStore):
        async def _write(self, pending: Any, policy: Policy) -> int:
            nonlocal rounds
            placed = await super()._write(pending, policy)
            rounds += 1
            if rounds == 1:  # between the bucket write and the delete
                await legacy.replace_one({"_id": "crm.lead:2"}, legacy_doc(2, "two-v2", 2))
            return placed

    store = Interleaved(mongo_db)
    await store.ensure_indexes()
    assert rounds == 2
    latest = await store.latest("crm.lead", [1, 2])
    assert (latest[1].content_hash, latest[2].content_hash) == ("h-one", "h-two-v2")
    assert latest[2].stream_version == 2
    assert LEGACY_LATEST not in await mongo_db.list_collection_names()


async def test_snapshots_of_the_old_layout_count_as_snapshots(mongo_db: Any) -> None:
    assert not await has_snapshots(mongo_db)
    await mongo_db[LEGACY_LATEST].insert_one(legacy_doc(1, "one", 1))
    assert await has_snapshots(mongo_db)  # not converted yet: an import must not rebuild


async def test_rebuilt_snapshots_only_fill_gaps_and_are_counted(mongo_db: Any) -> None:
    store = MongoSnapshotStore(mongo_db)
    await store.ensure_indexes()
    await store.save([snap(1, "from odoo", 1)], [raw(1, "from odoo")])
    from_log = [snap(1, "from the log", 3), snap(2, "two", 1), snap(40, "forty", 2)]
    assert await store.fill_missing(from_log) == 2
    latest = await store.latest("crm.lead", [1, 2, 40])
    assert {i: s.content_hash for i, s in latest.items()} == {
        1: "h-from odoo",
        2: "h-two",
        40: "h-forty",
    }
    assert latest[2].record == from_log[1].record  # kept as the record: there is no raw row
    assert await store.fill_missing(from_log) == 0


async def test_the_buckets_remembered_for_the_next_save_stay_bounded(
    mongo_db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshot_module, "SEEN_LIMIT", 4)
    store = MongoSnapshotStore(mongo_db)
    await store.ensure_indexes()
    for first in range(1, 96, BUCKET_SIZE):  # six reads of one bucket each (0-5)
        await store.latest("crm.lead", [first])
    assert list(store._seen) == [f"crm.lead/{b}" for b in (2, 3, 4, 5)]  # the newest four
    await store.latest("crm.lead", [i * BUCKET_SIZE + 1 for i in range(10, 15)])
    assert len(store._seen) == 4  # a read of more buckets than the limit is not kept
    await store.save([snap(65, "x", 1)], [])  # bucket 4: taken out by its save
    assert "crm.lead/4" not in store._seen
    assert (await store.latest("crm.lead", [65]))[65].content_hash == "h-x"


async def test_a_save_that_never_wins_its_buckets_fails_clearly(mongo_db: Any) -> None:
    class AlwaysOvertaken(MongoSnapshotStore):
        attempts = 0

        async def _replace(self, writes: Any, token: str) -> set[str]:
            # Nothing written: as if another writer got there first, every time.
            self.attempts += bool(writes)
            return {doc["_id"] for _, doc in writes}

    store = AlwaysOvertaken(mongo_db)
    await store.ensure_indexes()
    await store.save([snap(1, "one", 1)], [])  # an insert: not overtaken
    with pytest.raises(SnapshotContention, match=r"crm\.lead/0 kept changing"):
        await store.save([snap(1, "two", 2)], [])
    assert store.attempts == MAX_ATTEMPTS
    assert (await store.latest("crm.lead", [1]))[1].content_hash == "h-one"  # unchanged
