"""SyncOdoo semantics on in-memory adapters: cursors, look-back, dedupe, deletions, failures."""

from __future__ import annotations

import pytest

from domain.catalog import stream_for
from domain.ingestion import Ingestor
from domain.normalize import LEAD, STAGE, USER
from domain.sync import SyncAlreadyRunning, SyncHandler, SyncMode, SyncOdoo, SyncStatus
from infrastructure.eventstore.memory import InMemoryEventStore
from infrastructure.ingestion.runs import InMemorySyncRunRepository
from infrastructure.ingestion.snapshots import InMemorySnapshotStore
from tests.unit.sync.fakes import FakeClock, MemoryGateway, lead, stage, user

World = tuple[MemoryGateway, InMemoryEventStore, InMemorySyncRunRepository, SyncHandler]


@pytest.fixture
def world() -> World:
    odoo = MemoryGateway()
    odoo.put(STAGE, stage(1, "New", 1))
    odoo.put(STAGE, stage(2, "Won", 9, is_won=True))
    odoo.put(USER, user(7, "rep@x.example"))
    for i in range(1, 6):
        odoo.put(LEAD, lead(i, write_date=f"2026-01-01 09:00:0{i}"))
    events = InMemoryEventStore()
    runs = InMemorySyncRunRepository()
    clock = FakeClock()
    ingestor = Ingestor(events, InMemorySnapshotStore(), clock)
    handler = SyncHandler(odoo, ingestor, runs, clock, page_size=2, models=(STAGE, USER, LEAD))
    return odoo, events, runs, handler


async def test_first_sync_appends_one_appeared_event_per_record(world: World) -> None:
    odoo, events, runs, sync = world
    run = await sync(SyncOdoo(SyncMode.INCREMENTAL, "test"))
    assert run.status is SyncStatus.SUCCEEDED, run.error
    assert run.stats.fetched == 8 and run.stats.created == 8 and run.stats.events_appended == 8
    types = [e.type for e in await events.read_after(0)]
    assert types.count("OpportunityAppeared") == 5 and types.count("StageAppeared") == 2
    assert run.cursors[LEAD] == "2026-01-01 09:00:05"
    assert (await runs.cursors())[LEAD] == "2026-01-01 09:00:05"


async def test_a_second_unchanged_sync_appends_nothing(world: World) -> None:
    odoo, events, runs, sync = world
    await sync(SyncOdoo())
    head = await events.head_position()
    again = await sync(SyncOdoo())
    assert again.stats.events_appended == 0 and again.stats.unchanged == again.stats.fetched
    full = await sync(SyncOdoo(SyncMode.FULL))
    assert full.stats.events_appended == 0
    assert await events.head_position() == head


async def test_incremental_uses_the_cursor_with_a_look_back_window(world: World) -> None:
    odoo, events, runs, sync = world
    await sync(SyncOdoo())
    odoo.calls.clear()
    # A long transaction commits late: its write_date is before the cursor, inside look-back.
    odoo.put(LEAD, lead(9, write_date="2026-01-01 08:58:00", expected_revenue=5.0))
    # A same-second tie with the cursor record.
    odoo.put(LEAD, lead(10, write_date="2026-01-01 09:00:05"))
    run = await sync(SyncOdoo())
    lead_calls = [d for m, d in odoo.calls if m == LEAD]
    assert lead_calls[0] == [["write_date", ">=", "2026-01-01 08:55:05"]]
    assert run.stats.created == 2
    ids = {e.stream_id for e in await events.read_after(0) if e.type == "OpportunityAppeared"}
    assert {"9", "10"} <= ids


async def test_changes_become_specific_events_and_won_uses_stage_flags(world: World) -> None:
    odoo, events, runs, sync = world
    await sync(SyncOdoo())
    head = await events.head_position()
    odoo.put(
        LEAD, lead(1, stage_id=[2, "Won"], probability=100.0, write_date="2026-01-01 10:00:00")
    )
    odoo.put(LEAD, lead(2, expected_revenue=2500.0, write_date="2026-01-01 10:00:01"))
    odoo.put(LEAD, lead(3, active=False, probability=0.0, write_date="2026-01-01 10:00:02"))
    run = await sync(SyncOdoo())
    assert run.stats.updated == 3 and run.stats.archived == 1
    new = {(e.stream_id, e.type) for e in await events.read_after(head)}
    assert new == {
        ("1", "OpportunityWon"),
        ("2", "OpportunityRevenueChanged"),
        ("3", "OpportunityLost"),
    }


async def test_full_sync_detects_deletions(world: World) -> None:
    odoo, events, runs, sync = world
    await sync(SyncOdoo())
    odoo.delete(LEAD, 4)
    incremental = await sync(SyncOdoo())
    assert incremental.stats.deleted == 0  # deletions leave no trace in incremental reads
    full = await sync(SyncOdoo(SyncMode.FULL))
    assert full.stats.deleted == 1
    last = (await events.read_stream(stream_for(LEAD, 4)))[-1]
    assert last.type == "OpportunityDeleted"


async def test_a_failed_run_keeps_the_cursor_and_is_recorded(world: World) -> None:
    odoo, events, runs, sync = world
    await sync(SyncOdoo())
    before = await runs.cursors()
    odoo.put(LEAD, lead(1, name="Renamed", write_date="2026-01-02 00:00:00"))
    odoo.fail_on = LEAD
    run = await sync(SyncOdoo())
    assert run.status is SyncStatus.FAILED and "unreachable" in (run.error or "")
    assert await runs.cursors() == before
    odoo.fail_on = None
    retry = await sync(SyncOdoo())
    assert retry.status is SyncStatus.SUCCEEDED and retry.stats.updated == 1


async def test_only_one_run_at_a_time(world: World) -> None:
    odoo, events, runs, sync = world
    runs.holder = "someone-else"
    with pytest.raises(SyncAlreadyRunning):
        await sync(SyncOdoo())


async def test_malformed_rows_are_rejected_and_counted(world: World) -> None:
    odoo, events, runs, sync = world
    odoo.put(LEAD, lead(20, expected_revenue="lots"))
    run = await sync(SyncOdoo())
    assert run.status is SyncStatus.SUCCEEDED
    assert run.stats.rejected == 1
    assert (
        run.stats.rejections[0].odoo_id == 20
        and "expected_revenue" in run.stats.rejections[0].reason
    )
