"""A projection runner in its own OS process, for the kill -9 test.

Usage: python -m tests.integration.projections_framework.runner_process URL DB OWNER
       [KILL_AT [rebuild]]

Runs the toy projection until killed. Each flush pauses between its two collection writes,
so a kill lands mid-batch often; with KILL_AT=n the process SIGKILLs itself inside its n-th
flush, after the first collection was written and before the second and the checkpoint.
With ``rebuild`` it starts a rebuild and counts (and dies in) the rebuild's flushes only.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from infrastructure.eventstore.mongo import MongoEventStore
from infrastructure.mongo.client import create_client
from projections.framework import ProjectionRunner, RunnerConfig
from tests.integration.projections_framework.toy import Toy

CONFIG = RunnerConfig(
    batch_size=25,
    poll_interval=0.05,
    lease_seconds=1.0,
    rebuild_batch_size=100,
    rebuild_flush_every=150,
    drop_grace=0.0,
)


async def run(url: str, db_name: str, owner: str, kill_at: int | None, rebuild: bool) -> None:
    client = create_client(url)
    db = client[db_name]
    flushes = 0

    async def between(toy: Toy, ctx: Any) -> None:
        nonlocal flushes
        if ctx.rebuilding != rebuild:
            return
        flushes += 1
        if flushes == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        await asyncio.sleep(0.01)

    runner = ProjectionRunner(
        db, MongoEventStore(db), [lambda: Toy(between_writes=between)], config=CONFIG, owner=owner
    )
    await runner.start()
    print("started", flush=True)
    if rebuild:
        await runner.rebuild(["toy"])
    await asyncio.Event().wait()


if __name__ == "__main__":
    kill = int(sys.argv[4]) if len(sys.argv) > 4 else None
    asyncio.run(run(sys.argv[1], sys.argv[2], sys.argv[3], kill, sys.argv[5:] == ["rebuild"]))
