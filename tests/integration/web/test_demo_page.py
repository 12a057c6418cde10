"""The demo page and its token endpoint exist in ``pulse demo`` only; the page uses the
frontend contract's operations as committed; the banner leads to the page."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse
from pydantic import SecretStr
from starlette.applications import Starlette

from domain.sync import SyncAlreadyRunning, SyncOdoo
from infrastructure.app import create_app
from infrastructure.auth import TokenVerifier, is_admin, parse_authorization_header
from infrastructure.bootstrap import StoreHandle
from infrastructure.demo import first_sync, print_banner
from infrastructure.settings import Settings
from infrastructure.web import WebAssets
from infrastructure.web.assets import CONTRACT_DIR, STATIC_DIR
from infrastructure.web.demo_page import demo_accounts, demo_routes
from tests.integration.web.conftest import client_for

SECRET = SecretStr("s" * 40)


def app_with(*, demo: bool, assets: WebAssets | None = None) -> Starlette:
    settings = Settings(jwt_secret=SECRET)
    extra = demo_routes(SECRET, assets=assets) if demo else ()
    return create_app(
        settings, StoreHandle("mongodb://127.0.0.1:9"), background=False, extra_routes=extra
    )


async def test_outside_demo_mode_there_is_no_page_and_no_tokens() -> None:
    async with client_for(app_with(demo=False)) as client:
        assert (await client.get("/")).status_code == 404
        assert (await client.get("/demo/tokens")).status_code == 404


async def test_demo_tokens_are_valid_for_their_users() -> None:
    async with client_for(app_with(demo=True)) as client:
        response = await client.get("/demo/tokens")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    users = response.json()["users"]
    roles = {u["role"] for u in users}
    assert roles == {"admin", "manager", "rep"}
    verifier = TokenVerifier(SECRET, None)
    for user in users:
        claims = verifier.verify(parse_authorization_header(f"Bearer {user['token']}"))
        assert claims.email == user["email"].lower()
        assert is_admin(claims, ()) is (user["role"] == "admin")
    names = [u["name"] for u in users]
    assert "Maria Lopez" in names and "Ethan Walker" in names


def test_the_picker_lists_the_admin_then_managers_then_reps() -> None:
    roles = [a.role for a in demo_accounts()]
    assert roles == sorted(roles, key=["admin", "manager", "rep"].index)
    assert all(a.email for a in demo_accounts())


async def test_the_page_is_served_at_the_root(installed_assets: WebAssets) -> None:
    async with client_for(app_with(demo=True)) as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert '<label for="user">View as</label>' in page.text
        references = re.findall(r'(?:src|href)="([^"#]+)"', page.text)
        assert "graphql" in references  # a link to GraphiQL
        for reference in references:
            assert "://" not in reference, reference
            if reference.startswith("assets/"):
                assert (await client.get(f"/{reference}")).status_code == 200, reference


async def test_without_the_npm_packages_the_page_says_how_to_install_them(
    tmp_path: Path,
) -> None:
    async with client_for(app_with(demo=True, assets=WebAssets(node_modules=tmp_path))) as c:
        page = await c.get("/")
    assert page.status_code == 200
    assert "make web" in page.text and "graphql-ws/client.js" in page.text


def _operation_names(path: Path) -> set[str]:
    document = parse(path.read_text())
    return {
        d.name.value
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    }


def test_the_page_sends_only_operations_of_the_frontend_contract() -> None:
    source = "\n".join((STATIC_DIR / name).read_text() for name in ("demo.js", "pulse-client.js"))
    calls = re.findall(r'\.(?:query|subscribe)\(\s*"(\w+)",\s*"(\w+)"', source)
    assert {op for _, op in calls} == {
        "Dashboard", "Opportunities", "OpportunityDetail", "DashboardUpdated",
        "OpportunityChanged",
    }  # fmt: skip
    for file, operation in calls:
        path = CONTRACT_DIR / "operations" / f"{file}.graphql"
        assert operation in _operation_names(path), (file, operation)
    # No GraphQL text of its own: every document comes from /assets/operations.
    assert not re.search(r"\b(query|subscription|mutation)\s+\w+\s*[({]", source)


def test_the_banner_leads_to_the_page(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(jwt_secret=SECRET, odoo_url="http://127.0.0.1:1")
    print_banner(settings, "http://127.0.0.1:8000")
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "http://127.0.0.1:8000/ " in lines[2]  # the first URL after the title
    assert "http://127.0.0.1:8000/graphql" in out


async def test_the_first_sync_waits_for_a_sync_already_running() -> None:
    answers: list[Any] = [SyncAlreadyRunning(), SyncAlreadyRunning(), "the run"]
    commands: list[SyncOdoo] = []

    async def handler(command: SyncOdoo) -> Any:
        commands.append(command)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    container: Any = SimpleNamespace(sync_handler=lambda: handler)
    async with asyncio.timeout(5):
        run: Any = await first_sync(container)
    assert run == "the run"
    assert len(commands) == 3 and all(c.trigger == "demo" for c in commands)
