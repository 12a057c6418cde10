"""One writer per projection across processes: the lease decides who folds."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from infrastructure.eventstore.mongo import MongoEventStore
from projections.framework import ProjectionContext, ProjectionRunner, RunnerConfig
from projections.framework.leases import Leases
from tests.integration.projections_framework.toy import Toy, append_random, expected, read_view

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_lease_is_exclusive_until_released_or_expired(mongo_db: Any) -> None:
    clock = Clock()
    a = Leases(mongo_db, "a", duration=10, clock=clock)
    b = Leases(mongo_db, "b", duration=10, clock=clock)
    assert await a.acquire("p")
    assert await a.acquire("other")
    assert not await b.acquire("p"), "held by a"
    assert await a.acquire("p"), "renewal by the holder"
    clock.now += 11
    assert await b.acquire("p"), "expired: anyone may take it"
    assert not await a.acquire("p")
    await b.release("p")
    assert await a.acquire("p"), "released: free at once"
    assert await b.acquire("b-only")
    assert (await a.holders()) == {"p": "a", "b-only": "b"}  # "other" expired with the clock


async def test_only_the_lease_holder_writes_and_a_standby_takes_over(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    flushes = {"a": 0, "b": 0}

    def tagged(tag: str) -> type[Toy]:
        class Tagged(Toy):
            async def flush(self, ctx: ProjectionContext) -> list[Any]:
                flushes[tag] += 1
                return await super().flush(ctx)

        return Tagged

    head = await append_random(store, 60, seed=20)
    a = ProjectionRunner(mongo_db, store, [tagged("a")], config=fast, owner="process-a")
    b = ProjectionRunner(mongo_db, store, [tagged("b")], config=fast, owner="process-b")
    await a.start()
    assert await a.wait_until(head, timeout=10)
    await b.start()
    for seed in range(21, 25):
        head = await append_random(store, 15, seed=seed)
        a.notify()
        b.notify()
        await asyncio.sleep(fast.lease_seconds / 4)
    assert await b.wait_until(head, timeout=10), "a standby can still wait (via the store)"
    assert flushes["a"] > 0 and flushes["b"] == 0, "the standby never folded anything"

    await a.stop()  # releases its lease: b takes over without waiting for expiry
    head = await append_random(store, 40, seed=26)
    b.notify()
    assert await b.wait_until(head, timeout=10)
    assert flushes["b"] > 0
    await b.stop()
    assert await read_view(mongo_db) == await expected(store)
