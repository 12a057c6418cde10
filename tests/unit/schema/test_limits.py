"""Depth, alias and cost limits refuse an operation before anything runs."""

from __future__ import annotations

import pytest
from graphql import parse, specified_rules, validate

from schema.build import build_schema
from schema.limits import cost_rule

SCHEMA = build_schema()._schema


def cost_errors(query: str, max_selections: int = 400, max_cost: int = 20_000) -> list[str]:
    rules = [*specified_rules, cost_rule(max_selections, max_cost)]
    return [e.message for e in validate(SCHEMA, parse(query), rules)]


def test_page_sizes_multiply() -> None:
    nested = "{ opportunities(first: %d) { edges { node { id history(first: %d) { type } } } } }"
    assert cost_errors(nested % (50, 50)) == []
    assert cost_errors(nested % (200, 200)) != []
    # A size given by a variable counts as the largest page; a missing one as the default.
    variable = "query($n: Int) { opportunities(first: $n) { edges { node { history { type } } } } }"
    assert cost_errors(variable, max_cost=200 * 50 * 3) == []
    assert cost_errors(variable, max_cost=200 * 50) != []


def test_fragments_are_counted_where_they_are_spread() -> None:
    query = """
      query { a: viewer { ...P } b: viewer { ...P } c: viewer { ...P } }
      fragment P on UserProfile { id name email active hierarchy { isManager reportsCount } }
    """
    assert cost_errors(query, max_selections=24) == []
    assert cost_errors(query, max_selections=20) == ["The operation selects more than 20 fields"]


def test_introspection_is_free() -> None:
    query = "{ __schema { types { name fields { name type { name ofType { name } } } } } }"
    assert cost_errors(query, max_selections=1) == []


async def test_too_deep_or_too_aliased_operations_are_bad_user_input() -> None:
    shallow = build_schema(max_depth=2, max_aliases=2)
    deep = await shallow.execute("{ viewer { hierarchy { manager { name } } } }")
    assert deep.errors is not None
    assert [e.extensions for e in deep.errors] == [{"code": "BAD_USER_INPUT"}]
    assert "depth" in deep.errors[0].message
    aliased = await shallow.execute("{ a: viewer { id } b: viewer { id } c: viewer { id } }")
    assert aliased.errors is not None and "aliases" in aliased.errors[0].message


@pytest.mark.parametrize("query", ["{ viewer { id } }", "{ __typename }"])
async def test_without_a_session_nothing_runs(query: str) -> None:
    result = await build_schema().execute(query, context_value=None)
    assert result.errors is not None
    assert [e.extensions for e in result.errors] == [{"code": "INTERNAL"}]
