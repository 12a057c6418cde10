"""Property: whatever crashes where (mid-bulk-write, between collections, before the
checkpoint), restarting from the checkpoint and replaying yields exactly the fresh fold."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import RecordedEvent
from projections.framework import ProjectionContext
from tests.integration.projections_framework.toy import Toy, fold
from tests.unit.projections_framework.fakes import Crash, FakeDb, event

streams = st.sampled_from(["deal/1", "deal/2", "lead/1", "task/9"])
kinds = st.sampled_from(["Added", "Added", "Added", "Cleared", "Noise"])


def make_events(specs: list[tuple[str, str, int]]) -> list[RecordedEvent]:
    return [
        event(i + 1, kind, stream, **({"amount": amount} if kind == "Added" else {}))
        for i, (kind, stream, amount) in enumerate(specs)
    ]


def view(db: FakeDb) -> tuple[dict[str, Any], dict[str, Any]]:
    totals = {
        k: {"sum": d["sum"], "count": d["count"]} for k, d in db["toy_totals__g1"].docs.items()
    }
    types = {k: d["count"] for k, d in db["toy_types__g1"].docs.items()}
    return totals, types


async def run(events: list[RecordedEvent], data: st.DataObject) -> FakeDb:
    db = FakeDb()
    ctx = ProjectionContext(db, 1)  # type: ignore[arg-type]
    checkpoint, crashes = 0, 0
    while checkpoint < len(events):
        toy = Toy()  # a restart: fresh instance, warmed from what is stored
        await toy.load(ctx)
        while checkpoint < len(events):
            # Batch boundaries differ between attempts, as they do when a failing range is
            # replayed event by event.
            chunk = events[checkpoint : checkpoint + data.draw(st.integers(1, 7))]
            for e in chunk:
                if e.type in toy.handles:
                    toy.apply(e)
            crash = crashes < 6 and data.draw(st.booleans())
            if crash:
                crashes += 1
                where = data.draw(st.sampled_from(["totals", "types", "checkpoint"]))
                if where != "checkpoint":
                    db[f"toy_{where}__g1"].writes_left = data.draw(st.integers(0, 3))
            try:
                await toy.flush(ctx)
                if crash and where == "checkpoint":
                    raise Crash("checkpoint write lost")
            except Crash:
                for coll in db.collections.values():
                    coll.writes_left = None
                break
            checkpoint = chunk[-1].position
    return db


@settings(max_examples=150, deadline=None)
@given(
    specs=st.lists(st.tuples(kinds, streams, st.integers(1, 50)), min_size=1, max_size=40),
    data=st.data(),
)
def test_replays_after_any_crash_equal_the_fresh_fold(
    specs: list[tuple[str, str, int]], data: st.DataObject
) -> None:
    events = make_events(specs)
    db = asyncio.run(run(events, data))
    assert view(db) == fold(events)
