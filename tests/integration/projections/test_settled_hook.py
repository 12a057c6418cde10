"""``ProjectionRunner(on_settled=...)``: called when every projection the process serves has
loaded and turned LIVE (``infrastructure.heap.settle_heap`` settles the heap then), not before
and not per batch."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import pytest

from infrastructure.eventstore.mongo import MongoEventStore
from projections.framework import ProjectionRunner, RunnerConfig, invalidate_active
from projections.framework.runner import SETTLE_DELAY
from tests.integration.projections_framework.toy import Toy, append_one, append_random

pytestmark = pytest.mark.integration

CONFIG = RunnerConfig(
    batch_size=40,
    poll_interval=30.0,
    tail_poll_interval=0.05,
    lease_seconds=5.0,
    backoff_initial=0.01,
    drop_grace=0.0,
    resume_rebuilds=False,
)


async def test_on_settled_runs_once_every_projection_is_live(mongo_db: Any) -> None:
    store = MongoEventStore(mongo_db)
    await store.ensure_indexes()
    invalidate_active()
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
