"""A tailer never misses a commit while several OS processes append concurrently."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import pytest

from domain.events import NewEvent, StreamRef
from infrastructure.eventstore.mongo import COMMITS, MongoEventStore
from tests.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKERS = 4
COMMITS_EACH = 400  # x ~2 events per commit: ~3,200 events in all


async def test_tailer_sees_every_event_once_in_order_under_multiprocess_appends(
    mongo_url: str, mongo_db: Any
) -> None:
    store = MongoEventStore(mongo_db)
    await store.ensure_indexes()
    procs = [
        await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "tests.integration.append_worker"),
            *(mongo_url, mongo_db.name, str(w), str(COMMITS_EACH)),
            cwd=str(ROOT),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for w in range(WORKERS)
    ]
    communicate = [asyncio.create_task(p.communicate()) for p in procs]
    seen: list[Any] = []
    position = 0
    reads = 0
    deadline = time.monotonic() + 240
    # Tail while the writers run: small batches, so the tailer interleaves with commits.
    while not all(t.done() for t in communicate) and time.monotonic() < deadline:
        batch = await store.read_after(position, limit=50)
        reads += 1
        if batch:
            seen.extend(batch)
            position = batch[-1].position
        else:
            await asyncio.sleep(0.005)
    outputs = await asyncio.gather(*communicate)
    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()[-2000:]
    while batch := await store.read_after(position, limit=500):
        seen.extend(batch)
        position = batch[-1].position

    written = [i for out, _ in outputs for i in json.loads(out.decode())["event_ids"]]
    positions = [e.position for e in seen]
    assert positions == list(range(1, len(seen) + 1)), "tailer saw a gap or a reordering"
    assert len({e.id for e in seen}) == len(seen), "an event was delivered twice"
    assert sorted(e.id for e in seen) == sorted(written), "an appended event was never seen"
    assert len(written) > 2000
    assert reads > 10, "the tailer must have read while writers were still appending"
    # Stream versions stayed contiguous under contention too.
    by_stream: dict[str, list[int]] = {}
    for e in seen:
        by_stream.setdefault(e.stream.key, []).append(e.version)
    for versions in by_stream.values():
        assert versions == list(range(1, len(versions) + 1))


async def test_a_reader_stops_at_a_hole_rather_than_skip_it(mongo_db: Any) -> None:
    """Defence in depth: even a commit written out of protocol is never read past a hole."""
    store = MongoEventStore(mongo_db)
    await store.ensure_indexes()
    await store.append(StreamRef("s", "1"), [NewEvent(type="A", data={})])
    rogue = {
        "_id": "rogue", "pos": 3, "end": 3, "stream": "s/2", "st": "s", "sid": "2",
        "ver": 1, "vend": 1, "idem": "rogue", "at": (await store.read_after(0))[0].recorded_at,
        "types": ["A"], "events": [{"id": "x", "type": "A", "sv": 1, "at":
                                     (await store.read_after(0))[0].occurred_at, "data": {}}],
    }  # fmt: skip
    await mongo_db[COMMITS].insert_one(rogue)
    assert [e.position for e in await store.read_after(0)] == [1]
    # A late commit filling the hole is then read, and the reader continues in order.
    await mongo_db[COMMITS].insert_one(
        {**rogue, "_id": "late", "pos": 2, "end": 2, "stream": "s/3", "sid": "3", "idem": "late"}
    )
    assert [e.position for e in await store.read_after(0)] == [1, 2, 3]
