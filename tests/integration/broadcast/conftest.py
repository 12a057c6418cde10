"""Fixtures for the broadcast tests: the real Redis on 127.0.0.1:6379, unique channel names."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlparse

import pytest
from redis.asyncio import Redis

from infrastructure.broadcast import ChannelHub, MemoryBackend, RedisBackend
from tests.integration.broadcast.proxy import TcpProxy

REDIS_URL = os.environ.get("PULSE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

HubFactory = Callable[..., Awaitable[ChannelHub]]


async def _require_redis() -> str:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except Exception as exc:
        pytest.fail(f"no Redis at {REDIS_URL}: {exc} (CI starts one; so must you)")
    finally:
        await client.aclose()
    return REDIS_URL


@pytest.fixture
async def redis_url() -> str:
    return await _require_redis()


@pytest.fixture
async def redis_admin(redis_url: str) -> AsyncIterator[Redis]:
    """A plain client for assertions: PUBSUB NUMSUB, CLIENT LIST/KILL, raw PUBLISH."""
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def channel() -> str:
    return f"test-broadcast-{uuid.uuid4().hex}"


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[TcpProxy]:
    """The real Redis behind a proxy that a test can take down and bring back."""
    parsed = urlparse(redis_url)
    proxy = TcpProxy(parsed.hostname or "127.0.0.1", parsed.port or 6379)
    await proxy.start()
    yield proxy
    await proxy.stop()


def unique_client_name() -> str:
    return f"pulse-test-{uuid.uuid4().hex[:12]}"


async def _hub_factory(kind: str) -> tuple[HubFactory, list[ChannelHub]]:
    url = await _require_redis() if kind == "redis" else None
    hubs: list[ChannelHub] = []

    async def make(**options: Any) -> ChannelHub:
        queue_size = options.pop("queue_size", 64)
        if url is None:
            hub = ChannelHub(MemoryBackend(), queue_size=queue_size)
        else:
            options.setdefault("client_name", unique_client_name())
            hub = ChannelHub(RedisBackend(url, **options), queue_size=queue_size)
        await hub.connect()
        hubs.append(hub)
        return hub

    return make, hubs


@pytest.fixture
async def make_redis_hub() -> AsyncIterator[HubFactory]:
    """Build connected Redis-backed hubs (each with its own connections: one 'process')."""
    make, hubs = await _hub_factory("redis")
    yield make
    for hub in hubs:
        await hub.disconnect()


@pytest.fixture(params=["memory", "redis"])
async def make_hub(request: pytest.FixtureRequest) -> AsyncIterator[HubFactory]:
    """The contract suite runs every test against both backends."""
    make, hubs = await _hub_factory(request.param)
    yield make
    for hub in hubs:
        await hub.disconnect()


async def numsub(admin: Redis, channel: str) -> int:
    [(_, count)] = await admin.pubsub_numsub(channel)
    return int(count)


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    """Poll ``check`` until it is true; fail the test after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within}s")
        await asyncio.sleep(0.02)
