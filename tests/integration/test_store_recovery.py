"""kill -9 of the embedded store under a running `pulse serve`: /readyz says so while it is
down, GraphQL requests fail with an error saying the database is down (and nothing else), and
Pulse starts it again by itself (same port, same data), without a restart."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from infrastructure.auth import mint_token
from infrastructure.mongo.embedded import free_port
from tests.conftest import ROOT
from tests.integration.test_embedded_store import store_processes, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.reliability]


def hold_port(port: int) -> socket.socket:
    """Listen on ``port`` as soon as the killed store's socket is gone."""
    deadline = time.monotonic() + 10
    while True:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen(1)
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def test_the_store_is_restarted_after_a_kill_and_readiness_follows(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    secret = "store-recovery-test-secret-0123456789"
    env.update(
        {"PULSE_DATA_DIR": str(tmp_path), "PULSE_PORT": str(port), "PULSE_JWT_SECRET": secret}
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "infrastructure.cli", "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"

    def ready() -> int:
        # A generous timeout: /readyz answers 503 after its 1 s ping limit, but on a loaded
        # machine a probe timing out here would miss the short window the store is down.
        try:
            return httpx.get(f"{base}/readyz", timeout=15).status_code
        except httpx.HTTPError:
            return 0

    try:
        assert wait_until(lambda: ready() == 200, timeout=30)
        before = json.loads((tmp_path / "store.json").read_text())
        os.kill(before["pid"], signal.SIGKILL)
        # Pulse restarts the store within about a second, on the same port: on a loaded
        # machine every probe could miss that window. Holding the port keeps the store down
        # (each restart attempt fails and is retried) until the test has seen /readyz say so.
        blocker = hold_port(before["port"])
        try:
            assert wait_until(lambda: ready() == 503, timeout=30), "readiness never said down"
            down = httpx.get(f"{base}/readyz", timeout=15).json()
            assert down["store"] == "unreachable" and down["status"] == "unavailable"
            # A request now fails after the driver's server selection timeout (5 s), clearly.
            answer = httpx.post(
                f"{base}/graphql",
                json={"query": "{ dashboard { asOf } }"},
                headers={"Authorization": f"Bearer {mint_token('a@x.io', secret=secret)}"},
                timeout=60,
            )
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["data"] is None
            assert [e["extensions"]["code"] for e in body["errors"]] == ["INTERNAL"]
            message = body["errors"][0]["message"]
            assert message == (
                "Temporarily unavailable: the database cannot be reached; retry shortly"
            )
        finally:
            blocker.close()
        assert wait_until(lambda: ready() == 200, timeout=60), "the store did not come back"
        info = tmp_path / "store.json"

        def restarted() -> bool:
            try:
                return json.loads(info.read_text())["pid"] != before["pid"]
            except (OSError, ValueError):
                return False

        assert wait_until(restarted, timeout=10)
        after = json.loads(info.read_text())
        assert after["pid"] != before["pid"] and after["port"] == before["port"]
        assert store_processes(tmp_path) == [after["pid"]]
        assert httpx.get(f"{base}/healthz").status_code == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert store_processes(tmp_path) == []
