"""The ChannelHub contract, run against both backends (in-process and real Redis)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncGenerator
from typing import Any

import pytest

from infrastructure.broadcast import ChannelHub, Payload, Subscription, is_resync
from tests.integration.broadcast.conftest import HubFactory, eventually

pytestmark = pytest.mark.integration

TIMEOUT = 3.0


async def next_message(messages: Subscription) -> Payload:
    return await asyncio.wait_for(anext(messages), TIMEOUT)


async def test_first_subscriber_receives(make_hub: HubFactory, channel: str) -> None:
    hub = await make_hub()
    async with hub.subscribe(channel) as messages:
        assert await hub.publish(channel, {"position": 1})
        assert await next_message(messages) == {"position": 1}


async def test_fifty_concurrent_subscribers_receive_every_message(
    make_hub: HubFactory, channel: str
) -> None:
    hub = await make_hub()
    subscribers, rounds = 50, 20
    all_in = asyncio.Event()

    async def subscriber() -> list[Payload]:
        async with hub.subscribe(channel) as messages:
            if hub.subscriber_count(channel) == subscribers:
                all_in.set()
            return [await next_message(messages) for _ in range(rounds)]

    tasks = [asyncio.create_task(subscriber()) for _ in range(subscribers)]
    await asyncio.wait_for(all_in.wait(), TIMEOUT)
    for position in range(rounds):
        await hub.publish(channel, {"position": position})
    received = await asyncio.gather(*tasks)
    expected = [{"position": p} for p in range(rounds)]
    assert all(got == expected for got in received)
    await hub.wait_idle()
    assert hub.subscriber_count() == 0


async def test_channels_are_isolated(make_hub: HubFactory, channel: str) -> None:
    hub = await make_hub()
    async with hub.subscribe(channel) as mine, hub.subscribe(channel + "-other") as other:
        await hub.publish(channel + "-other", {"n": 1})
        await hub.publish(channel, {"n": 2})
        assert await next_message(mine) == {"n": 2}
        assert await next_message(other) == {"n": 1}
        assert other.pending() == 0


async def test_payloads_round_trip_as_json_objects(make_hub: HubFactory, channel: str) -> None:
    hub = await make_hub()
    payload: dict[str, Any] = {"ids": ["a", "é"], "position": 7, "nested": {"ok": True}, "x": None}
    async with hub.subscribe(channel) as messages:
        await hub.publish(channel, payload)
        assert await next_message(messages) == payload


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (["not", "an", "object"], TypeError),
        ({"value": math.nan}, ValueError),
        ({"when": object()}, TypeError),
        ({"resync": "overflow"}, ValueError),  # reserved for the hub's markers
    ],
)
async def test_non_json_payloads_are_refused(
    make_hub: HubFactory, channel: str, payload: Any, error: type[Exception]
) -> None:
    hub = await make_hub()
    with pytest.raises(error):
        await hub.publish(channel, payload)


async def test_cancelled_subscriber_leaves_no_task_queue_or_subscription(
    make_hub: HubFactory, channel: str
) -> None:
    hub = await make_hub()
    entered = asyncio.Event()

    async def abandoned() -> None:
        async with hub.subscribe(channel):
            entered.set()
            await asyncio.Event().wait()  # a client that just goes away

    task = asyncio.create_task(abandoned())
    await asyncio.wait_for(entered.wait(), TIMEOUT)
    assert hub.subscriber_count(channel) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await hub.wait_idle()
    assert_nothing_left(hub, channel)


async def test_cancelled_while_subscribing_leaves_nothing(
    make_hub: HubFactory, channel: str
) -> None:
    hub = await make_hub()

    async def impatient() -> None:
        async with hub.subscribe(channel):
            pass

    tasks = [asyncio.create_task(impatient()) for _ in range(5)]
    await asyncio.sleep(0)  # they have registered; the backend subscribe is in flight
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await hub.wait_idle()
    assert_nothing_left(hub, channel)
    # ... and the channel still works afterwards.
    async with hub.subscribe(channel) as messages:
        await hub.publish(channel, {"after": True})
        assert await next_message(messages) == {"after": True}


async def test_closing_a_subscription_generator_cleans_up(
    make_hub: HubFactory, channel: str
) -> None:
    """What Strawberry does when a client stops a subscription: ``aclose()`` the generator."""
    hub = await make_hub()

    async def graphql_subscription() -> AsyncGenerator[Payload]:
        async with hub.subscribe(channel) as messages:
            yield {"state": "current"}
            async for message in messages:
                yield message

    stream = graphql_subscription()
    assert await anext(stream) == {"state": "current"}
    await hub.publish(channel, {"n": 1})
    assert await asyncio.wait_for(anext(stream), TIMEOUT) == {"n": 1}
    await stream.aclose()
    await hub.wait_idle()
    assert_nothing_left(hub, channel)


async def test_resubscribing_after_the_last_subscriber_left(
    make_hub: HubFactory, channel: str
) -> None:
    hub = await make_hub()
    for round_ in range(5):
        async with hub.subscribe(channel) as messages:
            await hub.publish(channel, {"round": round_})
            assert await next_message(messages) == {"round": round_}
    await hub.wait_idle()
    assert_nothing_left(hub, channel)


async def test_slow_consumer_is_bounded_and_told_to_resync(
    make_hub: HubFactory, channel: str
) -> None:
    queue_size, published = 8, 200
    hub = await make_hub(queue_size=queue_size)
    async with hub.subscribe(channel) as messages:
        for n in range(published):
            await hub.publish(channel, {"n": n})

        def backlog() -> list[Payload]:
            return list(messages._items)

        async def all_delivered() -> bool:  # delivered = dropped + still queued
            queued = sum(not is_resync(m) for m in backlog())
            return messages.dropped + queued == published

        await eventually(all_delivered)
        assert messages.pending() <= queue_size
        marker, *rest = backlog()
        assert is_resync(marker)
        assert marker["resync"] == "overflow"
        assert marker["dropped"] == messages.dropped
        assert messages.dropped + len(rest) == published
        assert rest[-1] == {"n": published - 1}  # the newest survives
        # The consumer catches up: the marker first, then what is left, in order.
        assert [await next_message(messages) for _ in backlog()] == [marker, *rest]


async def test_iteration_ends_when_the_hub_disconnects(make_hub: HubFactory, channel: str) -> None:
    hub = await make_hub()
    async with hub.subscribe(channel) as messages:
        consumer = asyncio.create_task(anext(messages, None))
        await asyncio.sleep(0.01)
        await hub.disconnect()
        assert await asyncio.wait_for(consumer, TIMEOUT) is None
    assert hub.subscriber_count() == 0


async def test_nothing_works_before_connect(channel: str) -> None:
    from infrastructure.broadcast import create_hub

    hub = create_hub(None)
    with pytest.raises(RuntimeError, match="connect"):
        async with hub.subscribe(channel):
            pass
    with pytest.raises(RuntimeError, match="connect"):
        await hub.publish(channel, {})


def assert_nothing_left(hub: ChannelHub, channel: str) -> None:
    assert hub.subscriber_count() == 0
    assert channel not in hub._channels
    assert not hub._tasks, hub._tasks
    assert not hub._tails


async def test_drain_discards_the_backlog_and_later_messages_still_arrive(
    make_hub: HubFactory, channel: str
) -> None:
    hub = await make_hub()
    async with hub.subscribe(channel) as messages:
        for position in range(5):
            assert await hub.publish(channel, {"position": position})

        async def all_queued() -> bool:
            return messages.pending() == 5

        await eventually(all_queued)
        assert await next_message(messages) == {"position": 0}
        assert messages.drain() == 4 and messages.pending() == 0
        await hub.publish(channel, {"position": 5})
        assert await next_message(messages) == {"position": 5}
