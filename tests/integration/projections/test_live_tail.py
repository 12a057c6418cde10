"""The live tail: shared reads, wake-ups, and no lost event when a worker idles early.

* Workers at the same position asking at the same time share one store query; a read
  asked for after ``notify()`` never joins a query that started before the append.
* Appends by another process wake the workers within ``tail_poll_interval`` (one query per
  runner), not at their ``poll_interval``.
* A worker goes idle after a short batch instead of reading again at once; events appended
  (and notified) while it processed that batch are still folded right away.
* ``on_settled`` (the heap settle, ``infrastructure.heap``) is called once every projection
  has loaded and turned LIVE, once for a start, not per worker or per batch.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from functools import partial
from typing import Any

import pytest

from domain.events import RecordedEvent
from infrastructure.eventstore.mongo import MongoEventStore
from projections.framework import (
    Notification,
    ProjectionContext,
    ProjectionRunner,
    RunnerConfig,
    invalidate_active,
)
from projections.framework.runner import SETTLE_DELAY
from projections.framework.tail import TailReader
from tests.integration.projections_framework.toy import (
    Toy,
    append_one,
    append_random,
    expected,
    read_view,
)

pytestmark = pytest.mark.integration

CONFIG = RunnerConfig(
    batch_size=40,
    poll_interval=30.0,  # a worker's own idle poll: far longer than any test here waits
    tail_poll_interval=0.05,
    lease_seconds=5.0,
    backoff_initial=0.01,
    drop_grace=0.0,
    resume_rebuilds=False,
)


@pytest.fixture
async def store(mongo_db: Any) -> MongoEventStore:
    event_store = MongoEventStore(mongo_db)
    await event_store.ensure_indexes()
    invalidate_active()
    return event_store


async def test_identical_reads_in_flight_share_one_query(
    store: MongoEventStore, mongo_db: Any
) -> None:
    await append_random(store, 30, seed=71)
    tail = TailReader(MongoEventStore(mongo_db))  # another process's store: it must ask
    results = await asyncio.gather(*(tail.read_after(5, 40) for _ in range(4)))
    assert tail.queries == 1
    assert all(r == results[0] for r in results) and results[0][0].position == 6
    assert len({id(r) for r in results}) == 4, "each caller gets a list of its own"
    await tail.read_after(5, 40)
    assert tail.queries == 2, "nothing is kept once the query has answered"


class SlowStore:
    """A store whose ``read_after`` waits until released (a query in flight)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.calls = 0

    async def read_after(self, position: int, limit: int = 1000) -> list[RecordedEvent]:
        self.calls += 1
        await self.release.wait()
        return []

    def recently_appended(self, position: int, limit: int) -> list[RecordedEvent] | None:
        return None


async def test_what_this_process_appended_is_handed_over_not_read_back(
    store: MongoEventStore,
) -> None:
    head = await append_random(MongoEventStore(store._commits.database), 5, seed=72)
    position = await append_one(store, "deal/1", "Added", amount=3)
    tail = TailReader(store)
    handed = await tail.read_after(head, 40)
    assert (tail.queries, tail.handed) == (0, 1)
    assert handed == await store.read_after(head, 40)
    assert [e.position for e in handed] == [position]
    # Before what this object holds (or after it): a query, as before.
    assert await tail.read_after(0, 40) == await store.read_after(0, 40)
    assert await tail.read_after(position, 40) == []
    assert (tail.queries, tail.handed) == (2, 1)


async def test_a_read_asked_after_notify_gets_a_query_of_its_own() -> None:
    slow = SlowStore()
    tail = TailReader(slow)  # type: ignore[arg-type]
    first = asyncio.create_task(tail.read_after(10, 40))
    await asyncio.sleep(0)
    joined = asyncio.create_task(tail.read_after(10, 40))
    await asyncio.sleep(0)
    tail.forget()  # an append happened: the query in flight may not contain it
    fresh = asyncio.create_task(tail.read_after(10, 40))
    await asyncio.sleep(0)
    slow.release.set()
    await asyncio.gather(first, joined, fresh)
    assert slow.calls == 2


async def test_a_cancelled_reader_does_not_cancel_the_shared_query(
    store: MongoEventStore, mongo_db: Any
) -> None:
    await append_random(store, 10, seed=72)
    tail = TailReader(MongoEventStore(mongo_db))  # another process's store: it must ask
    doomed = asyncio.create_task(tail.read_after(0, 40))
    survivor = asyncio.create_task(tail.read_after(0, 40))
    await asyncio.sleep(0)
    doomed.cancel()
    assert (await survivor)[0].position == 1
    assert tail.queries == 1


async def test_appends_from_another_process_are_seen_within_the_tail_poll(
    mongo_db: Any, store: MongoEventStore
) -> None:
    head = await append_random(store, 40, seed=73)
    async with ProjectionRunner(mongo_db, store, [Toy], config=CONFIG) as runner:
        assert await runner.wait_until(head, timeout=20)
        await asyncio.sleep(0.2)  # every worker idle, waiting poll_interval (30 s)
        other = MongoEventStore(mongo_db)
        for _ in range(3):
            # Appended without notify(): what a `pulse sync` in another process does.
            position = await append_one(other, "deal/1", "Added", amount=5)
            started = time.monotonic()
            assert await runner.wait_until(position, timeout=5)
            assert time.monotonic() - started < 2.0, "woken by the tail poll, not the idle one"
    assert await read_view(mongo_db) == await expected(store)


async def test_events_appended_while_a_short_batch_is_processed_are_folded_at_once(
    mongo_db: Any, store: MongoEventStore
) -> None:
    """The worker idles after a short batch; appends made (and notified) while it was
    flushing that batch must not wait for a poll."""
    head = await append_random(store, 20, seed=74)
    appended: list[int] = []
    runner: ProjectionRunner

    async def append_during_flush(toy: Toy, ctx: ProjectionContext) -> None:
        if len(appended) < 5 and not ctx.rebuilding:
            appended.append(await append_one(store, "deal/2", "Added", amount=1))
            runner.notify()

    config = replace(CONFIG, tail_poll_interval=0)  # only notify() may wake the worker
    factory = partial(Toy, "toy", between_writes=append_during_flush)
    published: list[Notification] = []

    async def publish(notes: Any) -> None:
        published.extend(notes)

    runner = ProjectionRunner(mongo_db, store, [factory], config=config, publish=publish)
    async with runner:
        assert await runner.wait_until(head, timeout=20)
        position = await append_one(store, "deal/3", "Added", amount=2)
        runner.notify()
        for _ in range(100):
            if len(appended) == 5:
                break
            await asyncio.sleep(0.02)
        assert len(appended) == 5
        started = time.monotonic()
        assert await runner.wait_until(max(appended[-1], position), timeout=5)
        assert time.monotonic() - started < 2.0
    assert await read_view(mongo_db) == await expected(store)


async def test_stop_is_prompt_when_a_wake_up_lands_with_it(
    mongo_db: Any, store: MongoEventStore
) -> None:
    """A wake-up (notify, the tail poll) completing in the same loop turn as the runner's
    stop: ``asyncio.wait_for`` on Python 3.11 returned the wake-up and dropped the
    cancellation, so the worker idled a whole poll_interval (30 s here) before stopping."""
    runner = ProjectionRunner(mongo_db, store, [Toy], config=CONFIG)
    await runner.start()
    assert await runner.wait_until(0, timeout=5)
    await asyncio.sleep(0.3)  # the worker is idle, waiting for a wake-up
    runner.notify()
    started = time.monotonic()
    await asyncio.wait_for(runner.stop(), 10)
    assert time.monotonic() - started < 2.0


async def test_on_settled_runs_once_every_projection_is_live(
    mongo_db: Any, store: MongoEventStore
) -> None:
    head = await append_random(store, 200, seed=5)  # 5 batches each to catch up
    settled: list[dict[str, int]] = []
    runner: ProjectionRunner

    def on_settled() -> None:
        # Only ever called with every projection caught up and LIVE.
        settled.append({name: w.position for name, w in runner._workers.items()})
        assert all(w.live for w in runner._workers.values())

    factories = [partial(Toy, "left"), partial(Toy, "right")]
    runner = ProjectionRunner(mongo_db, store, factories, config=CONFIG, on_settled=on_settled)
    async with runner:
        assert await runner.wait_until(head, timeout=30)
        for _ in range(200):
            if settled:
                break
            await asyncio.sleep(0.02)
        assert settled == [{"left": head, "right": head}]  # once for both workers
        at = await append_one(store, "deal/1", "Added", amount=3)
        runner.notify()
        assert await runner.wait_until(at, timeout=30)
        await asyncio.sleep(SETTLE_DELAY + 0.2)
        assert len(settled) == 1, "a live batch is not a settle"
