"""Stop and restart Redis under a running server: subscriptions keep their sockets; a change
made while Redis is down (its notification is lost) reaches the client once Redis is back,
because every subscriber re-reads its dashboard on the reconnect; later changes arrive again.

Runs its own redis-server on a free port, so the shared one is never touched."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from infrastructure.odoo_fake import FakeOdoo
from tests.e2e.conftest import (
    Server,
    free_port,
    server_env,
    start_server,
    stop_server,
    token,
)
from tests.e2e.test_live import DASHBOARD, MARIA, open_deal_of, win_by_webhook
from tests.integration.graphql.clients import subscription

pytestmark = [pytest.mark.e2e, pytest.mark.reliability]


class OwnRedis:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed (CI installs and starts Redis)"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_connect_timeout=0.2).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def served_on_own_redis(
    northwind: FakeOdoo, mongo_url: str, own_redis: OwnRedis, tmp_path: Path
) -> Iterator[Server]:
    env = server_env(mongo_url, northwind, redis=False)
    env["PULSE_REDIS_URL"] = own_redis.url
    server = start_server(env, tmp_path / "serve.log")
    try:
        result = server.graphql(
            token("ops@northwind.example"),
            "mutation { syncOdoo(mode: FULL, wait: true) { status } }",
        )
        assert result["data"]["syncOdoo"]["status"] == "SUCCEEDED", result
        yield server
    finally:
        stop_server(server)


async def test_subscriptions_survive_a_redis_restart(
    served_on_own_redis: Server, own_redis: OwnRedis, northwind: FakeOdoo
) -> None:
    server = served_on_own_redis
    deal = open_deal_of(northwind, "ethan")
    async with subscription(server.ws, token(MARIA), DASHBOARD) as feed:
        first = (await feed.next(10))["dashboardUpdated"]
        own_redis.stop()
        # The deal is won while Redis is down: the projection commits, its publish is lost.
        await asyncio.to_thread(win_by_webhook, northwind, server, deal)
        await feed.nothing_for(2.0)
        own_redis.start()
        healed = (await feed.next(30))["dashboardUpdated"]
        assert healed["metrics"]["wonCount"] == first["metrics"]["wonCount"] + 1
        # ...and live pushes work again afterwards.
        await asyncio.sleep(0.5)
        second = open_deal_of(northwind, "ethan")
        await asyncio.to_thread(win_by_webhook, northwind, server, second)
        pushed = (await feed.next(30))["dashboardUpdated"]
        assert pushed["metrics"]["wonCount"] == first["metrics"]["wonCount"] + 2
