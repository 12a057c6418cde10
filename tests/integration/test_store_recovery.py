"""kill -9 of the embedded store under a running `pulse serve`: /readyz says so while it is
down, and Pulse starts it again by itself (same port, same data), without a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from infrastructure.mongo.embedded import free_port
from tests.conftest import ROOT
from tests.integration.test_embedded_store import store_processes, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.reliability]


def test_the_store_is_restarted_after_a_kill_and_readiness_follows(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    env.update({"PULSE_DATA_DIR": str(tmp_path), "PULSE_PORT": str(port)})
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
        seen: list[int] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            seen.append(ready())
            if 503 in seen and seen[-1] == 200:
                break
            time.sleep(0.05)
        assert 503 in seen, f"readiness never reported the store down: {seen[-5:]}"
        assert seen[-1] == 200, f"the store did not come back: {seen[-5:]}"
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
