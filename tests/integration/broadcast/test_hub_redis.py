"""What only the Redis backend can show: one subscription per channel per process, several
processes, and surviving a dropped connection. Uses the shared Redis on 127.0.0.1:6379:
unique channel and client names, and connections are dropped one by one (never the server).
"""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from infrastructure.broadcast import (
    BroadcastUnavailable,
    ChannelHub,
    Payload,
    RedisBackend,
    Subscription,
    create_hub,
    is_resync,
)
from tests.integration.broadcast.conftest import HubFactory, numsub

pytestmark = pytest.mark.integration

TIMEOUT = 3.0


async def next_message(messages: Subscription) -> Payload:
    return await asyncio.wait_for(anext(messages), TIMEOUT)


def client_name(hub: ChannelHub) -> str:
    backend = hub.backend
    assert isinstance(backend, RedisBackend)
    return backend._client_name


async def client_id(admin: Redis, name: str) -> int:
    [client] = [c for c in await admin.client_list() if c["name"] == name]
    return int(client["id"])


async def test_fifty_local_subscribers_share_one_redis_subscription(
    make_redis_hub: HubFactory, redis_admin: Redis, channel: str
) -> None:
    hub = await make_redis_hub()
    all_in = asyncio.Event()

    async def subscriber() -> list[Payload]:
        async with hub.subscribe(channel) as messages:
            if hub.subscriber_count(channel) == 50:
                all_in.set()
            return [await next_message(messages) for _ in range(3)]

    tasks = [asyncio.create_task(subscriber()) for _ in range(50)]
    await asyncio.wait_for(all_in.wait(), TIMEOUT)
    assert await numsub(redis_admin, channel) == 1
    for n in range(3):
        await hub.publish(channel, {"n": n})
    assert all(r == [{"n": 0}, {"n": 1}, {"n": 2}] for r in await asyncio.gather(*tasks))
    await hub.wait_idle()
    assert await numsub(redis_admin, channel) == 0


async def test_two_processes_receive_what_a_third_publishes(
    make_redis_hub: HubFactory, redis_admin: Redis, channel: str
) -> None:
    first, second, publisher = [await make_redis_hub() for _ in range(3)]
    async with first.subscribe(channel) as a, second.subscribe(channel) as b:
        assert await numsub(redis_admin, channel) == 2  # one per process
        assert await publisher.publish(channel, {"position": 42})
        assert await next_message(a) == {"position": 42}
        assert await next_message(b) == {"position": 42}


async def test_cancel_unsubscribes_from_redis(
    make_redis_hub: HubFactory, redis_admin: Redis, channel: str
) -> None:
    hub = await make_redis_hub()
    entered = asyncio.Event()

    async def client() -> None:
        async with hub.subscribe(channel):
            entered.set()
            await asyncio.Event().wait()

    tasks = [asyncio.create_task(client()) for _ in range(10)]
    await asyncio.wait_for(entered.wait(), TIMEOUT)
    assert await numsub(redis_admin, channel) == 1
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await hub.wait_idle()
    assert await numsub(redis_admin, channel) == 0
    assert (hub.subscriber_count(), hub._channels, hub._tasks) == (0, {}, set())


async def test_rapid_subscribe_unsubscribe_churn_ends_consistent(
    make_redis_hub: HubFactory, redis_admin: Redis, channel: str
) -> None:
    hub = await make_redis_hub()

    async def churn() -> None:
        async with hub.subscribe(channel):
            pass

    await asyncio.gather(*(churn() for _ in range(30)))
    async with hub.subscribe(channel) as messages:
        await hub.publish(channel, {"ok": 1})
        assert await next_message(messages) == {"ok": 1}
        assert await numsub(redis_admin, channel) == 1
    await hub.wait_idle()
    assert await numsub(redis_admin, channel) == 0


async def test_reconnects_resubscribes_and_signals_after_the_connection_is_killed(
    make_redis_hub: HubFactory, redis_admin: Redis, channel: str
) -> None:
    hub = await make_redis_hub()
    async with hub.subscribe(channel) as messages, hub.subscribe(channel) as other:
        name = f"{client_name(hub)}-sub"
        old_id = await client_id(redis_admin, name)
        # CLIENT KILL TYPE pubsub, narrowed to this hub's connection: the Redis is shared.
        killed = await redis_admin.client_kill_filter(_type="pubsub", _id=str(old_id))
        assert killed == 1
        # Every local subscriber is told to re-read state ...
        assert await next_message(messages) == {"resync": "reconnected", "dropped": 0}
        assert await next_message(other) == {"resync": "reconnected", "dropped": 0}
        assert hub.reconnect_count == 1
        # ... only after the channel is subscribed again, on a new connection.
        assert await numsub(redis_admin, channel) == 1
        assert await client_id(redis_admin, name) != old_id
        await hub.publish(channel, {"after": "restart"})
        assert await next_message(messages) == {"after": "restart"}
        assert await next_message(other) == {"after": "restart"}


async def test_publisher_survives_its_connection_being_killed(
    make_redis_hub: HubFactory, redis_admin: Redis, channel: str
) -> None:
    hub = await make_redis_hub()
    async with hub.subscribe(channel) as messages:
        await hub.publish(channel, {"n": 1})
        assert await next_message(messages) == {"n": 1}
        pub_id = await client_id(redis_admin, f"{client_name(hub)}-pub")
        assert await redis_admin.client_kill_filter(_id=str(pub_id)) == 1
        assert await hub.publish(channel, {"n": 2})  # redis-py retries on a new connection
        assert await next_message(messages) == {"n": 2}
        assert hub.reconnect_count == 0  # the subscriber side never noticed


async def test_foreign_non_json_messages_are_dropped_not_fatal(
    make_redis_hub: HubFactory, redis_admin: Redis, channel: str
) -> None:
    hub = await make_redis_hub()
    async with hub.subscribe(channel) as messages:
        await redis_admin.publish(channel, b"\xff not json")
        await redis_admin.publish(channel, "[1, 2]")
        await redis_admin.publish(channel, '{"fine": true}')
        assert await next_message(messages) == {"fine": True}


async def test_backend_subscribe_returns_only_when_live(redis_url: str, channel: str) -> None:
    """Backend level, no hub: subscribe/unsubscribe/subscribe, then publish at once."""
    backend = RedisBackend(redis_url, client_name="pulse-test-backend")
    await backend.connect()
    try:
        for _ in range(3):
            await backend.subscribe(channel)
            await backend.unsubscribe(channel)
        await backend.subscribe(channel)
        await backend.publish(channel, {"n": 1})
        event = await asyncio.wait_for(backend.next_published(), TIMEOUT)
        assert (event.channel, event.payload) == (channel, {"n": 1})  # type: ignore[union-attr]
    finally:
        await backend.disconnect()


async def test_unreachable_redis_fails_fast_on_connect() -> None:
    backend = RedisBackend("redis://127.0.0.1:1/0", connect_timeout=0.5)
    with pytest.raises(BroadcastUnavailable, match="cannot connect"):
        await backend.connect()
    assert backend._reader is None


async def test_publish_reports_an_unreachable_redis(
    make_redis_hub: HubFactory, caplog: pytest.LogCaptureFixture
) -> None:
    hub = await make_redis_hub()
    backend = hub.backend
    assert isinstance(backend, RedisBackend)
    # Point the publisher at a dead port, as if Redis had gone away for good.
    assert backend._publisher is not None
    await backend._publisher.aclose()
    backend._publisher = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    assert await hub.publish("nowhere", {"n": 1}) is False
    assert "not sent" in caplog.text


def test_create_hub_picks_the_backend_and_hides_passwords() -> None:
    assert not isinstance(create_hub(None).backend, RedisBackend)
    assert not isinstance(create_hub("memory://").backend, RedisBackend)
    assert isinstance(create_hub("redis://:pw@localhost:6379/0").backend, RedisBackend)
    with pytest.raises(ValueError, match="unsupported") as info:
        create_hub("kafka://user:s3cret@host")
    assert "s3cret" not in str(info.value)


def test_is_resync() -> None:
    assert is_resync({"resync": "overflow", "dropped": 3})
    assert not is_resync({"position": 1})
