"""The CLI as a user runs it: `pulse token`, `pulse import`, `pulse --help`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from infrastructure.auth import TokenVerifier
from tests.conftest import ROOT
from tests.unit.sync.fakes import lead, stage

pytestmark = pytest.mark.integration


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infrastructure.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULSE_")}
    env.update(extra)
    return env


def test_help_lists_every_command_of_the_contract() -> None:
    out = run(base_env(), "--help").stdout
    for command in ("serve", "worker", "demo", "sync", "rebuild", "check", "import", "token"):
        assert command in out


def test_token_mints_a_verifiable_token_and_refuses_without_a_secret() -> None:
    secret = "s" * 48
    minted = run(base_env(PULSE_JWT_SECRET=secret), "token", "Boss@Example.com", "--admin")
    assert minted.returncode == 0, minted.stderr
    claims = TokenVerifier(secret).verify(minted.stdout.strip())
    assert claims.email == "boss@example.com" and "admin" in claims.roles
    refused = run(base_env(), "token", "boss@example.com")
    assert refused.returncode == 2 and "PULSE_JWT_SECRET" in refused.stderr


def test_import_accounts_for_every_line_and_backs_up(mongo_url: str, tmp_path: Path) -> None:
    name = f"imp_{uuid.uuid4().hex[:8]}"
    env = base_env(
        PULSE_MONGODB_URL=mongo_url, PULSE_MONGODB_DB=name, PULSE_DATA_DIR=str(tmp_path / "data")
    )
    dump = tmp_path / "dump.jsonl"
    good = [
        {"model": "crm.stage", "record": stage(1, "New", 1)},
        {"model": "crm.lead", "record": lead(1)},
        {"model": "crm.lead", "record": lead(2)},
    ]
    lines = [json.dumps(x) for x in good]
    lines += [json.dumps(good[1]), '{"model": "crm.lead", "record": {"name": "no id"}}', "{oops"]
    dump.write_text("\n".join(lines) + "\n")
    report = tmp_path / "report.jsonl"
    first = run(env, "import", str(dump), "--report", str(report))
    assert first.returncode == 1, first.stderr  # rejected lines make it non-zero
    assert "imported   3" in first.stdout and "duplicate  1" in first.stdout
    assert "rejected   2" in first.stdout and "line 6: rejected" in first.stdout
    outcomes = [json.loads(x) for x in report.read_text().splitlines()]
    assert [o["line"] for o in outcomes] == [1, 2, 3, 4, 5, 6]
    dump.write_text("\n".join(json.dumps(x) for x in good) + "\n")
    again = run(env, "import", str(dump))
    assert again.returncode == 0 and "unchanged  3" in again.stdout
    assert "backup of replaced records" in again.stdout
    backups = list((tmp_path / "data" / "backups").glob("import-*.jsonl"))
    assert backups and any("crm.lead" in b.read_text() for b in backups)
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
    try:
        assert client[name]["event_commits"].count_documents({}) == 3
    finally:
        client.drop_database(name)
        client.close()
