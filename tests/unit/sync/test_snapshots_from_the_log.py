"""The ingestion snapshots can be rebuilt from the event log alone (events-only restore)."""

from __future__ import annotations

from dataclasses import replace

from domain.ingestion import Ingestor
from domain.normalize import LEAD, STAGE, USER
from domain.sync import SyncHandler, SyncMode, SyncOdoo, SyncStatus
from infrastructure.bootstrap import build_upcasters
from infrastructure.eventstore.memory import InMemoryEventStore
from infrastructure.ingestion.runs import InMemorySyncRunRepository
from infrastructure.ingestion.snapshot_restore import SnapshotCollector
from infrastructure.ingestion.snapshots import InMemorySnapshotStore
from tests.unit.sync.fakes import FakeClock, MemoryGateway, lead, stage, user


async def test_the_log_gives_back_every_snapshot_ingestion_holds() -> None:
    odoo = MemoryGateway()
    odoo.put(STAGE, stage(1, "New", 1))
    odoo.put(STAGE, stage(2, "Won", 9, is_won=True))
    odoo.put(USER, user(7, "rep@x.example"))
    for i in range(1, 7):
        odoo.put(LEAD, lead(i, write_date=f"2026-01-01 09:00:0{i}"))
    events, snapshots, clock = InMemoryEventStore(), InMemorySnapshotStore(), FakeClock()
    sync = SyncHandler(odoo, Ingestor(events, snapshots, clock), InMemorySyncRunRepository(),
                       clock, models=(STAGE, USER, LEAD))  # fmt: skip
    assert (await sync(SyncOdoo(SyncMode.FULL))).status is SyncStatus.SUCCEEDED
    odoo.put(LEAD, lead(2, stage_id=[2, "Won"], write_date="2026-01-02 09:00:00"))
    odoo.put(LEAD, lead(3, active=False, write_date="2026-01-02 09:00:00"))
    odoo.put(STAGE, {**stage(1, "Fresh", 1), "write_date": "2026-01-02 09:00:00"})
    odoo.delete(LEAD, 4)
    assert (await sync(SyncOdoo(SyncMode.FULL))).status is SyncStatus.SUCCEEDED

    collector = SnapshotCollector(build_upcasters())
    for event in await events.read_after(0):
        collector.add(event)
    rebuilt = collector.collected()
    assert set(rebuilt) == set(snapshots.snapshots)
    for key, held in snapshots.snapshots.items():
        got = rebuilt[key]
        assert (got.content_hash, got.stream_version, got.record) == (
            held.content_hash,
            held.stream_version,
            held.record,
        ), key
    assert rebuilt[(LEAD, 4)].deleted and collector.unreadable == 0


async def test_an_unreadable_record_event_leaves_that_record_out_until_a_readable_one() -> None:
    events = InMemoryEventStore()
    snapshots = InMemorySnapshotStore()
    await Ingestor(events, snapshots, FakeClock()).ingest_rows(LEAD, [lead(1), lead(2)], source="t")
    first, second = await events.read_after(0)
    collector = SnapshotCollector(build_upcasters())
    collector.add(replace(first, data={}))  # no record in it
    collector.add(replace(second, schema_version=99))  # newer than this code
    assert collector.collected() == {} and collector.unreadable == 2
    collector.add(first)  # a later, readable event of the same record carries it whole
    assert set(collector.collected()) == {(LEAD, 1)} and collector.unreadable == 1
