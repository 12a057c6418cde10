"""Authentication and roles over HTTP (PRODUCT.md §3 "Admin", §4 errors, §5)."""

from __future__ import annotations

import base64
import json
import secrets
import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXAsyncTransport

from infrastructure.auth import mint_token
from projections.read_models import USER_ACCESS
from tests.integration.graphql.conftest import SECRET, Live, error_codes
from tests.integration.graphql.world import ADMIN_BY_EMAIL, ADMIN_BY_ROLE, STRANGER

WHO = "{ viewer { id email } dashboard { scope } }"


async def test_a_rep_is_themself_with_their_own_scope(live: Live) -> None:
    data = await live.data(WHO, token=live.token_of("ana"))
    assert data["viewer"] == {"id": live.world["ana"].id, "email": live.world["ana"].email}
    assert data["dashboard"]["scope"] == "OWN"


async def test_a_manager_has_the_team_scope(live: Live) -> None:
    data = await live.data(WHO, token=live.token_of("maya"))
    assert data["viewer"]["id"] == live.world["maya"].id
    assert data["dashboard"]["scope"] == "TEAM"


@pytest.mark.parametrize(
    ("email", "admin"), [(ADMIN_BY_ROLE, True), (ADMIN_BY_EMAIL, False)], ids=["role", "email"]
)
async def test_an_admin_need_not_be_an_odoo_user(live: Live, email: str, admin: bool) -> None:
    data = await live.data(WHO, token=live.token(email, admin=admin))
    assert data["viewer"] is None
    assert data["dashboard"]["scope"] == "ALL"


async def test_an_admin_who_is_a_user_sees_their_profile_and_everything(live: Live) -> None:
    data = await live.data(WHO, token=live.token_of("max", admin=True))
    assert data["viewer"]["id"] == live.world["max"].id
    assert data["dashboard"]["scope"] == "ALL"


async def test_the_email_of_a_token_is_matched_case_insensitively(live: Live) -> None:
    claims = {"sub": live.world["ana"].email.upper(), "exp": int(time.time()) + 60}
    token = jwt.encode(claims, SECRET.encode(), algorithm="HS256")
    data = await live.data(WHO, token=token)
    assert data["viewer"]["id"] == live.world["ana"].id


@pytest.mark.parametrize("who", ["stranger", "archived user"])
async def test_a_valid_token_without_an_active_user_is_forbidden(live: Live, who: str) -> None:
    email = STRANGER if who == "stranger" else live.world["dora"].email
    body = await live.post(WHO, token=live.token(email))
    assert body["data"] is None
    assert error_codes(body) == ["FORBIDDEN"]


async def test_an_archived_user_is_refused_as_soon_as_the_server_sees_the_change(
    live: Live,
) -> None:
    # Requests share access entries (no read per request) only while the access matrix's
    # content stamp stands; archiving moves it, and the next request is refused.
    ben = live.world["ben"]
    assert (await live.data(WHO, token=live.token_of("ben")))["viewer"]["id"] == ben.id
    access = await live.collection(USER_ACCESS)
    await access.update_one({"_id": ben.id}, {"$set": {"active": False}})
    await live.access_changed()
    try:
        body = await live.post(WHO, token=live.token_of("ben"))
        assert body["data"] is None and error_codes(body) == ["FORBIDDEN"]
    finally:
        await access.update_one({"_id": ben.id}, {"$set": {"active": True}})
        await live.access_changed()
    assert (await live.data(WHO, token=live.token_of("ben")))["viewer"]["id"] == ben.id


def _alg_none_token(email: str) -> str:
    def part(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({'sub': email, 'exp': 2**31})}."


@pytest.mark.parametrize("case", ["missing", "expired", "forged", "alg none", "not bearer"])
async def test_bad_credentials_are_unauthenticated(live: Live, case: str) -> None:
    email = live.world["maya"].email
    headers: dict[str, str] = {}
    if case == "expired":
        past = datetime.now(UTC) - timedelta(hours=2)
        token = mint_token(email, secret=SECRET, ttl_seconds=60, now=past)
        headers["Authorization"] = f"Bearer {token}"
    elif case == "forged":
        token = mint_token(email, secret=secrets.token_urlsafe(32), admin=True)
        headers["Authorization"] = f"Bearer {token}"
    elif case == "alg none":
        headers["Authorization"] = f"Bearer {_alg_none_token(email)}"
    elif case == "not bearer":
        headers["Authorization"] = f"Basic {base64.b64encode(b'maya:pw').decode()}"
    body = await live.post(WHO, headers=headers)
    assert body["data"] is None
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert "Traceback" not in json.dumps(body)


@pytest.mark.parametrize(
    "operation",
    [
        "{ syncRuns { id } }",
        "{ projections { name } }",
        "{ events { edges { cursor } } }",
        "mutation { syncOdoo { id } }",
        "mutation { rebuildProjections { name } }",
    ],
)
async def test_admin_fields_are_forbidden_to_others(live: Live, operation: str) -> None:
    calls = len(live.commands.calls)
    body = await live.post(operation, token=live.token_of("maya"))
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["data"] is None
    assert len(live.commands.calls) == calls  # nothing reached the command handlers


async def test_introspection_is_public_while_graphiql_is_on(live: Live) -> None:
    body = await live.post("{ __schema { queryType { name } } }")
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    body = await live.post("{ __typename viewer { id } }")
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_queries_work_over_get_and_through_gql(live: Live) -> None:
    token = live.token_of("ana")
    async with httpx.AsyncClient() as client:
        response = await client.get(
            live.graphql_url,
            params={"query": "{ viewer { id } }"},
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        )
    assert response.json()["data"]["viewer"]["id"] == live.world["ana"].id
    transport = HTTPXAsyncTransport(live.graphql_url, headers={"Authorization": f"Bearer {token}"})
    async with Client(transport=transport) as session:
        result = await session.execute(GraphQLRequest("{ viewer { name } }"))
        assert result == {"viewer": {"name": "Ana Rep"}}
        with pytest.raises(TransportQueryError) as refused:
            await session.execute(GraphQLRequest("{ syncRuns { id } }"))
        assert refused.value.errors is not None
        assert refused.value.errors[0]["extensions"]["code"] == "FORBIDDEN"
