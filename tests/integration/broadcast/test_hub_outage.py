"""A Redis outage (down for a while, then back) must not kill the process or the hub.

The shared Redis is never stopped: the hub talks to it through a TCP proxy that the test
takes down (every connection cut, new ones refused) and brings back on the same port.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from infrastructure.broadcast import BroadcastUnavailable, ChannelHub, RedisBackend
from tests.integration.broadcast.conftest import eventually, numsub, unique_client_name
from tests.integration.broadcast.proxy import TcpProxy

pytestmark = [pytest.mark.integration, pytest.mark.reliability]

TIMEOUT = 5.0
RECONNECTED = {"resync": "reconnected", "dropped": 0}


@pytest.fixture
async def make_proxied_hub(
    redis_proxy: TcpProxy,
) -> AsyncIterator[Callable[..., Awaitable[ChannelHub]]]:
    hubs: list[ChannelHub] = []

    async def make(**options: Any) -> ChannelHub:
        backend = RedisBackend(
            redis_proxy.url,
            client_name=unique_client_name(),
            reconnect_delay=(0.05, 0.2),
            connect_timeout=1.0,
            **options,
        )
        hub = ChannelHub(backend)
        await hub.connect()
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        await hub.disconnect()


async def test_outage_then_recovery_resubscribes_and_signals(
    make_proxied_hub: Callable[..., Awaitable[ChannelHub]],
    redis_proxy: TcpProxy,
    redis_admin: Redis,
    channel: str,
) -> None:
    hub = await make_proxied_hub()
    async with hub.subscribe(channel) as messages:
        await redis_proxy.stop()

        async def gone() -> bool:
            return await numsub(redis_admin, channel) == 0

        await eventually(gone)
        assert await hub.publish(channel, {"lost": True}) is False  # reported, not raised
        await asyncio.sleep(0.5)  # down for a while: the reader keeps retrying
        await redis_proxy.start()
        assert await asyncio.wait_for(anext(messages), TIMEOUT) == RECONNECTED
        assert hub.reconnect_count == 1
        assert await numsub(redis_admin, channel) == 1
        assert await hub.publish(channel, {"after": True})
        assert await asyncio.wait_for(anext(messages), TIMEOUT) == {"after": True}


async def test_a_subscriber_arriving_during_the_outage_waits_for_redis(
    make_proxied_hub: Callable[..., Awaitable[ChannelHub]],
    redis_proxy: TcpProxy,
    channel: str,
) -> None:
    hub = await make_proxied_hub()
    await redis_proxy.stop()
    await asyncio.sleep(0.1)

    async def late_subscriber() -> object:
        async with hub.subscribe(channel) as messages:
            await hub.publish(channel, {"hello": 1})
            return await asyncio.wait_for(anext(messages), TIMEOUT)

    task = asyncio.create_task(late_subscriber())
    await asyncio.sleep(0.3)
    assert not task.done()  # not reported ready while Redis cannot confirm it
    await redis_proxy.start()
    assert await asyncio.wait_for(task, TIMEOUT) == {"hello": 1}


async def test_subscribe_gives_up_after_its_timeout_and_leaves_nothing(
    make_proxied_hub: Callable[..., Awaitable[ChannelHub]],
    redis_proxy: TcpProxy,
    redis_admin: Redis,
    channel: str,
) -> None:
    hub = await make_proxied_hub(subscribe_timeout=0.3)
    await redis_proxy.stop()
    with pytest.raises(BroadcastUnavailable):
        async with hub.subscribe(channel):
            pass
    await hub.wait_idle()
    assert (hub.subscriber_count(), hub._channels, hub._tasks) == (0, {}, set())
    await redis_proxy.start()
    await asyncio.sleep(0.5)  # reconnected by now
    assert await numsub(redis_admin, channel) == 0  # the abandoned channel was not revived
    async with hub.subscribe(channel) as messages:
        await hub.publish(channel, {"n": 1})
        assert await asyncio.wait_for(anext(messages), TIMEOUT) == {"n": 1}


async def test_a_silent_connection_is_detected_by_ping_and_replaced(
    make_proxied_hub: Callable[..., Awaitable[ChannelHub]],
    redis_proxy: TcpProxy,
    redis_admin: Redis,
    channel: str,
) -> None:
    hub = await make_proxied_hub(ping_interval=0.2, reply_timeout=0.3)
    async with hub.subscribe(channel) as messages:
        redis_proxy.freeze()  # no error, no close: just silence
        assert await asyncio.wait_for(anext(messages), TIMEOUT) == RECONNECTED
        assert await hub.publish(channel, {"n": 1})
        assert await asyncio.wait_for(anext(messages), TIMEOUT) == {"n": 1}


async def test_a_subscribe_whose_reply_never_comes_is_retried_on_a_new_connection(
    make_proxied_hub: Callable[..., Awaitable[ChannelHub]],
    redis_proxy: TcpProxy,
    redis_admin: Redis,
    channel: str,
) -> None:
    hub = await make_proxied_hub(reply_timeout=0.3)
    async with hub.subscribe(channel + "-warm"):  # the connection is in pub/sub mode
        redis_proxy.freeze()  # the SUBSCRIBE below goes out but its reply never comes
        async with hub.subscribe(channel) as messages:
            assert await numsub(redis_admin, channel) == 1
            assert await hub.publish(channel, {"n": 1})
            assert await asyncio.wait_for(anext(messages), TIMEOUT) == {"n": 1}
        assert hub.reconnect_count == 1


async def test_disconnecting_the_hub_fails_pending_subscribers_cleanly(
    make_proxied_hub: Callable[..., Awaitable[ChannelHub]],
    redis_proxy: TcpProxy,
    channel: str,
) -> None:
    hub = await make_proxied_hub()
    await redis_proxy.stop()

    async def waiting() -> None:
        async with hub.subscribe(channel):
            pass

    task = asyncio.create_task(waiting())
    await asyncio.sleep(0.1)
    await hub.disconnect()
    with pytest.raises(BroadcastUnavailable, match="disconnected"):
        await task
    assert (hub.subscriber_count(), hub._tasks, hub.connected) == (0, set(), False)
