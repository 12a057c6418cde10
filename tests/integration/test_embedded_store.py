"""Lifecycle of the embedded nx-27017 store, with real processes and real signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from infrastructure.mongo.embedded import EmbeddedStore, free_port, ping
from infrastructure.mongo.liveness import cmdline, is_alive
from tests.conftest import ROOT

pytestmark = pytest.mark.integration

USE_STORE = """
import sys, time
from pathlib import Path
from infrastructure.mongo.embedded import EmbeddedStore
store = EmbeddedStore(Path(sys.argv[1]))
print(store.start(), store.started_here, flush=True)
time.sleep(float(sys.argv[2]))
store.stop()
"""


def store_processes(data_dir: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            line = cmdline(int(proc.name))
            if "nx_runner" in line and str(data_dir) in line:
                pids.append(int(proc.name))
    return pids


def wait_until(predicate, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_start_writes_its_files_inside_the_data_dir_and_stop_removes_the_process(
    tmp_path: Path,
) -> None:
    store = EmbeddedStore(tmp_path)
    url = store.start()
    try:
        assert ping(url)
        assert store.started_here
        for name in ("nx-27017.log", "nx-27017.pid", "store.json"):
            assert (tmp_path / name).exists(), name
        assert (tmp_path / "store").is_dir()
        assert store_processes(tmp_path) == [store.pid]
    finally:
        store.stop()
    assert not ping(url)
    assert store_processes(tmp_path) == []
    assert not (tmp_path / "store.json").exists()


def test_a_second_process_reuses_the_running_store(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    url = store.start()
    try:
        out = subprocess.run(
            [sys.executable, "-c", USE_STORE, str(tmp_path), "0.2"],
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        other_url, started_here = out.stdout.split()
        assert other_url == url and started_here == "False"
        assert len(store_processes(tmp_path)) == 1
        assert ping(url), "the second process must not stop a store the first still uses"
    finally:
        store.stop()
    assert store_processes(tmp_path) == []


def test_the_last_process_to_leave_stops_the_store(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    url = store.start()
    other = subprocess.Popen(
        [sys.executable, "-c", USE_STORE, str(tmp_path), "3"], cwd=ROOT,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert other.stdout is not None
    assert other.stdout.readline().split()[0] == url
    store.stop()  # the first leaves while the second still works
    assert ping(url)
    assert other.wait(timeout=30) == 0
    assert wait_until(lambda: not store_processes(tmp_path))


def test_stale_state_from_a_crashed_run_is_cleaned(tmp_path: Path) -> None:
    # A store.json and pid file pointing at a process that no longer exists.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "store.json").write_text(
        json.dumps({"pid": dead.pid, "ident": f"{dead.pid}:1", "port": free_port()})
    )
    (tmp_path / "nx-27017.pid").write_text(str(dead.pid))
    (tmp_path / "clients").mkdir()
    (tmp_path / "clients" / f"{dead.pid}:1:abcd").touch()
    store = EmbeddedStore(tmp_path)
    url = store.start()
    try:
        assert store.started_here and ping(url)
        assert json.loads((tmp_path / "store.json").read_text())["pid"] == store.pid
        assert not (tmp_path / "clients" / f"{dead.pid}:1:abcd").exists()
    finally:
        store.stop()


def test_a_store_whose_pulse_processes_were_killed_stops_itself(tmp_path: Path) -> None:
    env = {**os.environ, "PULSE_STORE_ORPHAN_GRACE": "1"}
    user = subprocess.Popen(
        [sys.executable, "-c", USE_STORE, str(tmp_path), "60"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert user.stdout is not None
    url = user.stdout.readline().split()[0]
    assert ping(url)
    user.kill()  # kill -9: no chance to stop the store
    user.wait()
    assert wait_until(lambda: not store_processes(tmp_path), timeout=20)
    # ...and the next run starts cleanly on the same data dir.
    store = EmbeddedStore(tmp_path)
    try:
        assert ping(store.start())
    finally:
        store.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_pulse_serve_answers_health_and_leaves_no_store_behind(
    tmp_path: Path, sig: signal.Signals
) -> None:
    port = free_port()
    env = {**os.environ, "PULSE_DATA_DIR": str(tmp_path), "PULSE_PORT": str(port)}
    env.pop("PULSE_MONGODB_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "infrastructure.cli", "serve"], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(up, timeout=30), "server did not become ready"
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"{base}/readyz").json()
        assert ready == {"status": "ready", "store": "ok", "projections": "ok"}
        metrics = httpx.get(f"{base}/metrics").text
        assert 'pulse_projection_lag{projection="dashboard_metrics"}' in metrics
        assert "pulse_http_request_duration_seconds_count" in metrics

        def settled() -> bool:  # the serve process settles its heap once its workers load
            lines = httpx.get(f"{base}/metrics", timeout=5).text.splitlines()
            frozen = [line for line in lines if line.startswith("pulse_heap_frozen_objects ")]
            return len(frozen) == 1 and float(frozen[0].split()[1]) > 0

        assert wait_until(settled, timeout=30), "the heap never settled"
        assert len(store_processes(tmp_path)) == 1
        server.send_signal(sig)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
    assert store_processes(tmp_path) == []


def _blocked_signals(pid: int) -> dict[str, int]:
    """Each thread of ``pid``: its blocked-signal mask (``SigBlk`` in /proc)."""
    masks = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("SigBlk:"):
                masks[task.name] = int(line.split()[1], 16)
    return masks


def test_a_store_that_served_concurrent_work_stops_at_once_on_sigterm(tmp_path: Path) -> None:
    """A stop signal sent to the store reaches nx-27017's handler whichever thread the kernel
    would pick: every thread blocks SIGTERM/SIGINT and one of ours waits for them. Before,
    a signal taken by a worker thread left the main thread asleep in its event loop, and
    ``stop()`` killed the store 10 s later (3 of 4 runs of the 20,000-lead sync bench)."""
    stop_bits = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGINT - 1))
    for attempt in range(3):
        store = EmbeddedStore(tmp_path / str(attempt))
        client: MongoClient[dict[str, Any]] = MongoClient(store.start(), maxPoolSize=8)
        info = store._read_info()
        assert info is not None
        try:
            batch = [{"n": i, "pad": "x" * 200} for i in range(200)]

            def insert(_: int, c: Any = client, docs: list[dict[str, Any]] = batch) -> None:
                c.t.c.insert_many([dict(d) for d in docs])

            with ThreadPoolExecutor(8) as pool:  # the store's worker threads all get work
                list(pool.map(insert, range(32)))
            assert client.t.c.count_documents({}) == 32 * 200
            masks = _blocked_signals(info.pid)
            assert len(masks) >= 3  # main, our two threads, and the worker threads
            # One thread takes them: ours, in sigwait (which unblocks them while it waits).
            takers = [tid for tid, mask in masks.items() if mask & stop_bits != stop_bits]
            assert len(takers) == 1, f"threads that may take a stop signal: {takers}"
        finally:
            client.close()
        sent = time.monotonic()
        os.kill(info.pid, signal.SIGTERM)
        while is_alive(info.ident) and time.monotonic() - sent < 8:
            time.sleep(0.02)
        took = time.monotonic() - sent
        store.stop()
        assert took < 3, f"attempt {attempt}: the store took {took:.1f} s to obey SIGTERM"
