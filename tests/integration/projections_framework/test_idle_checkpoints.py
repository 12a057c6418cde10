"""A LIVE projection that handles none of a batch's events writes its checkpoint later
(``RunnerConfig.idle_checkpoint_delay``), and the runner's watch for other processes'
appends does not ask the store when a read has just come back. Real embedded store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from infrastructure.eventstore.mongo import MongoEventStore
from projections.framework import Checkpoints, ProjectionRunner, RunnerConfig
from tests.integration.projections_framework.toy import (
    Toy,
    append_one,
    append_random,
    expected,
    read_view,
)

pytestmark = pytest.mark.integration


async def stored_position(db: Any, name: str = "toy") -> int:
    checkpoint = await Checkpoints(db).get(name)
    return checkpoint.position if checkpoint is not None else 0


async def until(check: Callable[[], Any], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def stored_is(db: Any, position: int) -> bool:
    return await stored_position(db) == position


async def skipped_noise(runner: ProjectionRunner, store: MongoEventStore, head: int) -> int:
    """Once the worker is LIVE at ``head``: append an event it does not handle and wait until
    it has passed it (in memory). Returns the event's position."""
    assert await runner.wait_until(head, timeout=20)
    await asyncio.sleep(0.2)  # LIVE (an idle poll at the head)
    noise = await append_one(store, "deal/1", "Noise", x=1)
    runner.notify()
    await live_at(runner, noise)
    return noise


async def live_at(runner: ProjectionRunner, position: int) -> None:
    """Wait until the worker is at ``position`` in memory (``status`` shows that; unlike
    ``wait_until`` it does not write the checkpoint)."""

    async def there() -> bool:
        (status,) = await runner.status()
        return status.position >= position

    await until(there)


async def test_a_batch_with_nothing_to_do_is_checkpointed_once_quiet_not_at_once(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    config = replace(fast, idle_checkpoint_delay=1.0, idle_checkpoint_max_age=30.0)
    head = await append_random(store, 20, seed=11)
    async with ProjectionRunner(mongo_db, store, [Toy], config=config) as runner:
        noise = await skipped_noise(runner, store, head)
        # In memory (status, lag 0), not stored yet: that write would have queued in front
        # of the writes of projections that had something to do.
        (status,) = await runner.status()
        assert (status.position, status.lag) == (noise, 0)
        assert await stored_position(mongo_db) == head
        started = time.monotonic()
        await until(lambda: stored_is(mongo_db, noise))
        assert time.monotonic() - started >= 0.5  # ~1 s of quiet, then written
        # A batch with work is written at once, and carries the skipped position along.
        added = await append_one(store, "deal/1", "Added", amount=5)
        runner.notify()
        await live_at(runner, added)
        await until(lambda: stored_is(mongo_db, added), seconds=0.5)
    assert await read_view(mongo_db) == await expected(store)


async def test_wait_until_writes_a_position_kept_in_memory(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    config = replace(fast, idle_checkpoint_delay=60.0, idle_checkpoint_max_age=60.0)
    head = await append_random(store, 10, seed=12)
    async with ProjectionRunner(mongo_db, store, [Toy], config=config) as runner:
        noise = await skipped_noise(runner, store, head)
        assert await stored_position(mongo_db) == head
        # Its callers read stored checkpoints next (the list's count compares two of them).
        assert await runner.wait_until(noise, timeout=5)
        assert await stored_position(mongo_db) == noise


async def test_a_steady_stream_of_such_batches_is_still_checkpointed_every_max_age(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    config = replace(fast, idle_checkpoint_delay=60.0, idle_checkpoint_max_age=0.3)
    head = await append_random(store, 10, seed=13)
    async with ProjectionRunner(mongo_db, store, [Toy], config=config) as runner:
        assert await runner.wait_until(head, timeout=20)
        await asyncio.sleep(0.2)
        seen: list[int] = []
        started = time.monotonic()
        while time.monotonic() - started < 1.5:  # never quiet for the 60 s delay
            position = await append_one(store, "deal/3", "Noise", x=3)
            runner.notify()
            await asyncio.sleep(0.03)
            seen.append(position)
        stored = await stored_position(mongo_db)
        # Written at least every 0.3 s of the stream: well past its first half.
        assert stored >= seen[len(seen) // 2], (stored, seen)


async def test_a_restart_reads_again_what_was_only_in_memory(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    config = replace(fast, idle_checkpoint_delay=60.0, idle_checkpoint_max_age=60.0)
    head = await append_random(store, 15, seed=14)
    async with ProjectionRunner(mongo_db, store, [Toy], config=config) as runner:
        await skipped_noise(runner, store, head)
    # Stopped (or crashed) before the write: nothing lost, the events are read again.
    assert await stored_position(mongo_db) == head
    added = await append_one(store, "deal/4", "Added", amount=7)
    async with ProjectionRunner(mongo_db, store, [Toy], config=config) as runner:
        assert await runner.wait_until(added, timeout=20)
    assert await stored_position(mongo_db) == added
    assert await read_view(mongo_db) == await expected(store)


class CountingStore(MongoEventStore):
    heads = 0

    async def head_position(self) -> int:
        self.heads += 1
        return await super().head_position()


async def test_the_tail_watch_asks_the_store_only_when_no_read_came_back_recently(
    mongo_db: Any, fast: RunnerConfig
) -> None:
    store = CountingStore(mongo_db)
    await store.ensure_indexes()
    config = replace(fast, tail_poll_interval=0.1, poll_interval=30.0)
    async with ProjectionRunner(mongo_db, store, [Toy], config=config) as runner:
        assert await runner.wait_until(0, timeout=5)
        await asyncio.sleep(0.3)
        # Idle: it polls for other processes' appends, one query per interval.
        before = store.heads
        await asyncio.sleep(1.0)
        idle_polls = store.heads - before
        assert idle_polls >= 5
        # Busy reading the log (appends through another store object, so the workers read
        # them back rather than being handed them; each read comes back within the interval).
        writer = MongoEventStore(mongo_db)
        before = store.heads
        started = time.monotonic()
        while time.monotonic() - started < 1.0:
            await append_one(writer, "deal/5", "Added", amount=1)
            runner.notify()
            await asyncio.sleep(0.02)
        assert store.heads - before <= 2
        # An append that nobody notifies about (another process's) is still seen.
        other = await append_one(store, "deal/6", "Added", amount=2)
        started = time.monotonic()
        assert await runner.wait_until(other, timeout=5)
        assert time.monotonic() - started < 2.0  # the watch, not the 30 s idle poll
