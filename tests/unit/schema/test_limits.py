"""Depth, alias and cost limits refuse an operation before anything runs."""

from __future__ import annotations

import pytest
from graphql import parse, specified_rules, validate

from schema.build import build_schema
from schema.limits import cost_rule, limits_rule
from tests.reliability.test_graphql_hostile import doubling_bomb

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


def limit_errors(query: str, **limits: int) -> list[str]:
    rules = [*specified_rules, limits_rule(**limits)]
    return [e.message for e in validate(SCHEMA, parse(query), rules)]


def test_depth_counts_fields_with_selections_through_fragments() -> None:
    query = "{ viewer { ...H } } fragment H on UserProfile { hierarchy { manager { name } } }"
    assert limit_errors(query, max_depth=3) == []
    assert limit_errors(query, max_depth=2) == ["'anonymous' exceeds maximum operation depth of 2"]


def test_aliases_count_once_per_spread() -> None:
    query = "{ a: viewer { ...P } b: viewer { ...P } } fragment P on UserProfile { x: id y: name }"
    assert limit_errors(query, max_aliases=6) == []
    assert limit_errors(query, max_aliases=5) == ["6 aliases found. Allowed: 5"]


@pytest.mark.parametrize("levels", [18, 40, 400])
def test_a_doubling_fragment_bomb_is_measured_without_expanding_it(levels: int) -> None:
    # 2**levels expansions if spreads were walked one by one; measured per fragment, each
    # level costs the same, so 400 levels validate as quickly as 18 (a walk would never end).
    errors = limit_errors(doubling_bomb(levels))
    assert "The operation selects more than 400 fields" in errors


def test_aliases_in_a_bomb_are_counted_in_full() -> None:
    chain = " ".join(
        f"fragment F{i} on UserProfile {{ ...F{i + 1} ...F{i + 1} }}" for i in range(30)
    )
    query = f"{{ viewer {{ ...F0 }} }} {chain} fragment F30 on UserProfile {{ a: id }}"
    assert f"{2**30} aliases found. Allowed: 30" in limit_errors(query)


def chain(n: int) -> str:
    spreads = " ".join(f"fragment F{i} on UserProfile {{ ...F{i + 1} }}" for i in range(n))
    return f"{{ viewer {{ ...F0 }} }} {spreads} fragment F{n} on UserProfile {{ id }}"


def test_long_chains_of_spreads_are_measured_or_refused_by_graphql() -> None:
    assert limit_errors(chain(190)) == []  # within graphql-core's nesting bound
    # Beyond it graphql-core aborts validation itself (a client error, before our rule).
    assert limit_errors(chain(3_000)) == ["Validation aborted."]


@pytest.mark.parametrize(
    ("query", "reported"),
    [
        ("{ viewer { ...Nope } }", "Unknown fragment 'Nope'."),
        (
            "{ viewer { ...A } } fragment A on UserProfile { id ...B } "
            "fragment B on UserProfile { ...A }",
            "Cannot spread fragment 'A' within itself via 'B'.",
        ),
    ],
)
def test_undefined_and_cyclic_fragments_are_left_to_graphql(query: str, reported: str) -> None:
    assert limit_errors(query) == [reported]


def test_aliases_inside_introspection_still_count() -> None:
    aliased = " ".join(f"n{i}: name" for i in range(31))
    assert limit_errors(f"{{ __schema {{ types {{ {aliased} }} }} }}") == [
        "31 aliases found. Allowed: 30"
    ]
