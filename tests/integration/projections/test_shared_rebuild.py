"""Rebuilds started together read the log once (``SharedRead``) and stay crash-safe.

* Several projections resuming from different recorded positions (and one starting from
  zero) share one pass from the lowest position; each skips what it already has, and every
  rebuilt generation equals the reference fold.
* A CPU-bound fold of big batches no longer loses its lease at the default-like ratio of
  lease term to work: the fold yields to the loop and renews the lease itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from functools import partial
from typing import Any

import pytest

from domain.events import RecordedEvent
from infrastructure.eventstore.mongo import MongoEventStore
from projections.framework import (
    Checkpoints,
    ProjectionRunner,
    RebuildProgress,
    RunnerConfig,
    invalidate_active,
)
from tests.integration.projections_framework.toy import (
    Toy,
    append_random,
    expected,
    read_generation,
    read_view,
)

pytestmark = pytest.mark.integration

NAMES = ("toy_a", "toy_b", "toy_c")
FAST = RunnerConfig(
    batch_size=40,
    poll_interval=0.05,
    retries=2,
    backoff_initial=0.01,
    backoff_max=0.05,
    lease_seconds=1.0,
    rebuild_batch_size=100,
    rebuild_flush_every=150,
    drop_grace=0.0,
    resume_rebuilds=False,
)


@pytest.fixture
async def store(mongo_db: Any) -> MongoEventStore:
    event_store = MongoEventStore(mongo_db)
    await event_store.ensure_indexes()
    invalidate_active()
    return event_store


class CountingReads:
    """Counts ``read_all`` passes over the store (the bulk of a rebuild's reading)."""

    def __init__(self, store: MongoEventStore) -> None:
        self.passes = 0
        self._read_all = store.read_all

        def read_all(after: int = 0, batch_size: int = 1000) -> AsyncIterator[Any]:
            self.passes += 1
            return self._read_all(after, batch_size)

        store.read_all = read_all  # type: ignore[method-assign]


def toys(*names: str) -> list[Any]:
    return [partial(Toy, name) for name in names]


async def interrupt_rebuild(
    mongo_db: Any, store: MongoEventStore, name: str, fraction: float, head: int
) -> int:
    """Rebuild ``name`` alone and kill it (cancel, as a shutdown would) past ``fraction``
    of the log; return the position its rebuild record holds."""
    reached = asyncio.Event()

    async def progress(update: RebuildProgress) -> None:
        if update.done >= head * fraction:
            reached.set()
        await asyncio.sleep(0.005)

    runner = ProjectionRunner(mongo_db, store, toys(*NAMES), config=FAST)
    await runner.start_rebuild([name], progress)
    await asyncio.wait_for(reached.wait(), 30)
    await runner.stop()
    state = await Checkpoints(mongo_db).get(name)
    assert state is not None and state.rebuild is not None and state.rebuild.generation == 2
    return state.rebuild.position


async def test_rebuilds_resuming_at_different_positions_share_one_read_and_end_exact(
    mongo_db: Any, store: MongoEventStore
) -> None:
    head = await append_random(store, 500, seed=61)
    async with ProjectionRunner(mongo_db, store, toys(*NAMES), config=FAST) as live:
        assert await live.wait_until(head, timeout=30)
    a = await interrupt_rebuild(mongo_db, store, "toy_a", 0.25, head)
    b = await interrupt_rebuild(mongo_db, store, "toy_b", 0.7, head)
    assert 0 < a < b < head, "two interrupted rebuilds, recorded at different positions"
    more = await append_random(store, 30, seed=62)

    reads = CountingReads(store)
    done: dict[str, list[int]] = {n: [] for n in NAMES}
    runner = ProjectionRunner(mongo_db, store, toys(*NAMES), config=FAST)
    await runner.rebuild(NAMES, lambda u: done[u.name].append(u.done))
    assert reads.passes == 1, "one pass over the log for the three rebuilds"
    assert min(done["toy_a"]) > a and min(done["toy_b"]) > b, "resumed, not restarted"
    assert min(done["toy_c"]) <= FAST.rebuild_batch_size + 3, "toy_c started from zero"
    reference = await expected(store)
    for name in NAMES:
        state = await Checkpoints(mongo_db).get(name)
        assert state is not None and state.generation == 2 and state.position >= more
        assert state.rebuild is None
        assert await read_generation(mongo_db, name, 2) == reference, name
        assert await read_view(mongo_db, name) == reference, name
    left = {n for n in await mongo_db.list_collection_names() if n.startswith("toy_")}
    assert left == {f"{n}_{k}__g2" for n in NAMES for k in ("totals", "types")}


async def test_runner_start_resumes_interrupted_rebuilds_together(
    mongo_db: Any, store: MongoEventStore
) -> None:
    head = await append_random(store, 400, seed=63)
    a = await interrupt_rebuild(mongo_db, store, "toy_a", 0.3, head)
    b = await interrupt_rebuild(mongo_db, store, "toy_b", 0.6, head)
    assert a != b
    reads = CountingReads(store)
    config = replace(FAST, resume_rebuilds=True)
    async with ProjectionRunner(mongo_db, store, toys(*NAMES), config=config) as runner:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = await Checkpoints(mongo_db).all()
            if all(states[n].generation == 2 for n in ("toy_a", "toy_b")):
                break
            await asyncio.sleep(0.05)
        assert await runner.wait_until(head, timeout=10)
    assert reads.passes == 1, "the two resumed rebuilds shared one read"
    reference = await expected(store)
    for name in NAMES:
        assert await read_view(mongo_db, name) == reference, name


async def test_a_member_failing_midway_leaves_the_shared_read_to_the_others(
    mongo_db: Any, store: MongoEventStore
) -> None:
    head = await append_random(store, 300, seed=64)

    class Broken(Toy):
        def apply(self, event: RecordedEvent) -> None:
            if event.position > head // 2:
                raise ValueError("a bug in the new fold")
            super().apply(event)

    factories = [partial(Toy, "toy_a"), partial(Broken, "toy_b"), partial(Toy, "toy_c")]
    runner = ProjectionRunner(mongo_db, store, factories, config=FAST)
    with pytest.raises(Exception, match="a bug in the new fold"):
        await runner.rebuild(NAMES)
    reference = await expected(store)
    for name in ("toy_a", "toy_c"):
        assert await read_view(mongo_db, name) == reference, name
        assert (await Checkpoints(mongo_db).get(name)).generation == 2  # type: ignore[union-attr]
    failed = await Checkpoints(mongo_db).get("toy_b")
    assert failed is not None and failed.generation == 1 and failed.rebuild is not None
    assert "a bug in the new fold" in (failed.rebuild.error or "")


class Busy(Toy):
    """A fold that costs real CPU per event, like the dashboard one on a big org."""

    def apply(self, event: RecordedEvent) -> None:
        until = time.perf_counter() + 0.0003
        while time.perf_counter() < until:
            pass
        super().apply(event)


async def test_a_cpu_bound_fold_of_big_batches_keeps_its_lease(
    mongo_db: Any, store: MongoEventStore
) -> None:
    """~3,000 events x 0.3 ms x 3 projections in 5,000-event batches (the default size), with
    a 3 s lease (trusted 2.4 s locally, renewed every second): each projection folds its one
    batch for ~0.9 s, so the three keep the loop busy for ~3 s at a stretch. Without yielding
    inside the fold the renewer task got its turns (a renewal takes several) too late and the
    rebuild died with LeaseLost (bench/LESSONS.md 4); the bench had to use a 600 s lease."""
    head = await append_random(store, 1500, seed=65, noise=False, clears=False)
    assert head >= 2500
    config = replace(FAST, lease_seconds=3.0, rebuild_batch_size=5000, rebuild_flush_every=20_000)
    factories = [partial(Busy, name) for name in NAMES]
    runner = ProjectionRunner(mongo_db, store, factories, config=config)
    started = time.monotonic()
    statuses = await runner.rebuild(NAMES)
    trusted = config.lease_seconds * 0.8  # how long a lease is trusted without renewal
    assert time.monotonic() - started > trusted, "the fold outlasted the lease"
    assert all(s.last_error is None for s in statuses)
    reference = await expected(store)
    for name in NAMES:
        assert (await Checkpoints(mongo_db).get(name)).generation == 2  # type: ignore[union-attr]
        assert await read_view(mongo_db, name) == reference, name
