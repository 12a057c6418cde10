"""End to end: ``pulse serve`` in subprocesses, fed by the built-in Odoo, driven by real
HTTP (httpx) and WebSocket (gql over graphql-transport-ws) clients."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from infrastructure.auth import mint_token
from infrastructure.odoo_fake import FakeOdoo, OdooClock
from tests.conftest import ROOT

JWT_SECRET = secrets.token_urlsafe(48)
WEBHOOK_TOKEN = secrets.token_urlsafe(24)
REDIS_URL = os.environ.get("PULSE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    base: str
    proc: subprocess.Popen[str]
    log: Path

    @property
    def ws(self) -> str:
        return self.base.replace("http://", "ws://") + "/graphql"

    def graphql(
        self,
        token: str | None,
        query: str,
        variables: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        answer = httpx.post(
            f"{self.base}/graphql",
            json={"query": query, "variables": variables},
            headers=headers,
            timeout=180,
        )
        body: dict[str, Any] = answer.json()
        return body

    def webhook(self, payload: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.base}/webhooks/odoo/{WEBHOOK_TOKEN}", json=payload, timeout=10)


def token(email: str, admin: bool = False, ttl: int = 3600) -> str:
    return mint_token(email, secret=JWT_SECRET, admin=admin, ttl_seconds=ttl)


@pytest.fixture(scope="module")
def northwind() -> Iterator[FakeOdoo]:
    with FakeOdoo(version="19.0", clock=OdooClock("2026-04-01 08:00:00")) as fake:
        yield fake


def start_server(env: dict[str, str], log: Path) -> Server:
    port = free_port()
    handle = log.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "infrastructure.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env={**env, "PULSE_PORT": str(port)},
        stdout=handle,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"pulse serve exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return Server(base, proc, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"pulse serve not ready: {log.read_text()[-3000:]}")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.proc.kill()


def server_env(mongo_url: str, odoo: FakeOdoo, redis: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    env.update(
        {
            "PULSE_MONGODB_URL": mongo_url,
            "PULSE_MONGODB_DB": f"e2e_{uuid.uuid4().hex[:10]}",
            "PULSE_ODOO_URL": odoo.url,
            "PULSE_ODOO_DB": odoo.db,
            "PULSE_ODOO_LOGIN": odoo.login,
            "PULSE_ODOO_API_KEY": odoo.api_key,
            "PULSE_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
            "PULSE_JWT_SECRET": JWT_SECRET,
            "PULSE_SYNC_INTERVAL": "0",
            "PULSE_ADMIN_EMAILS": "ops@northwind.example",
        }
    )
    if redis:
        env["PULSE_REDIS_URL"] = REDIS_URL
    return env


@pytest.fixture(scope="module")
def served(
    northwind: FakeOdoo, mongo_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One `pulse serve` (in-process broadcast), after an admin's full syncOdoo(wait: true)."""
    northwind.clock.freeze("2026-04-01 08:00:00")
    northwind.reset()
    server = start_server(
        server_env(mongo_url, northwind, redis=False), tmp_path_factory.mktemp("e2e") / "serve.log"
    )
    try:
        result = server.graphql(
            token("ops@northwind.example"),
            "mutation { syncOdoo(mode: FULL, wait: true) { status stats { eventsAppended } } }",
        )
        assert result.get("data", {}).get("syncOdoo", {}).get("status") == "SUCCEEDED", result
        yield server
    finally:
        stop_server(server)
