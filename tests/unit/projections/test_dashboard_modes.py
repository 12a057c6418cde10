"""The dashboard projection's two folds write the same documents.

*Live* (loaded by the runner) applies each change to its viewers' states; *bulk* (a rebuild,
``pulse check``) folds per-salesperson states only and merges each affected viewer at flush.
Over random histories and random batch boundaries: both store the same documents, down to
``_pos`` and ``as_of``; the live fold notifies exactly the viewers whose stored values
changed; a bulk instance handed over to live duty (a rebuild's switch) carries on exactly
like one that was live all along; and a bulk fold interrupted by a crash resumes exactly.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.events import RecordedEvent
from domain.model import StageRecord
from projections.dashboards import DASHBOARDS, VALUE_FIELDS
from projections.framework import Notification, ProjectionContext
from projections.read_models import ADMIN_DASHBOARD_ID, dashboard_channel
from tests.unit.projections.events import EventLog
from tests.unit.projections.test_folds_match_reference import SharingDashboards, histories
from tests.unit.projections_framework.fakes import FakeDb

Docs = dict[str, dict[str, Any]]
VALUES = VALUE_FIELDS  # a field a document does not have reads as None


@st.composite
def with_renames(draw: st.DrawFn) -> EventLog:
    """Random histories, then stages renamed or re-ordered: a change of what viewers who
    show the stage render, with no deal changing."""
    log = draw(histories())
    stages = [r for r in log.of(StageRecord) if isinstance(r, StageRecord)]
    for _ in range(draw(st.integers(0, 3)) if stages else 0):
        stage = draw(st.sampled_from(stages))
        current = log.current.get(("crm.stage", stage.odoo_id))
        if isinstance(current, StageRecord):  # not deleted meanwhile
            sequence = draw(st.integers(0, 9))
            log.put(
                StageRecord(
                    **{**current.to_dict(), "name": f"{current.name}'", "sequence": sequence}
                )
            )
    return log


def stored(db: FakeDb) -> Docs:
    return {
        str(k): {f: d.get(f) for f in (*VALUES, "_pos", "as_of")}
        for k, d in db[f"{DASHBOARDS}__g1"].docs.items()
    }


def assert_shared_tables_agree(db: FakeDb) -> None:
    """After every flush, a document that refers to the admin's table names the table that
    document holds: what a reader checks (``team_hash``) before showing it."""
    docs = db[f"{DASHBOARDS}__g1"].docs
    for key, doc in docs.items():
        if "team_of" in doc:
            assert doc["team_of"] == ADMIN_DASHBOARD_ID and "team" not in doc
            assert doc["team_hash"] == docs[ADMIN_DASHBOARD_ID]["team_hash"], key


def chunks(events: Sequence[RecordedEvent], cuts: list[int]) -> list[list[RecordedEvent]]:
    bounds = sorted({c % (len(events) + 1) for c in cuts} | {0, len(events)})
    return [list(events[a:b]) for a, b in itertools.pairwise(bounds) if b > a]


class Run:
    """One projection instance over a fake database, flushed after every chunk."""

    def __init__(self, db: FakeDb, rebuilding: bool) -> None:
        self.db = db
        self.ctx = ProjectionContext(db, 1, rebuilding=rebuilding)  # type: ignore[arg-type]
        self.projection = SharingDashboards()
        self.notes: list[list[Notification]] = []

    async def start(self) -> Run:
        await self.projection.load(self.ctx)
        return self

    def live(self) -> None:
        self.ctx = ProjectionContext(self.db, 1, rebuilding=False)  # type: ignore[arg-type]

    async def feed(self, chunk: list[RecordedEvent]) -> None:
        for event in chunk:
            if event.type in self.projection.handles:
                self.projection.apply(event)
        before = stored(self.db)
        notes = await self.projection.flush(self.ctx)
        self.notes.append(notes)
        assert_shared_tables_agree(self.db)
        if not self.ctx.rebuilding:
            after = stored(self.db)
            changed = {
                v
                for v, doc in after.items()
                if v not in before or any(doc[f] != before[v][f] for f in VALUES)
            }
            assert {n.channel for n in notes} == {dashboard_channel(v) for v in changed}
            assert len(notes) == len(changed), "one notification per changed viewer"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(with_renames(), st.lists(st.integers(0, 400), max_size=6), st.integers(0, 400))
def test_live_bulk_and_handed_over_folds_store_the_same_dashboards(
    log: EventLog, cuts: list[int], handover: int
) -> None:
    asyncio.run(_compare(log.events, cuts, handover))


async def _compare(events: list[RecordedEvent], cuts: list[int], handover: int) -> None:
    parts = chunks(events, cuts)
    live = await Run(FakeDb(), rebuilding=False).start()
    bulk = await Run(FakeDb(), rebuilding=True).start()
    for chunk in parts:
        await live.feed(chunk)
        await bulk.feed(chunk)
    assert stored(live.db) == stored(bulk.db)
    # ... and what ``pulse check`` expects (a bulk fold without any flush).
    check = SharingDashboards()
    for event in events:
        if event.type in check.handles:
            check.apply(event)
    expected = check.all_documents()
    written = {v: {f: d[f] for f in VALUES if d[f] is not None} for v, d in stored(bulk.db).items()}
    if "__all__" not in written and expected["__all__"]["metrics"]["total_count"] == 0:
        del expected["__all__"]  # never touched (no deal, no user): never written, both ways
    assert written == expected

    # A rebuilt instance adopted by the live runner part-way: same documents, same pushes.
    switch = handover % (len(parts) + 1)
    adopted = await Run(FakeDb(), rebuilding=True).start()
    for i, chunk in enumerate(parts):
        if i == switch:
            adopted.live()
        await adopted.feed(chunk)
    assert stored(adopted.db) == stored(live.db)
    assert adopted.notes[switch:] == live.notes[switch:]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(with_renames(), st.lists(st.integers(0, 400), max_size=6), st.integers(0, 400))
def test_a_bulk_fold_interrupted_by_a_crash_resumes_exactly(
    log: EventLog, cuts: list[int], crash_at: int
) -> None:
    asyncio.run(_crash(log.events, cuts, crash_at))


async def _crash(events: list[RecordedEvent], cuts: list[int], crash_at: int) -> None:
    parts = chunks(events, cuts)
    whole = await Run(FakeDb(), rebuilding=True).start()
    for chunk in parts:
        await whole.feed(chunk)
    crashed = await Run(FakeDb(), rebuilding=True).start()
    lost = crash_at % (len(parts) + 1)
    for chunk in parts[:lost]:
        await crashed.feed(chunk)
    if lost < len(parts):  # applied in memory, never flushed: the process died
        for event in parts[lost]:
            if event.type in crashed.projection.handles:
                crashed.projection.apply(event)
    resumed = await Run(crashed.db, rebuilding=True).start()  # warmed from what was written
    for chunk in parts[lost:]:
        await resumed.feed(chunk)
    assert stored(resumed.db) == stored(whole.db)
