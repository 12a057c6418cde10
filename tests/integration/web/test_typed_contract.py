"""The TypeScript types of frontend-contract/generated are those graphql-codegen makes from the
code's schema and the operations, and the frontend code of frontend-contract/typecheck
compiles against them: a schema change that breaks a frontend fails here."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from infrastructure.web.assets import CONTRACT_DIR
from schema.export import export_sdl


def codegen_check(node: str, schema: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node, "scripts/codegen-check.mjs"],
        cwd=CONTRACT_DIR,
        env={**os.environ, "PULSE_SCHEMA": str(schema)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_the_generated_types_match_the_schema_and_compile(node: str, tmp_path: Path) -> None:
    sdl = tmp_path / "schema.graphql"
    sdl.write_text(export_sdl())  # the running code's schema, not only the committed file
    result = codegen_check(node, sdl)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout and "tsc --noEmit: ok" in result.stdout


def test_a_breaking_schema_change_fails_the_check(node: str, tmp_path: Path) -> None:
    sdl = tmp_path / "schema.graphql"
    sdl.write_text(export_sdl().replace("winRate: Float", "winRate: String"))
    result = codegen_check(node, sdl)
    assert result.returncode == 1
    assert "generated/graphql.ts is stale" in result.stderr
