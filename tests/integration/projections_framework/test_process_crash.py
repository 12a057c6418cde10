"""kill -9 a runner process mid-batch, restart: the result equals a fresh fold."""

from __future__ import annotations

import asyncio
import random
import sys
from typing import Any

import pytest

from infrastructure.eventstore.mongo import MongoEventStore
from projections.framework import (
    Checkpoints,
    ProjectionRunner,
    RunnerConfig,
    active_collection,
    invalidate_active,
)
from tests.conftest import ROOT
from tests.integration.projections_framework.toy import (
    Toy,
    append_random,
    expected,
    read_generation,
    read_view,
)

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

MODULE = "tests.integration.projections_framework.runner_process"


async def spawn(url: str, db: str, owner: str, *extra: str) -> Any:
    args = [url, db, owner, *extra]
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", MODULE, *args, cwd=str(ROOT),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def position(checkpoints: Checkpoints) -> int:
    state = await checkpoints.get("toy")
    return state.position if state else 0


async def max_pos(db: Any, collection: str) -> int:
    doc = await db[collection].find_one({}, sort=[("_pos", -1)])
    return int(doc["_pos"]) if doc else 0


async def test_kill_9_mid_batch_then_restart_equals_a_fresh_fold(
    mongo_url: str, mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    checkpoints = Checkpoints(mongo_db)
    head = await append_random(store, 600, seed=40)

    # 1. Deterministic: the process kills itself between the two writes of its 6th flush.
    proc = await spawn(mongo_url, mongo_db.name, "victim-1", "6")
    assert await asyncio.wait_for(proc.wait(), 30) == -9
    checkpointed = await position(checkpoints)
    assert await max_pos(mongo_db, "toy_totals__g1") > checkpointed, "killed mid-batch"
    assert await max_pos(mongo_db, "toy_types__g1") <= checkpointed

    # 2. External kill -9 at a random moment, after some progress (and more appends).
    await append_random(store, 100, seed=41)
    proc = await spawn(mongo_url, mongo_db.name, "victim-2")
    for _ in range(600):
        if await position(checkpoints) > checkpointed + 100:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(random.uniform(0.0, 0.05))
    proc.kill()
    await proc.wait()
    assert await position(checkpoints) < await store.head_position(), "killed before the end"

    # 3. A new runner takes over once the dead one's lease expires, and finishes the job.
    head = await append_random(store, 50, seed=42)
    async with ProjectionRunner(mongo_db, store, [Toy], config=fast, owner="survivor") as runner:
        assert await runner.wait_until(head, timeout=30)
    assert await read_view(mongo_db) == await expected(store)


async def test_kill_9_mid_rebuild_then_a_new_runner_resumes_it(
    mongo_url: str, mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    checkpoints = Checkpoints(mongo_db)
    head = await append_random(store, 500, seed=43)
    # Dies inside the rebuild's 4th flush: shadow half-written, its progress not recorded.
    proc = await spawn(mongo_url, mongo_db.name, "rebuilder", "4", "rebuild")
    assert await asyncio.wait_for(proc.wait(), 30) == -9
    state = await checkpoints.get("toy")
    assert state is not None and state.generation == 1 and state.rebuild is not None
    assert state.rebuild.error is None, "a kill leaves no trace but the record itself"
    recorded = state.rebuild.position
    assert await max_pos(mongo_db, "toy_totals__g2") > recorded, "killed mid-flush"
    invalidate_active()
    assert (await active_collection(mongo_db, "toy", "toy_totals")).name == "toy_totals__g1"

    # A new runner resumes it by itself once the dead process's rebuild lease expires.
    async with ProjectionRunner(mongo_db, store, [Toy], config=fast, owner="next") as runner:
        for _ in range(300):
            state = await checkpoints.get("toy")
            if state is not None and state.generation == 2:
                break
            await asyncio.sleep(0.05)
        assert state is not None and state.generation == 2 and state.rebuild is None
        assert await runner.wait_until(head, timeout=10)
    assert await read_view(mongo_db) == await expected(store)
    assert await read_generation(mongo_db, "toy", 2) == await expected(store)
