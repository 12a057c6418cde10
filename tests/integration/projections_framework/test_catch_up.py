"""Live catch-up against the real embedded store: checkpoints, replays, status, waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from infrastructure.eventstore.mongo import MongoEventStore
from projections.framework import (
    Checkpoints,
    Notification,
    ProjectionRunner,
    ProjectionState,
    RunnerConfig,
)
from tests.integration.projections_framework.toy import (
    Toy,
    append_one,
    append_random,
    expected,
    read_view,
)

pytestmark = pytest.mark.integration


async def test_catches_up_from_zero_and_goes_live(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    head = await append_random(store, 150, seed=1)
    async with ProjectionRunner(mongo_db, store, [Toy], config=fast) as runner:
        assert await runner.wait_until(head, timeout=20)
        assert await read_view(mongo_db) == await expected(store)
        await asyncio.sleep(0.2)  # one idle poll: the worker marks itself LIVE
        (status,) = await runner.status()
    assert status.name == "toy"
    assert status.state is ProjectionState.LIVE
    assert (status.position, status.head_position, status.lag) == (head, head, 0)
    assert status.last_error is None


async def test_checkpoint_survives_restart_and_only_new_events_are_applied(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    first_head = await append_random(store, 80, seed=2)
    async with ProjectionRunner(mongo_db, store, [Toy], config=fast) as runner:
        assert await runner.wait_until(first_head, timeout=20)

    applied: list[int] = []

    class Counting(Toy):
        def apply(self, event: Any) -> None:
            applied.append(event.position)
            super().apply(event)

    second_head = await append_random(store, 40, seed=3)
    async with ProjectionRunner(mongo_db, store, [Counting], config=fast) as runner:
        assert await runner.wait_until(second_head, timeout=20)
    assert applied and min(applied) > first_head, "a restart must resume from its checkpoint"
    assert await read_view(mongo_db) == await expected(store)


class FlakyCheckpoints(Checkpoints):
    """Fails the checkpoint write after the N-th flush, once: flush done, checkpoint not."""

    def __init__(self, db: Any, fail_on_call: int) -> None:
        super().__init__(db)
        self.calls = 0
        self.fail_on_call = fail_on_call
        self.failed_at: int | None = None

    async def advance(self, name: str, generation: int, position: int, *a: Any) -> bool:
        self.calls += 1
        if self.calls == self.fail_on_call:
            self.failed_at = position
            raise RuntimeError("checkpoint write lost")
        return await super().advance(name, generation, position, *a)


async def test_replaying_a_flushed_but_unchecked_batch_changes_nothing(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    head = await append_random(store, 200, seed=4)
    flaky = FlakyCheckpoints(mongo_db, fail_on_call=3)
    async with ProjectionRunner(mongo_db, store, [Toy], config=fast, checkpoints=flaky) as runner:
        assert await runner.wait_until(head, timeout=30)
    assert flaky.failed_at is not None
    assert await read_view(mongo_db) == await expected(store)


async def test_crash_between_the_two_collections_of_a_flush(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    """A flush that wrote one collection and died before the other is replayed exactly."""
    head = await append_random(store, 120, seed=5)
    boom = {"left": 2}

    async def between(toy: Toy, ctx: Any) -> None:
        if toy.flushes == 3 and boom["left"]:
            boom["left"] -= 1
            raise ConnectionResetError("died between the two writes")

    async with ProjectionRunner(
        mongo_db, store, [lambda: Toy(between_writes=between)], config=fast
    ) as runner:
        assert await runner.wait_until(head, timeout=30)
    assert boom["left"] == 0
    assert await read_view(mongo_db) == await expected(store)


async def test_notifications_are_published_after_commit_with_their_position(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    published: list[Notification] = []
    checkpoints = Checkpoints(mongo_db)

    async def publish(notes: Sequence[Notification]) -> None:
        state = await checkpoints.get("toy")
        assert state is not None
        for note in notes:
            assert note.payload["position"] <= state.position, "published before its commit"
        published.extend(notes)

    async with ProjectionRunner(mongo_db, store, [Toy], config=fast, publish=publish) as runner:
        await append_one(store, "deal/1", "Noise")
        position = await append_one(store, "deal/1", "Added", amount=5)
        runner.notify()
        assert await runner.wait_until(position, timeout=10)
        for _ in range(100):  # published right after the commit that wait_until saw
            if published:
                break
            await asyncio.sleep(0.02)
    assert [(n.channel, n.payload["stream"]) for n in published] == [("toy.totals", "1")]
    assert published[0].payload["position"] == position


async def test_notify_wakes_the_runner_without_waiting_for_the_poll(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    slow_poll = replace(fast, poll_interval=30.0)
    async with ProjectionRunner(mongo_db, store, [Toy], config=slow_poll) as runner:
        assert await runner.wait_until(0, timeout=5)
        await asyncio.sleep(0.3)  # idle now
        position = await append_one(store, "deal/7", "Added", amount=1)
        started = time.monotonic()
        runner.notify()
        assert await runner.wait_until(position, timeout=5)
        assert time.monotonic() - started < 2.0


async def test_status_and_wait_until_without_a_running_worker(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    head = await append_random(store, 30, seed=6)
    runner = ProjectionRunner(mongo_db, store, [Toy, lambda: Toy("other")], config=fast)
    before = {s.name: s for s in await runner.status()}
    assert before["toy"].position == 0 and before["toy"].head_position == head
    assert before["toy"].lag == head
    assert await runner.wait_until(head, timeout=0.2) is False

    async with runner:
        assert await runner.wait_until(head, timeout=20)
    more = await append_random(store, 10, seed=7)
    after = {s.name: s for s in await runner.status()}
    for name in ("toy", "other"):
        assert after[name].position == head
        assert after[name].head_position == more
        assert after[name].lag == more - head
    with pytest.raises(KeyError):
        await runner.status(["nope"])
