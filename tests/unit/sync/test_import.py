"""pulse import: every line ends in exactly one outcome, and the report adds up."""

from __future__ import annotations

import json

from domain.importing import import_lines
from domain.ingestion import Ingestor, Snapshot
from domain.normalize import LEAD, STAGE
from infrastructure.eventstore.memory import InMemoryEventStore
from infrastructure.ingestion.snapshots import InMemorySnapshotStore
from tests.unit.sync.fakes import FakeClock, lead, stage


def line(model: str, record: object) -> str:
    return json.dumps({"model": model, "record": record})


async def test_duplicates_and_malformed_lines_are_all_accounted_for() -> None:
    events, snapshots = InMemoryEventStore(), InMemorySnapshotStore()
    ingestor = Ingestor(events, snapshots, FakeClock())
    await ingestor.ingest_rows(LEAD, [lead(1)], source="sync")  # already known, unchanged
    await ingestor.ingest_rows(LEAD, [lead(2)], source="sync")  # known, will change
    backed_up: list[Snapshot] = []

    async def backup(snaps):  # type: ignore[no-untyped-def]
        backed_up.extend(snaps)
        return "/tmp/backup.jsonl"

    lines = [
        line(STAGE, stage(1, "New", 1)),  # 1 imported
        line(LEAD, lead(1)),  # 2 unchanged
        line(LEAD, lead(2, expected_revenue=9.0)),  # 3 imported (changed)
        line(LEAD, lead(3)),  # 4 imported (new)
        line(LEAD, lead(3)),  # 5 duplicate of line 4
        line(LEAD, lead(3, name="Later")),  # 6 imported: a second version of the same record
        '{"model": "crm.lead", "record": {"name": "no id"}}',  # 7 missing id
        line(LEAD, lead(4, expected_revenue="big")),  # 8 wrong type
        line("sale.order", {"id": 1}),  # 9 unknown model
        "{not json",  # 10
        "",  # 11 empty
        '["a list"]',  # 12
    ]
    report = await import_lines(lines, ingestor, snapshots, backup)
    by_line = {o.line: o for o in report.outcomes}
    assert report.lines == 12 and report.adds_up
    assert report.counts() == {"imported": 4, "unchanged": 1, "duplicate": 1, "rejected": 6}
    assert [by_line[i].status for i in (1, 2, 3, 4, 5, 6)] == [
        "imported",
        "unchanged",
        "imported",
        "imported",
        "duplicate",
        "imported",
    ]
    assert by_line[5].reason == "same as line 4"
    assert "id" in (by_line[7].reason or "")
    assert "expected_revenue" in (by_line[8].reason or "")
    assert "unknown model" in (by_line[9].reason or "")
    assert "invalid JSON" in (by_line[10].reason or "")
    assert {(s.model, s.odoo_id) for s in backed_up} == {(LEAD, 1), (LEAD, 2)}
    assert report.backup_path == "/tmp/backup.jsonl"
    names = [e.data["record"]["name"] for e in await events.read_after(0) if e.stream_id == "3"]
    assert names == ["Deal 3", "Later"]
    # Importing the same file again changes nothing.
    again = await import_lines(lines, ingestor, snapshots, None)
    assert again.events_appended == 0 and again.counts()["imported"] == 0
