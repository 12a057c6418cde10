"""Data safety: ``pulse events export`` / ``import`` (infrastructure/events_io).

The event log is the source of truth: export it, import it into an empty database, let the
projections catch up (and rebuild them), and the read models are the same documents, the
log the same events at the same positions with every envelope field, and ``pulse check``
finds nothing. A bad file is refused whole, with line numbers; a target that is not empty
is refused; an interrupted import is completed by running it again, and running a finished
one again writes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymongo import AsyncMongoClient

from domain.event_store import ExpectedVersion
from domain.events import NewEvent, RecordedEvent, StreamRef
from domain.normalize import EMPLOYEE, LEAD
from domain.sync import SyncMode
from domain.upcasting import UpcasterRegistry
from infrastructure.bootstrap import build_upcasters
from infrastructure.events_io import (
    EventLine,
    ImportConflict,
    ImportRefused,
    InvalidFile,
    LineError,
    export_events,
    import_events,
    parse_line,
    to_json,
)
from infrastructure.events_io.commits import RestoringEventStore
from infrastructure.eventstore.mongo import MongoEventStore
from infrastructure.ingestion.snapshots import MongoSnapshotStore
from projections.catalog import PROJECTION_NAMES, PROJECTIONS
from projections.check import check
from projections.framework import (
    Checkpoints,
    ProjectionRunner,
    RunnerConfig,
    active_collection,
    invalidate_active,
)
from tests.integration.projections.conftest import (  # noqa: F401  (fixtures, by name)
    Pipeline,
    northwind,
    pipeline,
)
from tests.reliability.hostile import json_objects, storable_text
from tests.reliability.support import examples

WRITE_TIME = frozenset({"_pos", "as_of", "updated_at", "refreshed_at"})  # as pulse check
FAST = RunnerConfig(poll_interval=0.05, backoff_initial=0.05, drop_grace=0.2)


@pytest.fixture
async def fresh_db(mongo_client: AsyncMongoClient[Any]) -> AsyncIterator[Any]:
    name = f"restore_{uuid.uuid4().hex[:12]}"
    yield mongo_client[name]
    await mongo_client.drop_database(name)


async def all_events(db: Any) -> list[RecordedEvent]:
    # No upcaster: events as stored (LegacyThing, only ever written at v2, is "current").
    store = MongoEventStore(db, UpcasterRegistry({"LegacyThing": 2}))
    return [e async for batch in store.read_all(0) for e in batch]


async def records_stored(db: Any) -> None:
    """Until every projection's own records are written (a live runner leaves them for
    later, until the log has been quiet for a moment: ``RunnerConfig.records_later``)."""
    deadline = time.monotonic() + 20
    while True:
        lagging = [
            c
            for c in (await Checkpoints(db).all()).values()
            if c.records_position is not None and c.records_position < c.position
        ]
        if not lagging:
            return
        assert time.monotonic() < deadline, lagging
        await asyncio.sleep(0.05)


async def read_models(db: Any) -> dict[str, dict[str, dict[str, Any]]]:
    """Every read-model document of the active generations, write-time fields dropped
    (the projections' records included: once written, see ``records_stored``)."""
    await records_stored(db)
    invalidate_active()
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for factory in PROJECTIONS:
        projection = factory()
        for spec in projection.collections:
            collection = await active_collection(db, projection.name, spec.base_name)
            out[spec.base_name] = {
                str(doc["_id"]): {k: v for k, v in doc.items() if k not in WRITE_TIME}
                async for doc in collection.find({})
            }
    return out


def differences(
    have: dict[str, dict[str, dict[str, Any]]], want: dict[str, dict[str, dict[str, Any]]]
) -> list[str]:
    """``collection/id: fields`` that differ, for a readable assertion message."""
    out = []
    for name in sorted(set(have) | set(want)):
        a, b = have.get(name, {}), want.get(name, {})
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                fields = sorted(
                    k
                    for k in set(a.get(key) or {}) | set(b.get(key) or {})
                    if (a.get(key) or {}).get(k) != (b.get(key) or {}).get(k)
                )
                out.append(f"{name}/{key}: {', '.join(fields) or 'missing'}")
    return out


async def export_to(db: Any, path: Path) -> str:
    with path.open("w", encoding="utf-8") as out:
        report = await export_events(db, out)
    return report.sha256


# -- the round trip on a real history ----------------------------------------------------------


async def busy_history(p: Pipeline) -> None:
    """A full sync of the demo company, then won deals, an org move, a deletion, a renamed
    stage, each picked up by incremental and full syncs."""
    demo = p.odoo.demo
    assert demo is not None
    await p.sync(SyncMode.FULL)
    leads = p.odoo.records(LEAD, [["type", "=", "opportunity"], ["active", "=", True]])
    open_ = [r["id"] for r in leads if r["stage_id"] and r["stage_id"] != demo.won_stage_id]
    p.odoo.clock.advance(60)
    p.odoo.mark_won(open_[:2])
    p.odoo.write(EMPLOYEE, [demo.employees["ethan"]], {"parent_id": demo.employees["nina"]})
    await p.sync()
    p.odoo.clock.advance(60)
    p.odoo.unlink(LEAD, [open_[3]])
    p.odoo.write("crm.stage", [leads[0]["stage_id"]], {"name": "Renamed"})
    await p.sync(SyncMode.FULL)


async def test_export_wipe_import_rebuild_gives_identical_views(
    pipeline: Pipeline,  # noqa: F811
    fresh_db: Any,
    tmp_path: Path,
) -> None:
    p = pipeline
    await busy_history(p)
    assert (await check(p.db, p.events)).clean
    original_views = await read_models(p.db)
    original_events = await all_events(p.db)
    head = len(original_events)
    assert head > 150

    backup = tmp_path / "events.jsonl"
    digest = await export_to(p.db, backup)
    assert len(backup.read_text().splitlines()) == head

    report = await import_events(fresh_db, backup)
    assert (report.events_imported, report.events_present, report.head) == (head, 0, head)
    restored = await all_events(fresh_db)
    assert [e.position for e in restored] == list(range(1, head + 1))
    assert restored == original_events  # every envelope field, recorded_at included

    store = MongoEventStore(fresh_db, build_upcasters())
    runner = ProjectionRunner(fresh_db, store, PROJECTIONS, config=FAST)
    await runner.start()
    try:
        assert await runner.wait_until(head, 120)
        assert (await check(fresh_db, store)).clean
        assert not differences(await read_models(fresh_db), original_views)
        await runner.rebuild(list(PROJECTION_NAMES))  # `pulse rebuild`
        report_after = await check(fresh_db, store)
        assert report_after.clean, report_after.differences[:10]
        assert not differences(await read_models(fresh_db), original_views)
    finally:
        await runner.stop()

    again = await import_events(fresh_db, backup)  # idempotent: nothing new
    assert (again.events_imported, again.events_present, again.head) == (0, head, head)
    assert await export_to(fresh_db, tmp_path / "again.jsonl") == digest  # byte for byte


async def test_a_sync_after_an_events_only_restore_continues(
    pipeline: Pipeline,  # noqa: F811
    fresh_db: Any,
    tmp_path: Path,
) -> None:
    """The log alone is a complete backup: the import rebuilds the ingestion snapshots, so
    the next sync finds nothing new, and a later change in Odoo is recorded as usual."""
    from domain.ingestion import Ingestor
    from domain.sync import SyncHandler, SyncOdoo, SyncStatus
    from infrastructure.bootstrap import SystemClock
    from infrastructure.ingestion.runs import MongoSyncRunRepository
    from infrastructure.ingestion.snapshots import MongoSnapshotStore
    from infrastructure.odoo import OdooClient

    p = pipeline
    await busy_history(p)
    original = await snapshot_keys(p.db)
    await export_to(p.db, tmp_path / "events.jsonl")
    report = await import_events(fresh_db, tmp_path / "events.jsonl")
    assert report.snapshots_restored == len(original)
    assert await snapshot_keys(fresh_db) == original  # hash, stream version, live: the same

    events, snapshots = MongoEventStore(fresh_db), MongoSnapshotStore(fresh_db)
    runs = MongoSyncRunRepository(fresh_db)
    for part in (events, snapshots, runs):
        await part.ensure_indexes()
    odoo = p.odoo
    client = OdooClient(odoo.url, odoo.db, odoo.login, odoo.api_key, protocol="json2")
    try:
        handler = SyncHandler(client, Ingestor(events, snapshots, SystemClock()), runs,
                              SystemClock())  # fmt: skip
        run = await handler(SyncOdoo(SyncMode.FULL, "test"))
        assert run.status is SyncStatus.SUCCEEDED, run.error
        assert run.stats.events_appended == 0  # nothing changed in Odoo since the backup
        head = await events.head_position()

        demo = odoo.demo
        assert demo is not None
        leads = odoo.records(LEAD, [["type", "=", "opportunity"], ["active", "=", True]])
        deal = next(r for r in leads if r["stage_id"] and r["stage_id"] != demo.won_stage_id)
        odoo.clock.advance(60)
        odoo.mark_won([deal["id"]])
        run = await handler(SyncOdoo(SyncMode.FULL, "test"))
    finally:
        await client.aclose()
    assert run.status is SyncStatus.SUCCEEDED, run.error
    assert run.stats.events_appended > 0 and run.stats.updated == 1
    won = await events.read_stream(StreamRef("opportunity", str(deal["id"])))
    assert [e.position for e in won if e.position > head]  # appended after the restore
    assert [e.version for e in won] == list(range(1, len(won) + 1))


async def snapshot_keys(db: Any) -> set[tuple[str, int, str, int, bool]]:
    return {
        (s.model, s.odoo_id, s.content_hash, s.stream_version, not s.deleted)
        async for s in MongoSnapshotStore(db).every()
    }


# -- a small log with every kind of envelope -------------------------------------------------

WHEN = datetime(2026, 3, 2, 9, 0, 0, 123_000, tzinfo=UTC)


async def small_log(db: Any) -> list[RecordedEvent]:
    store = MongoEventStore(db)
    await store.ensure_indexes()
    opp1, opp2, user = (
        StreamRef("opportunity", "1"),
        StreamRef("opportunity", "2"),
        StreamRef("user", "7"),
    )
    data = {"name": "Déjà vu \U0001f4a9", "n": 1, "x": 1.5, "ok": True, "none": None,
            "nested": {"list": [1, "two", [3.0]]}}  # fmt: skip
    await store.append(opp1, [NewEvent("OpportunityAppeared", data, occurred_at=WHEN),
                              NewEvent("OpportunityWon", {"by": 7}, occurred_at=WHEN)],
                       ExpectedVersion.NO_STREAM, idempotency_key="crm.lead:1:0:abc")  # fmt: skip
    await store.append(user, [NewEvent("UserAppeared", {"email": "a@b.c"}, correlation_id="run-1",
                                       source="sync:full")])  # fmt: skip
    await store.append(opp1, [NewEvent("OpportunityLost", {}, causation_id="c-1")], 2)
    await store.append(opp2, [NewEvent("LegacyThing", {"name": "B"}, schema_version=2)])
    await store.append(opp1, [NewEvent("OpportunityRenamed", {"name": "ünï"})],
                       idempotency_key="webhook:sig:xyz")  # fmt: skip
    return await all_events(db)


@pytest.fixture
async def source(mongo_db: Any, tmp_path: Path) -> tuple[list[RecordedEvent], Path]:
    events = await small_log(mongo_db)
    path = tmp_path / "small.jsonl"
    await export_to(mongo_db, path)
    return events, path


async def test_a_small_log_round_trips_exactly(
    source: tuple[list[RecordedEvent], Path], fresh_db: Any
) -> None:
    events, path = source
    lines = [json.loads(text) for text in path.read_text(encoding="utf-8").splitlines()]
    assert [line["position"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert lines[0]["commit_id"] == lines[1]["commit_id"] != lines[2]["commit_id"]
    assert lines[0]["idempotency_key"] == "crm.lead:1:0:abc"
    assert lines[2]["correlation_id"] == "run-1" and lines[2]["source"] == "sync:full"
    report = await import_events(fresh_db, path)
    assert (report.events_imported, report.commits_imported) == (6, 5)
    assert await all_events(fresh_db) == events
    # The original idempotency keys answer as they did before the restore.
    replay = await MongoEventStore(fresh_db).append(
        StreamRef("opportunity", "1"), [NewEvent("X", {})], 0, idempotency_key="crm.lead:1:0:abc"
    )
    assert replay.duplicate and (replay.first_position, replay.last_position) == (1, 2)


async def test_an_empty_log_exports_an_empty_file(fresh_db: Any, tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    await export_to(fresh_db, path)
    assert path.read_text() == ""
    report = await import_events(fresh_db, path)
    assert report.events_imported == 0 and report.head == 0


# -- refusals ---------------------------------------------------------------------------------


async def test_a_store_with_other_events_is_refused(
    source: tuple[list[RecordedEvent], Path], fresh_db: Any
) -> None:
    _, path = source
    other = MongoEventStore(fresh_db)
    await other.ensure_indexes()
    await other.append(StreamRef("opportunity", "1"), [NewEvent("Other", {})])
    with pytest.raises(ImportRefused, match="not empty"):
        await import_events(fresh_db, path)
    assert [e.type for e in await all_events(fresh_db)] == ["Other"]


@pytest.mark.parametrize(
    ("collection", "doc"),
    [
        ("odoo_snapshots", {"_id": "crm.lead:1", "version": 3}),
        ("projection_state", {"_id": "opportunity_view", "position": 42}),
        ("opportunity_view__g1", {"_id": "1", "_pos": 42}),
    ],
)
async def test_a_database_with_state_from_another_log_is_refused(
    source: tuple[list[RecordedEvent], Path], fresh_db: Any, collection: str, doc: Any
) -> None:
    _, path = source
    await fresh_db[collection].insert_one(doc)
    with pytest.raises(ImportRefused, match=collection):
        await import_events(fresh_db, path)
    assert await fresh_db.list_collection_names() == [collection]  # not even an index added


async def test_checkpoints_at_zero_are_not_in_the_way(
    source: tuple[list[RecordedEvent], Path], fresh_db: Any
) -> None:
    """A Pulse process started on the new database first leaves checkpoints at 0."""
    events, path = source
    await fresh_db["projection_state"].insert_one({"_id": "opportunity_view", "position": 0})
    await import_events(fresh_db, path)
    assert await all_events(fresh_db) == events


def _corrupt(path: Path, target: Path) -> dict[int, str]:
    """Write a copy of a 6-line export with one problem per chosen line; return the line
    numbers that must be reported, with a fragment of each message."""
    lines = path.read_text(encoding="utf-8").splitlines()
    objs = [json.loads(line) for line in lines]
    out: list[bytes] = [lines[0].encode()]
    out.append(b'{"position": 2, "id": ')  # 2: invalid JSON
    bad_type = dict(objs[2], schema_version="1")  # 3: wrong type
    out.append(json.dumps(bad_type).encode())
    missing = {k: v for k, v in objs[3].items() if k != "data"}  # 4: missing field
    out.append(json.dumps(missing).encode())
    out.append(b"\xff\xfe not utf-8")  # 5
    gap = dict(objs[5], position=9)  # 6: position gap
    out.append(json.dumps(gap).encode())
    out.append(b"")  # 7: empty line
    out.append(json.dumps({"model": "crm.lead", "record": {"id": 1}}).encode())  # 8
    dup = dict(objs[0], position=10)  # 9: the id (and commit) of line 1 again
    out.append(json.dumps(dup).encode())
    target.write_bytes(b"\n".join(out) + b"\n")
    return {2: "not valid JSON", 3: "schema_version", 4: "missing field(s): data",
            5: "UTF-8", 6: "position 9, expected 6", 7: "empty line",
            8: "pulse import", 9: "appears twice"}  # fmt: skip


async def test_bad_lines_are_reported_by_number_and_nothing_is_written(
    source: tuple[list[RecordedEvent], Path], fresh_db: Any, tmp_path: Path
) -> None:
    _, path = source
    bad = tmp_path / "bad.jsonl"
    wanted = _corrupt(path, bad)
    with pytest.raises(InvalidFile) as refused:
        await import_events(fresh_db, bad)
    problems = refused.value.report.validation.problems
    for number, fragment in wanted.items():
        assert any(p.line == number and fragment in p.message for p in problems), (number, problems)
    assert {p.line for p in problems} <= set(wanted), problems
    assert await all_events(fresh_db) == []
    assert [n for n in await fresh_db.list_collection_names() if n != "system.indexes"] == []


@pytest.mark.parametrize(
    ("mutation", "fragment"),
    [
        (lambda o: o.update(version=3) if o["position"] == 5 else None, "version 3, expected 1"),
        (lambda o: o.update(commit_id="c-split") if o["position"] in (1, 3) else None, "split"),
        (lambda o: o.update(idempotency_key="k") if o["position"] in (3, 4) else None,
         "used by two commits"),
        (lambda o: o.update(recorded_at="2020-01-01T00:00:00+00:00") if o["position"] == 2
         else None, "must share"),
        (lambda o: o.update(occurred_at="2026-03-02T09:00:00") if o["position"] == 5 else None,
         "time zone"),
    ],
    ids=["version gap", "split commit", "shared idempotency key", "commit times differ",
         "naive time"],
)  # fmt: skip
async def test_a_log_the_store_could_not_have_written_is_refused(
    source: tuple[list[RecordedEvent], Path], fresh_db: Any, tmp_path: Path,
    mutation: Any, fragment: str,
) -> None:  # fmt: skip
    _, path = source
    objs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for obj in objs:
        mutation(obj)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    with pytest.raises(InvalidFile) as refused:
        await import_events(fresh_db, bad)
    messages = [p.message for p in refused.value.report.validation.problems]
    assert any(fragment in m for m in messages), messages
    assert await all_events(fresh_db) == []


# -- interrupted and concurrent imports -------------------------------------------------------


async def test_an_interrupted_import_is_completed_by_running_it_again(
    source: tuple[list[RecordedEvent], Path], fresh_db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    events, path = source
    original = RestoringEventStore.append_batch
    calls = 0

    async def dies_on_the_second_batch(self: RestoringEventStore, requests: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("the store went away (kill -9 of the importer)")
        return await original(self, requests)

    monkeypatch.setattr(RestoringEventStore, "append_batch", dies_on_the_second_batch)
    with pytest.raises(ConnectionError):
        await import_events(fresh_db, path, batch_commits=2)
    partial = await all_events(fresh_db)
    assert partial == events[: len(partial)] and 0 < len(partial) < len(events)
    monkeypatch.setattr(RestoringEventStore, "append_batch", original)
    report = await import_events(fresh_db, path, batch_commits=2)
    assert report.events_present == len(partial)
    assert report.events_imported == len(events) - len(partial)
    assert await all_events(fresh_db) == events


async def test_a_prefix_of_another_log_is_refused(
    source: tuple[list[RecordedEvent], Path], fresh_db: Any, tmp_path: Path
) -> None:
    _, path = source
    other = MongoEventStore(fresh_db)
    await other.ensure_indexes()
    await other.append(StreamRef("opportunity", "1"), [NewEvent("A", {}), NewEvent("B", {})])
    with pytest.raises(ImportRefused, match="first difference at position 1"):
        await import_events(fresh_db, path)


async def test_two_imports_at_once_leave_one_copy(
    source: tuple[list[RecordedEvent], Path], fresh_db: Any
) -> None:
    events, path = source
    outcomes = await asyncio.gather(
        import_events(fresh_db, path, batch_commits=1),
        import_events(fresh_db, path, batch_commits=1),
        return_exceptions=True,
    )
    for outcome in outcomes:  # each finishes, or stops at a conflict; neither duplicates
        assert not isinstance(outcome, BaseException) or isinstance(outcome, ImportConflict), (
            outcome
        )
    if any(isinstance(o, BaseException) for o in outcomes):
        await import_events(fresh_db, path)  # completing it is always possible
    assert await all_events(fresh_db) == events


# -- the line format --------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
optional_text = st.one_of(st.none(), storable_text)
names = storable_text.filter(bool)

event_lines = st.builds(
    EventLine,
    position=st.integers(1, 2**53),
    id=names,
    type=names,
    schema_version=st.integers(1, 99),
    stream_type=names.filter(lambda s: "/" not in s),
    stream_id=names,
    version=st.integers(1, 2**53),
    occurred_at=moments,
    recorded_at=moments,
    correlation_id=optional_text,
    causation_id=optional_text,
    source=names,
    data=json_objects,
    commit_id=names,
    idempotency_key=names,
)


@examples(300)
@given(line=event_lines)
def test_a_line_round_trips(line: EventLine) -> None:
    text = to_json(line)
    assert "\n" not in text
    assert parse_line(text) == line


@examples(300)
@given(text=st.one_of(st.text(max_size=300), st.builds(json.dumps, st.dictionaries(
    st.sampled_from(["position", "id", "type", "data", "version", "x"]), st.integers() | st.text(),
))))  # fmt: skip
def test_any_text_is_a_line_or_a_line_error(text: str) -> None:
    with contextlib.suppress(LineError):
        parse_line(text)


def test_data_json_cannot_hold_is_refused_on_export() -> None:
    line = EventLine(1, "e", "T", 1, "s", "1", 1, WHEN, WHEN, None, None, "pulse",
                     {"x": float("nan")}, "c", "k")  # fmt: skip
    with pytest.raises(LineError, match="position 1"):
        to_json(line)
    with pytest.raises(LineError, match="JSON"):
        parse_line('{"position": NaN}')
