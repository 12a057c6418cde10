"""Error codes, no leaked internals, refusal of expensive or oversized requests."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from tests.integration.graphql.conftest import Live, error_codes
from tests.integration.graphql.world import ADMIN_BY_ROLE


def admin(live: Live) -> str:
    return live.token(ADMIN_BY_ROLE, admin=True)


def assert_nothing_internal(body: dict[str, Any], *secrets: str) -> None:
    text = json.dumps(body)
    for needle in ("Traceback", 'File "', ".py", "RuntimeError", *secrets):
        assert needle not in text, needle


async def test_an_unexpected_failure_is_internal_generic_and_logged(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    live.commands.fail_with = RuntimeError("password hunter2 in /srv/pulse/db.py")
    try:
        with caplog.at_level(logging.ERROR, logger="pulse.graphql"):
            body = await live.post("{ syncRuns { id } }", token=admin(live))
    finally:
        live.commands.fail_with = None
    assert body["data"] is None
    assert body["errors"] == [
        {
            "message": "Internal server error",
            "locations": [{"line": 1, "column": 3}],
            "path": ["syncRuns"],
            "extensions": {"code": "INTERNAL"},
        }
    ]
    assert_nothing_internal(body, "hunter2")
    logged = [r for r in caplog.records if r.exc_info and "hunter2" in str(r.exc_info[1])]
    assert logged, "the original error must be logged server-side"


async def test_a_failing_nested_field_does_not_take_the_rest_down(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> int:
        raise ValueError("stream table corrupt at /var/lib/x")

    monkeypatch.setattr(live.container.event_store, "stream_version", broken)
    alpha = next(r for r in live.world.opportunities.values() if r["name"] == "Alpha deal")
    query = "query($id: ID!) { viewer { id } opportunity(id: $id) { id history { type } } }"
    body = await live.post(query, {"id": alpha["_id"]}, token=live.token_of("ana"))
    # history is non-null, so the error nulls the (nullable) opportunity, and only that.
    assert body["data"] == {"viewer": {"id": live.world["ana"].id}, "opportunity": None}
    assert error_codes(body) == ["INTERNAL"]
    assert body["errors"][0]["path"][-1] == "history"
    assert_nothing_internal(body, "corrupt")


@pytest.mark.parametrize(
    "query",
    ["{ viewer { id ", "{ viewer { nope } }", "query($x: Int!) { viewer { id } }",
     "{ opportunities(first: \"x\") { totalCount } }"],
)  # fmt: skip
async def test_malformed_operations_are_bad_user_input(live: Live, query: str) -> None:
    body = await live.post(query, token=live.token_of("ana"))
    assert body.get("data") is None
    assert set(error_codes(body)) == {"BAD_USER_INPUT"}


async def test_too_many_aliases_are_refused(live: Live) -> None:
    query = "{ " + " ".join(f"v{n}: viewer {{ id }}" for n in range(31)) + " }"
    body = await live.post(query, token=live.token_of("ana"))
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "aliases" in body["errors"][0]["message"]


async def test_an_expensive_query_is_refused_before_it_runs(live: Live) -> None:
    query = """{ opportunities(first: 200) { edges { node { id
                 history(first: 200) { type data } } } } }"""
    body = await live.post(query, token=live.token_of("ana"))
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "more than" in body["errors"][0]["message"]
    ok = "{ opportunities(first: 50) { edges { node { id history(first: 50) { type } } } } }"
    assert "errors" not in await live.post(ok, token=live.token_of("ana"))


async def test_an_oversized_body_is_413(live: Live) -> None:
    padding = " " * (300 * 1024)
    response = await live.http.post(
        live.graphql_url,
        json={"query": "{ viewer { id }" + padding + "}"},
        headers={"Authorization": f"Bearer {live.token_of('ana')}"},
    )
    assert response.status_code == 413
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]


async def test_mutations_over_get_are_refused(live: Live) -> None:
    response = await live.http.get(
        live.graphql_url,
        params={"query": "mutation { syncOdoo { id } }"},
        headers={"Authorization": f"Bearer {admin(live)}", "Accept": "application/json"},
    )
    assert response.status_code == 405
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]
    assert live.commands.calls == []


async def test_a_body_that_is_not_json_is_400_with_a_code(live: Live) -> None:
    response = await live.http.post(
        live.graphql_url, content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]


async def test_graphiql_is_served_to_a_browser(live: Live) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(live.graphql_url, headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_other_methods_are_refused(live: Live) -> None:
    response = await live.http.put(live.graphql_url, json={"query": "{ viewer { id } }"})
    assert response.status_code == 405
