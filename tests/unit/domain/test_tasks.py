"""stop_task: a stopper cancelled while it waits is still cancelled (the suppress trap)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from domain.tasks import stop_task, stop_tasks, where_waiting

Stopper = Callable[[asyncio.Task[None]], Awaitable[None]]


async def suppressing(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def loop_rounds(stop: Stopper) -> int:
    """A worker loop that stops a helper task at the end of each round, as the projection
    worker stops its lease renewer; it is cancelled while it is stopping the helper (the
    helper takes a moment to finish). Returns how many rounds it ran after that."""
    rounds_after = 0
    cancelled_at: int | None = None

    async def slow_helper() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0.05)  # cleanup that takes a moment (a last store write)

    async def worker() -> None:
        nonlocal rounds_after
        for round_no in range(20):
            helper = asyncio.create_task(slow_helper())
            await asyncio.sleep(0)
            try:
                await asyncio.sleep(0.01)
            finally:
                await stop(helper)
            if cancelled_at is not None and round_no > cancelled_at:
                rounds_after += 1

    task = asyncio.create_task(worker())
    await asyncio.sleep(0.03)  # inside a stop of its helper (it waits 0.05 s there)
    cancelled_at = 0
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
        await asyncio.wait_for(asyncio.shield(task), 2)
    finished = task.done()
    task.cancel()
    await asyncio.wait([task])
    return rounds_after if finished else 999


async def test_the_suppress_pattern_swallows_the_stoppers_own_cancellation() -> None:
    # Why stop_task exists: the worker carried on after being cancelled.
    assert await loop_rounds(suppressing) > 0


async def test_stop_task_lets_the_stoppers_cancellation_through() -> None:
    assert await loop_rounds(stop_task) == 0


async def test_stop_task_consumes_the_tasks_own_outcome() -> None:
    async def fails() -> None:
        raise RuntimeError("logged by itself")

    failing = asyncio.create_task(fails())
    await asyncio.sleep(0)
    await stop_task(failing)  # no exception, and no "never retrieved" warning later
    assert failing.done()
    await stop_task(None)
    sleeping = asyncio.create_task(asyncio.sleep(3600))
    await stop_task(sleeping)
    assert sleeping.cancelled()


async def test_stop_tasks_cancels_again_a_task_that_swallowed_the_first_cancel() -> None:
    swallowed = 0

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:  # as a library turning it into a retried error
                if swallowed == 0:
                    swallowed += 1
                    asyncio.current_task().uncancel()  # type: ignore[union-attr]
                    continue
                raise

    task = asyncio.create_task(stubborn())
    quick = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.sleep(0)
    stuck: list[str] = []
    await asyncio.wait_for(
        stop_tasks(
            [task, quick], grace=0.05, on_stuck=lambda ts: stuck.extend(map(where_waiting, ts))
        ),
        5,
    )
    assert task.cancelled() and quick.cancelled()
    assert swallowed == 1
    assert len(stuck) == 1 and "test_tasks.py" in stuck[0]  # where the stubborn one waited
