"""The suite's timeout fires even when a background asyncio task runs at that moment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

# The poller's steps are where the main thread spends its time: a SIGALRM-raised timeout
# lands in one of them and asyncio keeps it on the task (pytest-timeout's signal method hangs).
HANGING = """
import asyncio
import time

async def test_hangs_while_a_task_polls():
    async def poll():
        while True:
            time.sleep(0.01)
            await asyncio.sleep(0)

    task = asyncio.create_task(poll(), name="poller")
    await asyncio.Event().wait()
"""


def test_a_hung_async_test_ends_the_run_and_names_where_each_task_waits(tmp_path: Path) -> None:
    (tmp_path / "test_hang.py").write_text(HANGING)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "-p",
            "tests.support.timeouts",
            "-o",
            "asyncio_mode=auto",
            "-o",
            "timeout=2",
            "-o",
            "timeout_method=thread",
            str(tmp_path / "test_hang.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "Timeout of test_hang.py::test_hangs_while_a_task_polls: asyncio tasks" in output
    assert "name='poller'" in output
    assert "in poll" in output
    assert "test_hang.py:12 in test_hangs_while_a_task_polls" in output  # where the test waits
    assert "+++ Sockets +++" in output
