"""kill -9 of a real `pulse worker` mid catch-up and of a real `pulse rebuild` mid-rebuild:
after a restart the read models catch up, and `pulse check` reports no difference."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from infrastructure.odoo_fake import FakeOdoo
from infrastructure.odoo_fake.populate import populate
from tests.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def big_odoo() -> Iterator[FakeOdoo]:
    with FakeOdoo(version="19.0", demo=False) as fake:
        populate(fake, users=60, leads=4000, partners=200, teams=4)
        yield fake


@pytest.fixture
def env(big_odoo: FakeOdoo, mongo_url: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    name = f"crash_{uuid.uuid4().hex[:10]}"
    variables = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    variables.update(
        {
            "PULSE_MONGODB_URL": mongo_url,
            "PULSE_MONGODB_DB": name,
            "PULSE_DATA_DIR": str(tmp_path),
            "PULSE_ODOO_URL": big_odoo.url,
            "PULSE_ODOO_DB": big_odoo.db,
            "PULSE_ODOO_LOGIN": big_odoo.login,
            "PULSE_ODOO_API_KEY": big_odoo.api_key,
            "PULSE_SYNC_INTERVAL": "0",
        }
    )
    yield variables
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
    client.drop_database(name)
    client.close()


def pulse(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infrastructure.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def spawn(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "infrastructure.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def state(env: dict[str, str]) -> dict[str, dict[str, Any]]:
    client: MongoClient[dict[str, Any]] = MongoClient(env["PULSE_MONGODB_URL"])
    try:
        db = client[env["PULSE_MONGODB_DB"]]
        return {doc["_id"]: doc for doc in db["projection_state"].find({})}
    finally:
        client.close()


def head(env: dict[str, str]) -> int:
    client: MongoClient[dict[str, Any]] = MongoClient(env["PULSE_MONGODB_URL"])
    try:
        doc = client[env["PULSE_MONGODB_DB"]]["event_commits"].find_one({}, sort=[("pos", -1)])
        return int(doc["end"]) if doc else 0
    finally:
        client.close()


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def caught_up(env: dict[str, str]) -> bool:
    states, top = state(env), head(env)
    return len(states) == 4 and all(s.get("position", 0) >= top for s in states.values())


def catch_up_then_check(env: dict[str, str], timeout: float = 300) -> None:
    """Run a `pulse worker` until every projection reaches the head; `pulse check` clean."""
    worker = spawn(env, "worker")
    try:
        wait_for(lambda: caught_up(env), timeout, "the projections to catch up")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    checked = pulse(env, "check")
    assert checked.returncode == 0 and "no differences" in checked.stdout, checked.stdout[-3000:]


def test_a_worker_killed_mid_batch_resumes_and_check_is_clean(env: dict[str, str]) -> None:
    synced = pulse(env, "sync", "--full")
    assert synced.returncode == 0, synced.stderr[-2000:]
    top = head(env)
    assert top > 4000
    worker = spawn(env, "worker")
    try:
        wait_for(
            lambda: any(0 < s.get("position", 0) < top for s in state(env).values()),
            120,
            "a projection part-way",
        )
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
    assert not caught_up(env), "the kill must land before the end of the catch-up"
    worker = spawn(env, "worker")
    try:
        wait_for(lambda: caught_up(env), 240, "catch-up after restart")
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    checked = pulse(env, "check")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert "no differences" in checked.stdout


def test_a_rebuild_killed_midway_resumes_and_check_is_clean(env: dict[str, str]) -> None:
    assert pulse(env, "sync", "--full").returncode == 0
    worker = spawn(env, "worker")
    try:
        wait_for(lambda: caught_up(env), 240, "initial catch-up")
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    rebuild = spawn(env, "rebuild", "dashboard_metrics", "opportunity_view")
    try:
        wait_for(
            lambda: any(
                (s.get("rebuild") or {}).get("position", 0) > 0 for s in state(env).values()
            ),
            120,
            "rebuild progress",
        )
    finally:
        rebuild.send_signal(signal.SIGKILL)
        rebuild.wait()
    # The old generation kept serving; a worker resumes the interrupted rebuild by itself.
    worker = spawn(env, "worker")
    try:
        wait_for(
            lambda: all(not s.get("rebuild") for s in state(env).values()) and caught_up(env),
            300,
            "the resumed rebuild to switch over",
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    checked = pulse(env, "check")
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert "no differences" in checked.stdout


def test_two_syncs_and_a_rebuild_at_once_from_separate_processes(
    env: dict[str, str], big_odoo: FakeOdoo
) -> None:
    # The second sync must start while the first runs: a sync of these 4,000 leads took
    # ~2.5 s, about what a second `pulse` process takes to start. Its lead pages now take
    # a second each (three in flight), so the first sync lasts several seconds.
    big_odoo.fail_next(8, "slow", delay=1.0, path="/json/2/crm.lead")
    first = subprocess.Popen(
        [sys.executable, "-m", "infrastructure.cli", "sync", "--full"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: head(env) > 0, 60, "the first sync to start appending")
    second = pulse(env, "sync")
    rebuild = spawn(env, "rebuild")
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err[-2000:]
    assert second.returncode == 3 and "already running" in second.stderr
    assert rebuild.wait(timeout=300) == 0
    catch_up_then_check(env, 240)
    again = pulse(env, "sync")
    assert again.returncode == 0 and "eventsAppended=0" in again.stdout
