"""Poison events: retried with backoff, then PAUSED with the error visible; resume or skip.
Other projections keep going meanwhile."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from infrastructure.eventstore.mongo import MongoEventStore
from projections.framework import (
    Checkpoints,
    ProjectionRunner,
    ProjectionState,
    ProjectionStatus,
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


async def wait_for_state(
    runner: ProjectionRunner, name: str, state: ProjectionState, polls: int = 200
) -> ProjectionStatus:
    for _ in range(polls):
        (status,) = await runner.status([name])
        if status.state is state:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name} never reached {state}: {status}")


async def test_poison_pauses_after_retries_others_go_on_and_skip_resumes(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    await append_random(store, 40, seed=10, noise=False)
    poison = await append_one(store, "deal/3", "Added", amount=1000, poison=True)
    head = await append_random(store, 40, seed=11)
    steady = lambda: Toy("steady", poison_ok=lambda: True)  # noqa: E731
    async with ProjectionRunner(mongo_db, store, [Toy, steady], config=fast) as runner:
        paused = await wait_for_state(runner, "toy", ProjectionState.PAUSED)
        assert paused.position == poison - 1, "everything before the poison is committed"
        assert paused.last_error is not None
        assert f"position {poison}" in paused.last_error and "poison event" in paused.last_error
        stored = await Checkpoints(mongo_db).get("toy")
        assert stored is not None and stored.error is not None
        assert stored.error.attempts == fast.retries + 1
        # The healthy projection did not wait for the sick one.
        assert await runner.wait_until(head, timeout=10, names=["steady"])
        assert await runner.wait_until(head, timeout=5) is False  # toy is PAUSED: no wait
        assert await read_view(mongo_db, "steady") == await expected(store)

        assert await runner.skip("toy")
        assert await runner.wait_until(head, timeout=10)
        (status,) = await runner.status(["toy"])
        assert status.last_error is None
        assert status.state in (ProjectionState.LIVE, ProjectionState.CATCHING_UP)
        skipped = await runner.skipped("toy")
        assert [(s["position"], s["event_type"]) for s in skipped] == [(poison, "Added")]
    assert await read_view(mongo_db) == await expected(store, skipped=[poison])
    assert await runner.skip("toy") is False, "nothing to skip once it is running again"


async def test_resume_retries_the_event_after_a_fix(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    fixed = {"ok": False}
    await append_random(store, 20, seed=12)
    await append_one(store, "deal/1", "Added", amount=7, poison=True)
    head = await append_random(store, 20, seed=13)
    factory = lambda: Toy(poison_ok=lambda: fixed["ok"])  # noqa: E731
    async with ProjectionRunner(mongo_db, store, [factory], config=fast) as runner:
        await wait_for_state(runner, "toy", ProjectionState.PAUSED)
        await asyncio.sleep(0.2)
        (still,) = await runner.status()
        assert still.state is ProjectionState.PAUSED, "a paused projection waits for an operator"
        fixed["ok"] = True
        assert await runner.resume("toy")
        assert await runner.wait_until(head, timeout=10)
    assert await read_view(mongo_db) == await expected(store)
    assert await runner.skipped("toy") == []


async def test_a_failing_flush_is_narrowed_down_to_its_event(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    """A flush error names no event: the batch is replayed event by event to find it."""

    class Refuses666(Toy):
        async def flush(self, ctx: Any) -> list[Any]:
            if "666" in self.totals.changed_keys():
                raise ValueError("unique index clash on 666")
            return await super().flush(ctx)

    await append_random(store, 30, seed=14, clears=False)
    bad = await append_one(store, "deal/666", "Added", amount=1)
    head = await append_random(store, 30, seed=15, clears=False)
    async with ProjectionRunner(mongo_db, store, [Refuses666], config=fast) as runner:
        paused = await wait_for_state(runner, "toy", ProjectionState.PAUSED)
        assert paused.position == bad - 1
        assert paused.last_error is not None and "unique index clash" in paused.last_error
        assert await runner.skip("toy")
        assert await runner.wait_until(head, timeout=10)
    assert await read_view(mongo_db) == await expected(store, skipped=[bad])
