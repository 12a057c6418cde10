"""The frontend contract: the checked-in SDL is the code's, and every operation is valid."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, parse, specified_rules, validate

from schema.build import build_schema
from schema.export import export_sdl
from schema.limits import cost_rule

CONTRACT = Path(__file__).resolve().parents[3] / "frontend-contract"
OPERATIONS = sorted((CONTRACT / "operations").glob("*.graphql"))


def test_the_checked_in_schema_is_up_to_date() -> None:
    checked_in = (CONTRACT / "schema.graphql").read_text()
    assert checked_in == export_sdl(), (
        "frontend-contract/schema.graphql is stale: run "
        "`python -m schema.export > frontend-contract/schema.graphql`"
    )


def test_every_screen_has_its_operations() -> None:
    names = {p.stem for p in OPERATIONS}
    assert {
        "dashboard", "opportunities", "opportunity_detail", "viewer_profile", "org_chart",
        "dashboard_updated", "opportunity_changed", "admin_sync_runs", "admin_sync_odoo",
        "admin_projections", "admin_rebuild_projections", "admin_events",
    } <= names  # fmt: skip


@pytest.mark.parametrize("path", OPERATIONS, ids=lambda p: p.name)
def test_each_operation_is_valid_against_the_schema(path: Path) -> None:
    document = parse(path.read_text())
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    assert len(operations) == 1, "one operation per file"
    schema = build_schema()._schema
    errors = validate(schema, document, [*specified_rules, cost_rule()])
    assert errors == []
