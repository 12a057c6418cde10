"""SyncOdoo semantics on in-memory adapters: cursors, look-back, dedupe, deletions, failures."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from domain.catalog import stream_for
from domain.ingestion import Ingestor
from domain.normalize import LEAD, STAGE, USER
from domain.sync import (
    PAGES_IN_FLIGHT,
    SyncAlreadyRunning,
    SyncHandler,
    SyncMode,
    SyncOdoo,
    SyncStatus,
)
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


class PacedIngestor(Ingestor):
    """Records how many pages are being ingested at once; can fail one page."""

    def __init__(self, *args: Any, fail_page: int | None = None) -> None:
        super().__init__(*args)
        self.running = 0
        self.most = 0
        self.pages: list[tuple[str, str]] = []  # (event, first row's id) in time order
        self.fail_page = fail_page

    async def ingest_rows(self, model: str, rows: Any, **kwargs: Any) -> Any:
        first = str(rows[0].get("id"))
        self.running += 1
        self.most = max(self.most, self.running)
        self.pages.append(("start", f"{model}:{first}"))
        try:
            await asyncio.sleep(0.01)  # the store's writes
            if self.fail_page is not None and model == LEAD and rows[0]["id"] == self.fail_page:
                raise RuntimeError("the store went away")
            return await super().ingest_rows(model, rows, **kwargs)
        finally:
            self.running -= 1
            self.pages.append(("end", f"{model}:{first}"))


def paced_world(fail_page: int | None = None) -> tuple[SyncHandler, PacedIngestor, Any]:
    odoo = MemoryGateway()
    odoo.put(STAGE, stage(1, "New", 1))
    for i in range(1, 8):
        odoo.put(LEAD, lead(i, write_date=f"2026-01-01 09:00:0{i}"))
    events = InMemoryEventStore()
    clock = FakeClock()
    ingestor = PacedIngestor(events, InMemorySnapshotStore(), clock, fail_page=fail_page)
    handler = SyncHandler(
        odoo, ingestor, InMemorySyncRunRepository(), clock, page_size=2, models=(STAGE, LEAD)
    )
    return handler, ingestor, events


async def test_the_next_page_is_ingested_while_the_store_writes_the_previous_one() -> None:
    sync, ingestor, events = paced_world()
    run = await sync(SyncOdoo(SyncMode.FULL))
    assert run.status is SyncStatus.SUCCEEDED, run.error
    assert run.stats.fetched == 8 and run.stats.created == 8
    assert ingestor.most == PAGES_IN_FLIGHT == 3  # three pages at once, never more
    starts = [page for kind, page in ingestor.pages if kind == "start"]
    assert starts == ["crm.stage:1", "crm.lead:1", "crm.lead:3", "crm.lead:5", "crm.lead:7"]
    # a model's pages overlap; the next model starts once the previous one is done
    assert ingestor.pages.index(("start", "crm.lead:3")) < ingestor.pages.index(
        ("end", "crm.lead:1")
    )
    assert ingestor.pages.index(("end", "crm.stage:1")) < ingestor.pages.index(
        ("start", "crm.lead:1")
    )
    assert len([e for e in await events.read_after(0) if e.type == "OpportunityAppeared"]) == 7


async def test_a_failed_page_fails_the_run_after_the_other_pages_have_finished() -> None:
    sync, ingestor, events = paced_world(fail_page=3)
    run = await sync(SyncOdoo(SyncMode.FULL))
    assert run.status is SyncStatus.FAILED and "internal error" in (run.error or "")
    assert ingestor.running == 0  # nothing left running behind the failed run
    # the pages in flight ran to their end
    assert {("end", "crm.lead:5"), ("end", "crm.lead:7")} <= set(ingestor.pages)
    appeared = {e.data["record"]["odoo_id"] for e in await events.read_after(0)
                if e.type == "OpportunityAppeared"}  # fmt: skip
    assert appeared == {1, 2, 5, 6, 7}  # page 3-4 failed; nothing half-written
