"""A task cancelled just as what it waits for completes is cancelled (Python 3.11's
``asyncio.wait_for`` drops such a cancellation; see infrastructure/cancellation.py)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from infrastructure import cancellation
from infrastructure.mongo.client import create_client  # noqa: F401 - installs the patch
from infrastructure.webhooks.processor import InboxDrainer

WaitFor = Callable[[Awaitable[int], float | None], Awaitable[int]]


async def _race(wait_for: WaitFor) -> str:
    """Cancel the waiting task in the same loop pass as its inner future completes."""
    inner: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def waiter() -> int:
        return await wait_for(inner, 10)

    task = asyncio.create_task(waiter())
    await asyncio.sleep(0)  # the task now waits on inner
    inner.set_result(1)
    task.cancel()
    try:
        return f"returned {await task}"
    except asyncio.CancelledError:
        return "cancelled"


async def test_a_cancellation_that_meets_the_result_wins() -> None:
    assert await _race(cancellation.wait_for) == "cancelled"
    if sys.version_info < (3, 12):  # the bug being worked around, while it exists here
        assert await _race(asyncio.wait_for) == "returned 1"


async def test_wait_for_returns_results_and_times_out_like_asyncio() -> None:
    async def value() -> int:
        return 7

    assert await cancellation.wait_for(value(), None) == 7
    assert await cancellation.wait_for(value(), 1) == 7
    with pytest.raises(TimeoutError):
        await cancellation.wait_for(asyncio.sleep(5, 1), 0.01)


def test_pymongo_connects_and_sends_through_the_safe_wait_for() -> None:
    import pymongo.network_layer
    import pymongo.pool_shared

    assert cancellation.installed()
    for module in (pymongo.pool_shared, pymongo.network_layer):
        proxy: Any = getattr(module, "asyncio")  # noqa: B009 - not an exported name
        assert proxy.wait_for is cancellation.wait_for
        assert proxy.get_running_loop is asyncio.get_running_loop  # the rest is asyncio's
    cancellation.install()  # idempotent
    assert getattr(pymongo.pool_shared, "asyncio").wait_for is cancellation.wait_for  # noqa: B009


class _EmptyInbox:
    async def claim_batch(self, size: int) -> list[Any]:
        return []


@pytest.mark.parametrize("passes", range(6))
async def test_the_inbox_drainer_stops_when_cancelled_as_it_is_woken(passes: int) -> None:
    drainer = InboxDrainer(_EmptyInbox(), None, poll_interval=30)  # type: ignore[arg-type]
    drainer.start()
    task = drainer._task
    assert task is not None
    await asyncio.sleep(0.01)  # waiting for a wake-up
    drainer.wake()
    for _ in range(passes):  # the wake-up's way through the loop, one pass at a time
        await asyncio.sleep(0)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=2)
    assert done, f"the drainer went on after a cancel {passes} pass(es) after its wake-up"
    await drainer.stop()
