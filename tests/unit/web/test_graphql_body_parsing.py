"""``/graphql`` bodies that are not a JSON object are the client's mistake: a 400, not a 500.

The running-server cases (non-UTF-8, JSON scalars) are in
tests/reliability/test_graphql_hostile.py. A body nested deeper than the JSON decoder's
recursion limit is checked here, in a child interpreter: a RecursionError raised in the test
process itself can leave CPython 3.11's AST recursion counter off and crash pytest later.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cross_web import HTTPException

from infrastructure.graphql_app import PulseGraphQL


def parse(body: bytes) -> object:
    return PulseGraphQL.parse_json(None, body)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "body", [b'{"query": "\xff\x80"}', b'"{ viewer { id } }"', b"5", b"null", b"true", b"{"]
)
def test_what_is_not_a_json_object_is_a_400(body: bytes) -> None:
    with pytest.raises(HTTPException) as refused:
        parse(body)
    assert refused.value.status_code == 400


@pytest.mark.parametrize("body", [b'{"query": "{ viewer { id } }"}', b"[]"])
def test_objects_and_batches_are_parsed(body: bytes) -> None:
    assert isinstance(parse(body), dict | list)


def test_a_body_nested_too_deeply_is_a_400() -> None:
    script = textwrap.dedent(
        """
        from cross_web import HTTPException
        from infrastructure.graphql_app import PulseGraphQL
        body = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
        try:
            PulseGraphQL.parse_json(None, body)
        except HTTPException as refused:
            print(refused.status_code, refused.reason)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=Path(__file__).parents[3],
    )
    assert done.stdout.strip() == "400 Unable to parse the request body as JSON"


def test_get_parameters_that_are_not_json_are_a_400() -> None:
    with pytest.raises(HTTPException) as refused:
        PulseGraphQL.parse_query_params(None, {"query": "{ a }", "variables": "{"})  # type: ignore[arg-type]
    assert (refused.value.status_code, refused.value.reason) == (
        400,
        "Unable to parse the variables as JSON",
    )
    parsed = PulseGraphQL.parse_query_params(None, {"query": "{ a }", "variables": '{"x": 1}'})  # type: ignore[arg-type]
    assert parsed == {"query": "{ a }", "variables": {"x": 1}}
