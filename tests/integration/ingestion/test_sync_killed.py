"""kill -9 of a real `pulse sync --full` midway, then a new sync: nothing lost, nothing twice.

The kill lands between appends and snapshot writes at random; a commit that went in before
its snapshot is replayed by the next sync with the same idempotency key and must be
answered as a duplicate (the bug this pins: the MongoDB store once answered
ConcurrencyError and the record could never be synced again).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from infrastructure.odoo_fake import FakeOdoo
from tests.conftest import ROOT
from tests.integration.projections.test_crash_recovery import (  # noqa: F401 (fixtures)
    big_odoo,
    catch_up_then_check,
    env,
    head,
    pulse,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]
LEASE = 5  # seconds the killed run keeps the single-run lock


def commits(settings: dict[str, str]) -> list[dict[str, Any]]:
    client: MongoClient[dict[str, Any]] = MongoClient(settings["PULSE_MONGODB_URL"])
    try:
        db = client[settings["PULSE_MONGODB_DB"]]
        fields = {"stream": 1, "ver": 1, "vend": 1, "pos": 1, "end": 1, "types": 1}
        return list(db["event_commits"].find({}, fields).sort("pos", 1))
    finally:
        client.close()


def test_a_sync_killed_midway_is_completed_by_the_next_one(
    env: dict[str, str],  # noqa: F811
    big_odoo: FakeOdoo,  # noqa: F811
    tmp_path: Path,
) -> None:
    env = {**env, "PULSE_SYNC_LEASE": str(LEASE)}
    leads = big_odoo.records("crm.lead")
    log = tmp_path / "killed-sync.log"
    with log.open("w") as out:
        killed = subprocess.Popen(
            [sys.executable, "-m", "infrastructure.cli", "sync", "--full"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip

    def under_way() -> bool:
        assert killed.poll() is None, f"the sync ended by itself: {log.read_text()[-2000:]}"
        return head(env) > 800

    try:
        wait_for(under_way, 180, "the sync to be well under way")
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.wait()
    assert head(env) < len(leads), "the kill must land before the end of the sync"

    deadline = time.monotonic() + 120
    while True:  # the dead run's lock expires after LEASE seconds
        again = pulse(env, "sync", "--full")
        if again.returncode != 3 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert again.returncode == 0, again.stderr[-2000:]

    found = commits(env)
    assert [c["pos"] for c in found] == [1] + [c["end"] + 1 for c in found[:-1]]  # no gap
    versions: dict[str, list[tuple[int, int]]] = {}
    for c in found:
        versions.setdefault(c["stream"], []).append((c["ver"], c["vend"]))
    for stream, spans in versions.items():
        assert [s for s, _ in spans] == [1] + [e + 1 for _, e in spans[:-1]], stream
    appeared = Counter(c["stream"] for c in found if "OpportunityAppeared" in c["types"])
    lead_streams = {f"opportunity/{row['id']}" for row in leads}
    assert set(appeared) == lead_streams  # every lead, killed run or not
    assert set(appeared.values()) == {1}  # and none twice

    final = pulse(env, "sync", "--full")
    assert final.returncode == 0 and "eventsAppended=0" in final.stdout, final.stdout[-2000:]
    catch_up_then_check(env)
