"""A running server with a small seeded company, and the checks every GraphQL answer passes.

The company is ``tests/integration/graphql/world.py`` (Maya manages Ana and Ben, Max manages
Cleo, Dora is archived), written straight into the read models the server reads.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from infrastructure.auth import mint_token
from infrastructure.graphql_app import active_collections
from infrastructure.mongo.client import create_client
from tests.integration.graphql.world import (
    ADMIN_BY_EMAIL,
    ADMIN_BY_ROLE,
    World,
    build_world,
    seed,
)
from tests.reliability.support import TALLY, Server, leaks, run_async, serve

JWT_SECRET = "jwt-" + secrets.token_urlsafe(32)
CODES = frozenset({"UNAUTHENTICATED", "FORBIDDEN", "BAD_USER_INPUT", "NOT_FOUND", "INTERNAL"})


@dataclass
class Company:
    server: Server
    world: World

    @property
    def graphql(self) -> str:
        return f"{self.server.url}/graphql"

    @property
    def ws(self) -> str:
        return self.graphql.replace("http://", "ws://")

    def token(self, who: str, **options: Any) -> str:
        if who == "admin":
            return mint_token(ADMIN_BY_ROLE, secret=JWT_SECRET, admin=True, **options)
        return mint_token(self.world[who].email, secret=JWT_SECRET, **options)

    def headers(self, who: str | None) -> dict[str, str]:
        return {} if who is None else {"Authorization": f"Bearer {self.token(who)}"}


def seed_company(mongo_url: str, db_name: str) -> World:
    world = build_world()

    async def write() -> None:
        client = create_client(mongo_url)
        try:
            db = client[db_name]
            resolve = active_collections(db)

            async def collection(base: str) -> Any:
                return db[await resolve(base)]

            await seed(collection, world)
        finally:
            await client.close()

    run_async(write)
    return world


@contextmanager
def company(mongo_url: str, **overrides: Any) -> Iterator[Company]:
    settings: dict[str, Any] = {
        "jwt_secret": JWT_SECRET,
        "admin_emails": frozenset({ADMIN_BY_EMAIL}),
        "graphiql": False,  # as in production: introspection needs a token
        "webhook_token": "wh-" + secrets.token_urlsafe(16),
        **overrides,
    }
    with serve(mongo_url, **settings) as server:
        yield Company(server, seed_company(mongo_url, server.db_name))


def check_answer(
    case: str, response: httpx.Response, sent: str, server: Server, *,
    also_secret: tuple[str, ...] = (), internal_allowed: bool = True,
) -> dict[str, Any] | None:  # fmt: skip
    """The checks every answer passes; returns the JSON body when there is one."""
    if response.status_code >= 500:
        server.settle()  # before any assertion fails: see Server.settle
    found = leaks(response.text, sent, (*server.secrets, *also_secret))
    TALLY.record(case, response.status_code, leaked=len(found))
    assert response.status_code < 500, response.text[:500]
    assert not found, f"{case}: the response reveals {found}: {response.text[:300]}"
    if response.status_code == 405 and not response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        return None  # the router's own answer to a method /graphql does not take
    body: dict[str, Any] = response.json()
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        assert code in CODES, f"{case}: error without a valid code: {error}"
        if not internal_allowed:
            assert code != "INTERNAL", f"{case}: bad input reported as INTERNAL: {error}"
        assert set(error) <= {"message", "locations", "path", "extensions"}, error
    return body


def post(
    company: Company, case: str, body: bytes | str, *, who: str | None = "ana",
    content_type: str = "application/json", internal_allowed: bool = True,
) -> dict[str, Any] | None:  # fmt: skip
    raw = body.encode() if isinstance(body, str) else body
    headers = {"Content-Type": content_type, **company.headers(who)}
    response = company.server.http.post(company.graphql, content=raw, headers=headers)
    return check_answer(
        case, response, raw.decode("utf-8", "replace"), company.server,
        internal_allowed=internal_allowed,
    )  # fmt: skip


def operation(
    company: Company, case: str, query: str, variables: Any = None, *, who: str | None = "ana",
    internal_allowed: bool = True,
) -> dict[str, Any] | None:  # fmt: skip
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    return post(
        company, case, json.dumps(payload, ensure_ascii=False), who=who,
        internal_allowed=internal_allowed,
    )  # fmt: skip
