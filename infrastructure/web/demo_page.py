"""The live demo page at ``/`` and its token endpoint, for ``pulse demo`` only.

``demo_routes`` is passed to ``create_app`` by ``infrastructure.demo.run_demo`` and by nothing
else: outside demo mode neither ``/`` nor ``/demo/tokens`` exists (404). The page is plain HTML,
CSS and ES modules (``static/demo.*``, ``static/pulse-client.js``); it gets a token for the demo
user a visitor picks from ``GET /demo/tokens``, then talks to ``/graphql`` exactly as a frontend
does, with the operations of ``frontend-contract/operations`` loaded as committed.

``/demo/tokens`` hands out tokens for the built-in demo company's users to anyone who can reach
the server: ``pulse demo`` listens on 127.0.0.1 unless told otherwise, and its data is made up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from infrastructure.auth import mint_token
from infrastructure.odoo_fake.demo_company import DemoUser, demo_users
from infrastructure.web.assets import DEMO_FILES, WebAssets, missing_assets_page

DEMO_TOKEN_TTL = 12 * 3600
_ROLE_ORDER = {"admin": 0, "manager": 1, "rep": 2}
TOKENS_PATH = "/demo/tokens"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    key: str
    name: str
    email: str
    role: str  # "admin" | "manager" | "rep"
    note: str

    @property
    def admin(self) -> bool:
        return self.role == "admin"


def demo_accounts(users: Iterable[DemoUser] | None = None) -> list[DemoAccount]:
    """The demo users a visitor can pick: the admin, the managers, then the reps (each with
    an email, which is what a token names)."""
    accounts = [
        DemoAccount(u.key, u.name, u.email, u.role, u.note)
        for u in (demo_users() if users is None else users)
        if u.role in _ROLE_ORDER and u.email
    ]
    return sorted(accounts, key=lambda a: (_ROLE_ORDER[a.role], a.name))


def demo_routes(
    jwt_secret: SecretStr,
    *,
    assets: WebAssets | None = None,
    token_ttl: int = DEMO_TOKEN_TTL,
) -> list[BaseRoute]:
    """``/`` (the page) and ``/demo/tokens`` (fresh tokens for every demo account)."""
    files = assets or WebAssets()
    accounts = demo_accounts()

    async def page(request: Request) -> Response:
        missing = files.missing(DEMO_FILES)
        if missing:
            return missing_assets_page("The Pulse demo page", missing)
        body = (files.static_dir / "demo.html").read_text(encoding="utf-8")
        return HTMLResponse(body, headers={"Cache-Control": "no-cache"})

    async def tokens(request: Request) -> Response:
        users = [
            {
                "key": a.key,
                "name": a.name,
                "email": a.email,
                "role": a.role,
                "note": a.note,
                "admin": a.admin,
                "token": mint_token(
                    a.email, secret=jwt_secret, admin=a.admin, ttl_seconds=token_ttl
                ),
            }
            for a in accounts
        ]
        return JSONResponse(
            {"users": users, "expiresIn": token_ttl}, headers={"Cache-Control": "no-store"}
        )

    return [
        Route("/", page, methods=["GET", "HEAD"]),
        Route(TOKENS_PATH, tokens, methods=["GET"]),
    ]
