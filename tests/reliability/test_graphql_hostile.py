"""Hostile requests to ``/graphql`` of a running server (PRODUCT.md §4).

Every answer: no 5xx, no stack trace or secret, every error with an ``extensions.code`` out
of UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, NOT_FOUND, INTERNAL (and, for malformed
input, never INTERNAL: the client's mistake is BAD_USER_INPUT). Nothing changes: every
collection of the server's database is the same before and after each test.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, cast

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
)
from hypothesis import given
from hypothesis import strategies as st

from schema.build import build_schema
from tests.reliability.gql import Company, check_answer, company, operation, post
from tests.reliability.hostile import broken_json, json_objects, json_values, weird_text
from tests.reliability.support import TALLY, examples

WHO = st.sampled_from([None, "ana", "maya", "admin"])
SCHEMA: GraphQLSchema = build_schema()._schema


@pytest.fixture(scope="module")
def live(mongo_url: str) -> Iterator[Company]:
    with company(mongo_url) as seeded:
        yield seeded


@pytest.fixture(autouse=True)
def nothing_changes(live: Company) -> Iterator[None]:
    before = live.server.fingerprint()
    yield
    assert live.server.fingerprint() == before, "a hostile request changed the database"


# -- bodies -----------------------------------------------------------------------------------


@examples(120)
@given(body=broken_json(), who=WHO)
def test_malformed_json_bodies(live: Company, body: bytes, who: str | None) -> None:
    post(live, "graphql: malformed JSON", body, who=who, internal_allowed=False)


@examples(120)
@given(
    envelope=st.dictionaries(
        st.sampled_from(["query", "variables", "operationName", "extensions", "x"]),
        json_values,
        max_size=4,
    ),
    who=WHO,
)
def test_random_request_objects(live: Company, envelope: dict[str, Any], who: str | None) -> None:
    post(live, "graphql: random request objects", json.dumps(envelope), who=who,
         internal_allowed=False)  # fmt: skip


@examples(30)
@given(batch=st.lists(json_objects | st.just({"query": "{ viewer { id } }"}), max_size=20))
def test_batched_arrays_are_refused(live: Company, batch: list[Any]) -> None:
    answer = post(live, "graphql: batched arrays", json.dumps(batch), internal_allowed=False)
    assert answer is not None and answer["data"] is None


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/graphql", "multipart/form-data; boundary=x",
     "application/x-www-form-urlencoded", "", "application/json; charset=latin-1"],
)  # fmt: skip
def test_other_content_types(live: Company, content_type: str) -> None:
    post(live, "graphql: content types", '{"query": "{ viewer { id } }"}',
         content_type=content_type, internal_allowed=False)  # fmt: skip


@pytest.mark.parametrize("size", [256 * 1024 + 1, 4 * 1024 * 1024])
def test_oversized_bodies(live: Company, size: int) -> None:
    padding = " " * size
    response = live.server.http.post(
        live.graphql,
        content=('{"query": "{ viewer { id }' + padding + '}"}').encode(),
        headers={"Content-Type": "application/json", **live.headers("ana")},
    )
    TALLY.record("graphql: oversized bodies", response.status_code)
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# -- operations -------------------------------------------------------------------------------

NAMES = sorted(
    {n for t in SCHEMA.type_map.values() if isinstance(t, GraphQLObjectType) for n in t.fields}
)
TOKENS = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(["{", "}", "(", ")", ":", "$", "!", "[", "]", "...", "@", ",", "=", "|"]),
    st.sampled_from(["query", "mutation", "subscription", "fragment", "on", "__schema"]),
    st.integers().map(str),
    weird_text.map(json.dumps),
)


@examples(150)
@given(tokens=st.lists(TOKENS, max_size=40), who=WHO)
def test_random_operation_text(live: Company, tokens: list[str], who: str | None) -> None:
    operation(live, "graphql: random operation text", " ".join(tokens), who=who)


def _literal(depth: int = 0) -> st.SearchStrategy[str]:
    """Any GraphQL literal, of any type: what a wrong-typed argument looks like."""
    leaves = st.one_of(
        st.integers().map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
        weird_text.map(json.dumps),
        st.sampled_from(["true", "false", "null", "OPEN", "WON", "REVENUE_DESC", "FOO", "$v"]),
    )
    if depth >= 2:
        return leaves
    inner = _literal(depth + 1)
    return st.one_of(
        leaves,
        st.lists(inner, max_size=3).map(lambda xs: "[" + ", ".join(xs) + "]"),
        st.dictionaries(st.sampled_from(["status", "search", "minRevenue", "stageIds", "x"]),
                        inner, max_size=3).map(
            lambda d: "{" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}"
        ),
    )  # fmt: skip


@st.composite
def selections(draw: st.DrawFn, type_: GraphQLObjectType, depth: int = 0) -> str:
    """A random selection set over the real schema, with random (mostly wrong) arguments."""
    names = draw(st.lists(st.sampled_from(sorted(type_.fields)), min_size=1, max_size=4))
    parts = []
    for n, name in enumerate(names):
        field = type_.fields[name]
        args = ""
        if field.args and draw(st.booleans()):
            chosen = draw(st.lists(st.sampled_from(sorted(field.args)), min_size=1, max_size=3))
            args = "(" + ", ".join(f"{a}: {draw(_literal())}" for a in chosen) + ")"
        named = get_named_type(field.type)
        sub = ""
        if isinstance(named, GraphQLObjectType):
            sub = (
                "{ __typename }" if depth >= 4 else "{ " + draw(selections(named, depth + 1)) + " }"
            )
        parts.append(f"f{n}: {name}{args} {sub}")
    return " ".join(parts)


@examples(150)
@given(body=selections(SCHEMA.query_type), who=WHO)  # type: ignore[arg-type]
def test_schema_shaped_queries_with_wrong_arguments(
    live: Company, body: str, who: str | None
) -> None:
    operation(live, "graphql: wrong argument types", "{ " + body + " }", who=who,
              internal_allowed=False)  # fmt: skip


ORDERS = sorted(cast(GraphQLEnumType, SCHEMA.type_map["OpportunityOrder"]).values)
LIST = """query($filter: OpportunityFilter, $order: OpportunityOrder, $first: Int, $after: String) {
  opportunities(filter: $filter, orderBy: $order, first: $first, after: $after) {
    totalCount edges { cursor node { id salesperson { id } } } } }"""


def _input_values(type_: GraphQLInputObjectType) -> st.SearchStrategy[dict[str, Any]]:
    fields = sorted(type_.fields)
    return st.dictionaries(st.sampled_from([*fields, "unknown"]), json_values, max_size=4)


@examples(150)
@given(
    variables=st.fixed_dictionaries(
        {},
        optional={
            "filter": st.one_of(json_values, _input_values(SCHEMA.type_map["OpportunityFilter"])),  # type: ignore[arg-type]
            "order": st.one_of(json_values, st.sampled_from(ORDERS)),
            "first": st.one_of(json_values, st.integers()),
            "after": json_values,
        },
    ),
    who=WHO,
)  # fmt: skip
def test_wrong_variable_types(live: Company, variables: dict[str, Any], who: str | None) -> None:
    operation(live, "graphql: wrong variable types", LIST, variables, who=who,
              internal_allowed=False)  # fmt: skip


@examples(60)
@given(search=weird_text, op_name=st.one_of(st.just("Q"), weird_text), who=WHO)
def test_unicode_in_search_and_names(
    live: Company, search: str, op_name: str, who: str | None
) -> None:
    payload = {
        "query": "query Q($s: String) { opportunities(filter: {search: $s}) { totalCount } }",
        "variables": {"s": search},
        "operationName": op_name,
    }
    post(live, "graphql: unicode", json.dumps(payload, ensure_ascii=False), who=who,
         internal_allowed=False)  # fmt: skip


# -- expensive shapes -------------------------------------------------------------------------


def _refused(answer: dict[str, Any] | None) -> bool:
    return answer is not None and answer.get("data") is None and bool(answer.get("errors"))


@pytest.mark.parametrize("depth", [13, 50, 500, 5_000, 50_000])
def test_deep_queries_are_refused(live: Company, depth: int) -> None:
    query = "{ " + "viewer { hierarchy { manager { " * depth + "name" + " } } }" * depth + " }"
    if len(query) > 250_000:  # past the body limit: the parser's own nesting guard instead
        query = "{" + "a{" * depth + "b" + "}" * depth + "}"
    answer = operation(live, "graphql: deep queries", query, internal_allowed=False)
    assert _refused(answer)


@pytest.mark.parametrize("depth", [8, 12, 30])
def test_deep_introspection_is_bounded(live: Company, depth: int) -> None:
    inner = "name"
    for _ in range(depth):
        inner = f"fields {{ name type {{ name {inner} }} }}"
    query = f'{{ __type(name: "Opportunity") {{ {inner} }} }}'
    answer = operation(live, "graphql: deep queries", query, internal_allowed=False)
    assert answer is not None


@pytest.mark.parametrize("width", [399, 401, 5_000])
def test_wide_queries(live: Company, width: int) -> None:
    query = "{ viewer { " + " ".join(["id"] * width) + " } }"
    answer = operation(live, "graphql: wide queries", query, internal_allowed=False)
    assert _refused(answer) == (width > 399)


@pytest.mark.parametrize("aliases", [31, 1_000, 10_000])
def test_alias_bombs(live: Company, aliases: int) -> None:
    query = "{ " + " ".join(f"a{n}: dashboard {{ asOf }}" for n in range(aliases)) + " }"
    assert _refused(operation(live, "graphql: alias bombs", query, internal_allowed=False))


def doubling_bomb(levels: int) -> str:
    """Each fragment spreads the next one twice: 2**levels expansions from a 1 KB query."""
    chain = " ".join(
        f"fragment F{i} on UserProfile {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)
    )
    return f"query {{ viewer {{ ...F0 }} }} {chain} fragment F{levels} on UserProfile {{ id name }}"


FRAGMENTS = {
    "self": "query { viewer { ...A } } fragment A on UserProfile { id ...A }",
    "pair": "query { viewer { ...A } } fragment A on UserProfile { ...B } "
    "fragment B on UserProfile { ...A }",
    "long cycle": "query { viewer { ...F0 } } "
    + " ".join(f"fragment F{i} on UserProfile {{ id ...F{(i + 1) % 60} }}" for i in range(60)),
    "doubling bomb (8 levels)": doubling_bomb(8),
    "unused": "query { viewer { id } } fragment A on UserProfile { id }",
}


FRAGMENTS["unknown"] = "query { viewer { ...Nope } }"
FRAGMENTS["doubling bomb (40 levels)"] = doubling_bomb(40)
FRAGMENTS["chain beyond graphql's nesting bound"] = (
    "query { viewer { ...F0 } } "
    + " ".join(f"fragment F{i} on UserProfile {{ ...F{i + 1} }}" for i in range(3_000))
    + " fragment F3000 on UserProfile { id }"
)


@pytest.mark.parametrize("case", sorted(FRAGMENTS))
def test_fragment_cycles_and_bombs(live: Company, case: str) -> None:
    answer = operation(live, "graphql: fragment cycles", FRAGMENTS[case], internal_allowed=False)
    assert _refused(answer)


@pytest.mark.parametrize(
    "variables",
    [
        {"filter": {"salespersonIds": ["x"] * 20_000}},
        {"filter": {"search": "x" * 200_000}},
        {"filter": {"stageIds": list(range(30_000))}},
        {"first": 10**40},
        {"after": "A" * 200_000},
        {"unused": [{"k": "v" * 100}] * 1_500},
    ],
    ids=["20k ids", "200k search", "30k int ids", "huge first", "200k cursor", "unused"],
)
def test_huge_variables(live: Company, variables: dict[str, Any]) -> None:
    operation(live, "graphql: huge variables", LIST, variables, internal_allowed=False)


# -- transport --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "mutation { syncOdoo { id } }",
        "mutation { rebuildProjections { name } }",
        "mutation M { rebuildProjections(names: []) { name } } query Q { viewer { id } }",
        "subscription { dashboardUpdated { asOf } }",
    ],
)
def test_get_with_mutations_changes_nothing(live: Company, query: str) -> None:
    response = live.server.http.get(
        live.graphql,
        params={"query": query, "operationName": "M" if "M {" in query else None},
        headers={"Accept": "application/json", **live.headers("admin")},
    )
    answer = check_answer_get(live, response, query)
    assert response.status_code in (400, 405), response.text
    assert answer is not None and answer["data"] is None


PARAMETERS = st.sampled_from(["query", "variables", "operationName", "extensions", "x"])


@examples(40)
@given(params=st.dictionaries(PARAMETERS, weird_text, max_size=4))
def test_get_with_random_parameters(live: Company, params: dict[str, str]) -> None:
    response = live.server.http.get(
        live.graphql, params=params, headers={"Accept": "application/json", **live.headers("ana")}
    )
    check_answer_get(live, response, json.dumps(params, ensure_ascii=False))


def check_answer_get(live: Company, response: Any, sent: str) -> dict[str, Any] | None:
    return check_answer("graphql: GET requests", response, sent, live.server,
                        internal_allowed=False)  # fmt: skip


# -- bodies Strawberry's own parser answered with a 500 ----------------------------------------

SCALAR_CASE = "graphql: bodies that are not a JSON object"
SCALARS = {
    "not UTF-8": b'{"query": "\xff\x80"}',
    "a JSON string": b'"{ viewer { id } }"',
    "a JSON number": b"5",
    "JSON null": b"null",
    "JSON true": b"true",
    # A body nested deeper than json's recursion limit is sent by
    # tests/unit/infrastructure/test_graphql_body_parsing.py in a subprocess: the
    # RecursionError it raises inside this process (the server runs in a thread here) would
    # leave CPython 3.11's AST recursion counter off and crash pytest's failure formatting.
}


@pytest.mark.parametrize("case", sorted(SCALARS))
def test_bodies_that_are_not_a_json_object_are_a_400(live: Company, case: str) -> None:
    response = live.server.post_once(
        "/graphql",
        content=SCALARS[case],
        headers={"Content-Type": "application/json", **live.headers("ana")},
    )
    TALLY.record(SCALAR_CASE, response.status_code)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_a_fragment_bomb_is_refused_quickly(live: Company) -> None:
    # 40 levels is 2**40 expansions: a validator that walks spreads one by one never
    # answers and stalls every request of the process (as Strawberry's limiters did); ours
    # measures each fragment once. Anonymous on purpose: validation runs before the
    # authentication gate. The timeout is generous for a loaded machine, not a benchmark.
    case = "graphql: fragment bomb (40 levels), anonymous"
    try:
        response = live.server.http.post(
            live.graphql, json={"query": doubling_bomb(40)}, timeout=10.0
        )
    except httpx.TimeoutException:
        TALLY.record(case, 599)
        _wait_until_answering(live)
        raise
    TALLY.record(case, response.status_code)
    assert response.status_code < 500
    assert _refused(response.json())


def _wait_until_answering(live: Company) -> None:
    """The server is still validating the bomb: wait, so later tests are not blamed."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            live.server.http.get(f"{live.server.url}/healthz", timeout=1.0)
            return
        except httpx.TimeoutException:
            continue
