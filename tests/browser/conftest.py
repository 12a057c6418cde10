"""Browser tests: a real ``pulse demo`` in a subprocess (own data dir, free port, a change in
the built-in Odoo every second), driven by Debian's Chromium through ``playwright-core``
(``frontend-contract/node_modules``; no browser is ever downloaded).

They need ``chromium`` (``apt-get install chromium``), Node.js and ``make web``. Without them
they are skipped, unless ``PULSE_BROWSER_TESTS=required`` (``.ci/run`` sets it): then they
fail, so CI never passes without running them. Screenshots and the demo's log go to
``test-artifacts/browser/``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
PLAYWRIGHT = ROOT / "frontend-contract" / "node_modules" / "playwright-core"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
READY_LINE = "Pulse demo is running."
START_TIMEOUT = 120.0
PR_SET_PDEATHSIG = 1


def required() -> bool:
    return os.environ.get("PULSE_BROWSER_TESTS", "").lower() == "required"


def unavailable(reason: str) -> None:
    message = f"browser tests cannot run: {reason}"
    if required():
        pytest.fail(message + " (PULSE_BROWSER_TESTS=required)", pytrace=False)
    pytest.skip(message)


@dataclass(frozen=True)
class BrowserTools:
    node: str
    chromium: str


@pytest.fixture(scope="session")
def browser_tools() -> BrowserTools:
    node = shutil.which("node")
    if node is None:
        unavailable("no `node` on PATH (Node.js 20+)")
    chromium = os.environ.get("PULSE_CHROMIUM") or next(
        (c for c in CHROMIUM_CANDIDATES if Path(c).exists()), None
    )
    if chromium is None:
        unavailable("no Chromium at /usr/bin/chromium (`apt-get install chromium`)")
    if not PLAYWRIGHT.is_dir():
        unavailable("playwright-core is not installed (`make web`)")
    assert node is not None and chromium is not None
    return BrowserTools(node, chromium)


@dataclass(frozen=True)
class DemoServer:
    url: str
    log: Path


def _die_with_parent() -> None:
    """Linux: the demo gets SIGTERM (and stops its store) if the test process dies without
    running its finalizers (killed by a timeout, say) instead of living on."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _demo_command() -> list[str]:
    pulse = Path(sys.executable).with_name("pulse")
    if pulse.exists():
        return [str(pulse)]
    return [sys.executable, "-m", "infrastructure.cli"]


@pytest.fixture(scope="session")
def pulse_demo(
    browser_tools: BrowserTools, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoServer]:
    """``pulse demo --interval 1`` on a free port with its own data dir, until the session ends."""
    data_dir = tmp_path_factory.mktemp("pulse-demo")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "pulse-demo.log"
    port = free_port()
    # The demo's settings come from the environment: leave the caller's PULSE_* out.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    env["PULSE_DATA_DIR"] = str(data_dir)
    env["PULSE_LOG_LEVEL"] = "INFO"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*_demo_command(), "demo", "--port", str(port), "--interval", "1"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while READY_LINE not in log.read_text(errors="replace"):
            if process.poll() is not None:
                pytest.fail(f"pulse demo exited with {process.returncode}:\n{_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"pulse demo not ready after {START_TIMEOUT:.0f} s:\n{_tail(log)}")
            time.sleep(0.2)
        httpx.get(f"{url}/healthz", timeout=5).raise_for_status()
        yield DemoServer(url, log)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (pulse stops its store and the built-in Odoo), then SIGKILL the group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def run_scenario(tools: BrowserTools, server: DemoServer, script: str, timeout: float = 150) -> str:
    """Run ``tests/browser/<script>`` with Node; fail with its output if it fails."""
    env = {
        **os.environ,
        "PULSE_URL": server.url,
        "PULSE_ARTIFACTS": str(ARTIFACTS),
        "PULSE_CHROMIUM": tools.chromium,
    }
    try:
        result = subprocess.run(
            [tools.node, str(Path(__file__).with_name(script))],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            preexec_fn=_die_with_parent,
        )
    except subprocess.TimeoutExpired as expired:
        partial = expired.stdout.decode() if isinstance(expired.stdout, bytes) else expired.stdout
        pytest.fail(f"{script} did not finish in {timeout:.0f} s:\n{partial or ''}")
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(
            f"{script} failed ({result.returncode}):\n{output}\n"
            f"--- pulse demo log (tail) ---\n{_tail(server.log)}",
            pytrace=False,
        )
    return output
