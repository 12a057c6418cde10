"""Why Pulse has its own Redis backend: broadcaster 0.3.1 + redis-py 8 loses messages.

The same scenarios run against the stock ``broadcaster.Broadcast("redis://...")`` and against
our ``ChannelHub`` over ``RedisBackend``. For the stock backend the test asserts that the
scenario FAILS (the bug is there); should a broadcaster upgrade fix it, that assertion fails
the suite, which is our cue to re-check whether the workaround is still needed.

What the stock backend does (see broadcaster/_backends/redis.py and _base.py):
* ``RedisBackend.subscribe`` sets ``_ready`` *before* awaiting the SUBSCRIBE; its reader
  wakes, calls ``pubsub.listen()`` while redis-py has no channel registered yet, the loop
  ends at once and the reader goes back to waiting: the first subscription's messages sit
  unread in the socket until some later subscribe re-arms the reader.
* ``Broadcast.subscribe`` checks its table, awaits the backend, then writes
  ``_subscribers[channel] = {queue}``: a concurrent second subscriber overwrites the first
  one's queue (which then never receives anything) and leaving raises ``KeyError``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

import pytest
from broadcaster import Broadcast

from infrastructure.broadcast import ChannelHub, RedisBackend
from tests.integration.broadcast.conftest import unique_client_name

pytestmark = pytest.mark.integration

RECEIVE_TIMEOUT = 1.5  # far longer than a local round trip: a miss is a loss, not a race


class Receiver(Protocol):
    async def get(self) -> str: ...


class Impl(Protocol):
    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[Receiver]: ...

    async def publish(self, channel: str, text: str) -> None: ...


class StockImpl:
    """broadcaster as documented: ``Broadcast(url)``, str messages."""

    def __init__(self, broadcast: Broadcast) -> None:
        self._broadcast = broadcast

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Receiver]:
        async with self._broadcast.subscribe(channel) as subscriber:

            class _Rx:
                async def get(self) -> str:
                    return (await subscriber.get()).message

            yield _Rx()

    async def publish(self, channel: str, text: str) -> None:
        await self._broadcast.publish(channel, text)


class PulseImpl:
    """Our hub: JSON objects on the wire, the text carried in one field."""

    def __init__(self, hub: ChannelHub) -> None:
        self._hub = hub

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Receiver]:
        async with self._hub.subscribe(channel) as messages:

            class _Rx:
                async def get(self) -> str:
                    return str((await anext(messages))["text"])

            yield _Rx()

    async def publish(self, channel: str, text: str) -> None:
        assert await self._hub.publish(channel, {"text": text})


@pytest.fixture(params=["stock", "pulse"])
async def impl(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[Impl]:
    if request.param == "stock":
        broadcast = Broadcast(redis_url)
        await broadcast.connect()
        try:
            yield StockImpl(broadcast)
        finally:
            await broadcast.disconnect()
    else:
        hub = ChannelHub(RedisBackend(redis_url, client_name=unique_client_name()))
        await hub.connect()
        try:
            yield PulseImpl(hub)
        finally:
            await hub.disconnect()


async def _receive(receiver: Receiver) -> str | None:
    try:
        return await asyncio.wait_for(receiver.get(), RECEIVE_TIMEOUT)
    except TimeoutError:
        return None


def expect_bug_if_stock(impl: Impl) -> contextlib.AbstractContextManager[object]:
    """The stock backend must show the bug (AssertionError); ours must not."""
    if isinstance(impl, StockImpl):
        return pytest.raises(AssertionError)
    return contextlib.nullcontext()


async def test_first_subscriber_receives(impl: Impl, channel: str) -> None:
    with expect_bug_if_stock(impl):
        await first_subscriber_scenario(impl, channel)


async def first_subscriber_scenario(impl: Impl, channel: str) -> None:
    async with impl.subscribe(channel) as receiver:
        await impl.publish(channel, "hello")
        received = await _receive(receiver)
    assert received == "hello", f"first subscriber got {received!r} within {RECEIVE_TIMEOUT}s"


async def test_two_concurrent_subscribers_both_receive_and_leave_cleanly(
    impl: Impl, channel: str
) -> None:
    with expect_bug_if_stock(impl):
        await two_subscribers_scenario(impl, channel)


async def two_subscribers_scenario(impl: Impl, channel: str) -> None:
    entered = 0
    both_in = asyncio.Event()
    published = asyncio.Event()

    async def subscriber() -> str | None:
        nonlocal entered
        async with impl.subscribe(channel) as receiver:
            entered += 1
            if entered == 2:
                both_in.set()
            await published.wait()
            return await _receive(receiver)

    tasks = [asyncio.create_task(subscriber()) for _ in range(2)]
    await asyncio.wait_for(both_in.wait(), 5)
    await impl.publish(channel, "hello")
    published.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert outcomes == ["hello", "hello"], f"outcomes: {outcomes!r}"
