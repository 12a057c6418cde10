"""``pulse events export|import``, ``pulse rebuild`` and ``pulse check`` as an operator runs
them: real processes against the test store (docs/BACKUP.md, "restore into a new database")."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from domain.sync import SyncMode
from tests.conftest import ROOT
from tests.integration.projections.conftest import (  # noqa: F401  (fixtures, by name)
    Pipeline,
    northwind,
    pipeline,
)


async def pulse(db_name: str, mongo_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    env |= {"PULSE_MONGODB_URL": mongo_url, "PULSE_MONGODB_DB": db_name,
            "PULSE_LOG_LEVEL": "WARNING"}  # fmt: skip
    command = [sys.executable, "-m", "infrastructure.cli", *args]
    return await asyncio.to_thread(
        subprocess.run, command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )


async def test_backup_and_restore_with_the_cli(
    pipeline: Pipeline,  # noqa: F811
    mongo_url: str,
    mongo_client: AsyncMongoClient[Any],
    tmp_path: Path,
) -> None:
    await pipeline.sync(SyncMode.FULL)
    head = await pipeline.events.head_position()
    source, target = pipeline.db.name, f"cli_{uuid.uuid4().hex[:12]}"
    backup = tmp_path / "pulse-events.jsonl"
    try:
        done = await pulse(source, mongo_url, "events", "export", str(backup))
        assert done.returncode == 0, done.stderr
        assert f"exported {head} events" in done.stderr
        assert not list(tmp_path.glob(".*partial"))  # noqa: ASYNC240 (written aside, renamed)

        to_stdout = await pulse(source, mongo_url, "events", "export", "-")
        assert to_stdout.returncode == 0 and to_stdout.stdout == backup.read_text()

        restored = await pulse(target, mongo_url, "events", "import", str(backup))
        assert restored.returncode == 0, restored.stderr
        assert f"imported {head} events" in restored.stdout

        again = await pulse(target, mongo_url, "events", "import", str(backup))
        assert again.returncode == 0, again.stderr
        assert f"imported 0 events in 0 commits, {head} events" in again.stdout

        # The source itself holds exactly the backup: importing it there is a no-op...
        same = await pulse(source, mongo_url, "events", "import", str(backup))
        assert same.returncode == 0 and "imported 0 events" in same.stdout
        # ...but once it has moved on, it is no longer an empty store for this file.
        pipeline.odoo.clock.advance(60)
        pipeline.odoo.write("crm.stage", [1], {"name": "Renamed after the backup"})
        await pipeline.sync()
        refused = await pulse(source, mongo_url, "events", "import", str(backup))
        assert refused.returncode == 1
        assert "already holds" in refused.stderr, refused.stderr

        bad = tmp_path / "bad.jsonl"
        lines = backup.read_text().splitlines(keepends=True)
        bad.write_text(lines[0] + "{oops\n" + "".join(lines[1:]))
        invalid = await pulse(f"cli_{uuid.uuid4().hex[:12]}", mongo_url, "events", "import",
                              str(bad))  # fmt: skip
        assert invalid.returncode == 1
        assert "line 2: not valid JSON" in invalid.stderr
        assert "nothing was imported" in invalid.stderr

        rebuilt = await pulse(target, mongo_url, "rebuild")
        assert rebuilt.returncode == 0, rebuilt.stderr
        checked = await pulse(target, mongo_url, "check")
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "no differences" in checked.stdout
    finally:
        await mongo_client.drop_database(target)
