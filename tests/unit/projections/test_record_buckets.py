"""``RecordSet`` keeps a projection's records in buckets of consecutive ids: far fewer
documents than records, each record's own position (so a replay skips exactly what a stored
record contains, deletions included), and the per-record layout before buckets still read
and replaced."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.events import RecordedEvent
from domain.model import LeadRecord, StageRecord
from domain.normalize import STAGE
from projections.framework import ProjectionContext
from projections.records import BUCKET_SIZE, RecordSet, bucket_key
from tests.unit.projections.events import EventLog
from tests.unit.projections_framework.fakes import FakeDb

BASE = "things_refs"


def ctx(db: FakeDb) -> ProjectionContext:
    return ProjectionContext(db, 1)  # type: ignore[arg-type]


def stored(db: FakeDb) -> dict[Any, dict[str, Any]]:
    return db[f"{BASE}__g1"].docs


def names(records: RecordSet) -> dict[int, str]:
    return {i: r.name for i, r in records.all(STAGE).items() if isinstance(r, StageRecord)}


def folded(events: list[RecordedEvent]) -> RecordSet:
    records = RecordSet(BASE)
    for event in events:
        records.apply(event)
    return records


async def loaded(db: FakeDb) -> RecordSet:
    records = RecordSet(BASE)
    await records.load(ctx(db))
    return records


def history(ids: list[int]) -> EventLog:
    """Each stage appears, is renamed, and every third one is deleted again."""
    log = EventLog()
    for i in ids:
        log.put(StageRecord(i, f"s{i}"))
    for i in ids:
        log.put(StageRecord(i, f"s{i}-renamed"))
    for i in ids[::3]:
        log.delete(STAGE, i)
    return log


def test_records_share_a_document_per_bucket_and_load_back() -> None:
    async def run() -> None:
        db = FakeDb()
        ids = [1, 2, BUCKET_SIZE - 1, BUCKET_SIZE, 5 * BUCKET_SIZE + 3]
        records = folded(history(ids).events)
        await records.flush(ctx(db))
        assert (
            set(stored(db))
            == {bucket_key(STAGE, i) for i in ids}
            == {f"{STAGE}/0", f"{STAGE}/1", f"{STAGE}/5"}
        )
        expected = {i: f"s{i}-renamed" for i in ids if i not in ids[::3]}
        assert names(records) == expected
        assert names(await loaded(db)) == expected

    asyncio.run(run())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.integers(1, 3 * BUCKET_SIZE), min_size=1, max_size=12, unique=True),
    st.integers(0, 200),
)
def test_a_replay_after_any_flush_applies_exactly_the_events_not_stored(
    ids: list[int], cut: int
) -> None:
    async def run() -> None:
        events = history(ids).events
        cut_at = cut % (len(events) + 1)
        db = FakeDb()
        first = folded(events[:cut_at])
        await first.flush(ctx(db))
        # A crash, then a restart from a checkpoint older than everything: the whole log again.
        again = await loaded(db)
        applied = [e.position for e in events if again.apply(e) is not None]
        assert applied == [e.position for e in events[cut_at:]]
        await again.flush(ctx(db))
        whole = folded(events)
        assert names(again) == names(whole) == names(await loaded(db))

    asyncio.run(run())


def test_a_deleted_record_is_not_recreated_by_a_replay_of_its_older_events() -> None:
    async def run() -> None:
        db = FakeDb()
        log = EventLog()
        log.put(StageRecord(7, "seven"))
        log.put(StageRecord(8, "eight"))
        log.delete(STAGE, 7)
        records = folded(log.events)
        await records.flush(ctx(db))
        again = await loaded(db)
        assert [again.apply(e) for e in log.events] == [None, None, None]
        assert names(again) == {8: "eight"}

    asyncio.run(run())


def legacy_doc(event: RecordedEvent, name: str) -> dict[str, Any]:
    """A record as the layout before buckets stored it: one document per record."""
    odoo_id = int(event.data["odoo_id"])
    record = StageRecord(odoo_id, name).to_dict()
    return {"_id": f"{STAGE}:{odoo_id}", "_pos": event.position, "model": STAGE,
            "odoo_id": odoo_id, "record": record}  # fmt: skip


def test_the_layout_before_buckets_is_read_and_replaced_at_the_next_flush() -> None:
    async def run() -> None:
        db = FakeDb()
        log = EventLog()
        for i in (1, 2, 40):
            log.put(StageRecord(i, f"s{i}"))
        log.put(StageRecord(2, "two"))
        old = stored(db)
        for event in log.events[:3]:
            old[f"{STAGE}:{event.data['odoo_id']}"] = legacy_doc(event, f"s{event.data['odoo_id']}")
        records = await loaded(db)
        assert names(records) == {1: "s1", 2: "s2", 40: "s40"}
        assert all(records.apply(e) is None for e in log.events[:3])  # already stored
        assert records.apply(log.events[3]) is not None
        await records.flush(ctx(db))
        assert set(stored(db)) == {bucket_key(STAGE, 1), bucket_key(STAGE, 40)}  # old ones gone
        assert names(await loaded(db)) == {1: "s1", 2: "two", 40: "s40"}

    asyncio.run(run())


def test_a_record_left_behind_by_a_cut_flush_of_the_old_layout_is_still_written() -> None:
    """An unordered bulk write cut by a crash may store one record's newer version and not
    another's: the bucket made of both must still accept the replayed event of the second."""

    async def run() -> None:
        db = FakeDb()
        log = EventLog()
        log.put(StageRecord(1, "one"))  # position 1
        log.put(StageRecord(2, "two"))  # position 2
        log.put(StageRecord(1, "one-b"))  # position 3: stored
        log.put(StageRecord(2, "two-b"))  # position 4: its write was lost
        log.put(StageRecord(1, "one-c"))  # position 5: stored
        events = log.events
        old = stored(db)
        old[f"{STAGE}:1"] = legacy_doc(events[4], "one-c")
        old[f"{STAGE}:2"] = legacy_doc(events[1], "two")
        records = await loaded(db)
        await records.flush(ctx(db))  # the converted bucket alone, before any replay
        records = await loaded(db)
        applied = [e.position for e in events if records.apply(e) is not None]
        assert applied == [4]
        await records.flush(ctx(db))
        assert names(await loaded(db)) == {1: "one-c", 2: "two-b"}

    asyncio.run(run())


def test_a_conversion_cut_between_its_write_and_the_deletes_loads_the_newest() -> None:
    async def run() -> None:
        db = FakeDb()
        log = EventLog()
        log.put(StageRecord(3, "three"))
        log.put(StageRecord(3, "three-b"))
        stored(db)[f"{STAGE}:3"] = legacy_doc(log.events[0], "three")
        records = await loaded(db)
        records.apply(log.events[1])
        await records.flush(ctx(db))
        stored(db)[f"{STAGE}:3"] = legacy_doc(log.events[0], "three")  # the delete never ran
        assert names(await loaded(db)) == {3: "three-b"}

    asyncio.run(run())


def test_a_bucket_is_stored_as_text_that_gives_back_the_exact_records() -> None:
    """Two text values per bucket (the embedded store walks every stored value); floats and
    ``None`` come back exactly."""

    async def run() -> None:
        db = FakeDb()
        log = EventLog()
        lead = LeadRecord(
            odoo_id=3, name="Big deal", type="opportunity", user_id=9, stage_id=2,
            expected_revenue=1234.5678901234567, probability=33.333333333333336,
            write_date="2026-01-02T03:04:05Z",
        )  # fmt: skip
        log.put(lead)
        records = folded(log.events)
        await records.flush(ctx(db))
        doc = stored(db)[bucket_key("crm.lead", 3)]
        assert isinstance(doc["records"], str) and isinstance(doc["at"], str)
        assert (await loaded(db)).lead(3) == lead

    asyncio.run(run())


def test_a_record_whose_first_write_a_cut_flush_lost_is_written_when_replayed() -> None:
    """The old layout's flush stored one record and lost the other's very first write (it
    has no document at all, at a lower position): converting, then replaying, stores it."""

    async def run() -> None:
        db = FakeDb()
        log = EventLog()
        log.put(StageRecord(2, "two"))  # position 1: its write was lost
        log.put(StageRecord(1, "one"))  # position 2: stored
        stored(db)[f"{STAGE}:1"] = legacy_doc(log.events[1], "one")
        records = await loaded(db)
        await records.flush(ctx(db))  # the conversion is written before the replay
        records = await loaded(db)
        assert [e.position for e in log.events if records.apply(e) is not None] == [1]
        await records.flush(ctx(db))
        assert names(await loaded(db)) == {1: "one", 2: "two"}

    asyncio.run(run())


def test_a_bucket_of_another_layout_is_refused_at_load_not_misread() -> None:
    async def run() -> None:
        records = folded(history([1, 2]).events)
        db = FakeDb()
        await records.flush(ctx(db))
        doc = stored(db)[bucket_key(STAGE, 1)]
        moved = {**doc, "_id": f"{STAGE}/9"}  # as if written with another bucket size
        del stored(db)[bucket_key(STAGE, 1)]
        stored(db)[moved["_id"]] = moved
        with pytest.raises(ValueError, match="rebuild this projection"):
            await loaded(db)
        stored(db)[moved["_id"]] = {**doc, "records": json.loads(doc["records"])}  # not text
        with pytest.raises(ValueError, match="not the JSON text"):
            await loaded(db)

    asyncio.run(run())
