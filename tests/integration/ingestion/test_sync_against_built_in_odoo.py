"""SyncOdoo against the built-in Odoo over real HTTP, for every protocol a deployment meets
(19.0 over JSON-2 and JSON-RPC, 17.0 over JSON-RPC), on the real embedded store."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.catalog import stream_for
from domain.normalize import EMPLOYEE, LEAD
from domain.sync import SyncMode, SyncOdoo, SyncStatus
from tests.integration.ingestion.conftest import Stack

pytestmark = pytest.mark.integration


async def types_after(stack: Stack, position: int) -> list[tuple[str, str]]:
    return [(e.stream_id, e.type) for e in await stack.events.read_after(position, 100_000)]


async def test_full_sync_then_unchanged_syncs_append_nothing(stack: Stack) -> None:
    run = await stack.sync(SyncOdoo(SyncMode.FULL, "test"))
    assert run.status is SyncStatus.SUCCEEDED, run.error
    demo = stack.odoo.demo
    assert run.stats.created >= len(demo.leads) + len(demo.users)
    assert run.stats.events_appended == run.stats.created
    head = await stack.events.head_position()
    assert head == run.stats.events_appended
    for mode in (SyncMode.INCREMENTAL, SyncMode.FULL):
        again = await stack.sync(SyncOdoo(mode, "test"))
        assert again.status is SyncStatus.SUCCEEDED
        assert again.stats.events_appended == 0 and again.stats.created == 0
    assert await stack.events.head_position() == head
    # Records of type lead are ingested too (kept, never counted by projections).
    leads = await stack.snapshots.all_live(LEAD)
    assert any(getattr(s.record, "type", None) == "lead" for s in leads)


async def test_incremental_catches_same_second_ties_and_late_commits(stack: Stack) -> None:
    odoo, demo = stack.odoo, stack.odoo.demo
    await stack.sync(SyncOdoo())
    odoo.clock.advance(3600)
    lead_a, lead_b, lead_c = (demo.leads[k] for k in sorted(demo.leads)[:3])
    odoo.write(LEAD, [lead_a], {"name": "Tie A"})
    run = await stack.sync(SyncOdoo())
    cursor = run.cursors[LEAD]
    # Same second as the cursor, written after the sync read it:
    odoo.write(LEAD, [lead_b], {"name": "Tie B"})
    # A long transaction commits late, with a write_date two minutes before the cursor:
    late = odoo.clock.now().replace(microsecond=0) - timedelta(minutes=2)
    odoo.write(LEAD, [lead_c], {"expected_revenue": 424242.0}, at=late)
    head = await stack.events.head_position()
    second = await stack.sync(SyncOdoo())
    assert second.status is SyncStatus.SUCCEEDED
    new = await types_after(stack, head)
    assert (str(lead_b), "OpportunityDetailsChanged") in new
    assert (str(lead_c), "OpportunityRevenueChanged") in new
    assert all(sid != str(lead_a) for sid, _ in new), "re-read of the look-back was deduped"
    assert second.cursors[LEAD] >= cursor


async def test_archived_lost_won_and_deleted(stack: Stack) -> None:
    odoo, demo = stack.odoo, stack.odoo.demo
    await stack.sync(SyncOdoo())
    open_leads = [
        s.odoo_id
        for s in await stack.snapshots.all_live(LEAD)
        if s.record is not None
        and s.record.active
        and s.record.type == "opportunity"
        and s.record.stage_id != demo.won_stage_id
        and s.record.probability > 0
    ]
    archived, lost, won, gone = open_leads[:4]
    odoo.clock.advance(60)
    odoo.archive(LEAD, [archived])
    odoo.mark_lost([lost])
    odoo.mark_won([won])
    odoo.unlink(LEAD, [gone])
    head = await stack.events.head_position()
    incremental = await stack.sync(SyncOdoo())
    assert incremental.stats.archived == 2 and incremental.stats.deleted == 0
    full = await stack.sync(SyncOdoo(SyncMode.FULL))
    assert full.stats.deleted == 1
    new = set(await types_after(stack, head))
    assert {
        (str(archived), "OpportunityArchived"),
        (str(lost), "OpportunityLost"),
        (str(won), "OpportunityWon"),
        (str(gone), "OpportunityDeleted"),
    } <= new
    assert (str(archived), "OpportunityLost") not in new


async def test_employees_are_read_from_the_public_model_when_hr_is_denied(stack: Stack) -> None:
    stack.odoo.deny(EMPLOYEE)
    run = await stack.sync(SyncOdoo())
    assert run.status is SyncStatus.SUCCEEDED, run.error
    assert stack.client.employee_model == "hr.employee.public"
    employees = await stack.snapshots.all_live(EMPLOYEE)
    assert len(employees) >= len(stack.odoo.demo.employees) - 1


async def test_a_flaky_server_is_retried(stack: Stack) -> None:
    stack.odoo.fail_next(2, kind="status", status=502)
    run = await stack.sync(SyncOdoo())
    assert run.status is SyncStatus.SUCCEEDED, run.error
    assert run.stats.created > 0


async def test_a_failing_run_leaves_the_cursor_and_the_next_run_recovers(stack: Stack) -> None:
    odoo = stack.odoo
    await stack.sync(SyncOdoo())
    cursors = await stack.runs.cursors()
    odoo.clock.advance(60)
    some_lead = sorted(odoo.demo.leads.values())[5]
    odoo.write(LEAD, [some_lead], {"name": "Changed while Odoo fails"})
    odoo.go_down("503")
    failed = await stack.sync(SyncOdoo())
    assert failed.status is SyncStatus.FAILED and failed.error
    assert odoo.api_key not in failed.error
    assert await stack.runs.cursors() == cursors
    odoo.come_up()
    ok = await stack.sync(SyncOdoo())
    assert ok.status is SyncStatus.SUCCEEDED and ok.stats.updated == 1
    last = (await stack.events.read_stream(stream_for(LEAD, some_lead)))[-1]
    assert last.data["record"]["name"] == "Changed while Odoo fails"
    runs = await stack.runs.recent(10)
    assert [r.status for r in runs[:2]] == [SyncStatus.SUCCEEDED, SyncStatus.FAILED]
