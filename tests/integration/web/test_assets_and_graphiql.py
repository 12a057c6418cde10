"""GraphiQL is served with every file from Pulse itself (never a CDN), and says how to install
its files when they are missing; /assets serves only what it should."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.routing import Route

from infrastructure.app import create_app
from infrastructure.bootstrap import StoreHandle
from infrastructure.graphql_app import (
    GraphQLServices,
    PulseGraphQL,
    TokenAuthenticator,
)
from infrastructure.settings import Settings
from infrastructure.web import WebAssets, asset_routes
from infrastructure.web.assets import CONTRACT_DIR
from tests.integration.web.conftest import client_for

HTML = {"Accept": "text/html"}
_REFERENCES = re.compile(r'(?:src|href)="([^"]+)"')
_IMPORTS = re.compile(r'(?:^|;|\s)(?:import|export)\s[^;]*?from\s*["\']([^"\']+)["\']', re.M)


async def _base_name(name: str) -> str:
    return name


# The view builds a request context before it renders GraphiQL: these stand in for the store
# (never queried: GraphiQL's page and a refused query touch no read model).
_NO_STORE: Any = None
_SERVICES = GraphQLServices(_NO_STORE, _NO_STORE, _NO_STORE, _NO_STORE, _base_name)
_CONTAINER = SimpleNamespace(
    db=_NO_STORE, event_store=_NO_STORE, hub=_NO_STORE,
    extras={"commands": object(), "collection_resolver": _base_name},
)  # fmt: skip


def graphiql_app(assets: WebAssets) -> Starlette:
    view = PulseGraphQL(
        services=lambda connection: _SERVICES,
        authenticator=TokenAuthenticator(None, ()),
        access_ttl=60,
        graphiql=True,
        web_assets=assets,
    )
    return Starlette(routes=[Route("/graphql", view, methods=["GET", "POST"]),
                             *asset_routes(assets)])  # fmt: skip


def pulse_app() -> Starlette:
    """The real app; its lifespan never runs here, so nothing connects to a store."""
    settings = Settings(jwt_secret=SecretStr("x" * 40), graphiql=True)
    app = create_app(settings, StoreHandle("mongodb://127.0.0.1:9"), background=False)
    app.state.container = _CONTAINER
    return app


async def reachable_modules(client: httpx.AsyncClient, entry: str) -> dict[str, str]:
    """Every ES module reachable from ``entry`` by relative imports, fetched: url -> type."""
    seen: dict[str, str] = {}
    pending = [entry]
    while pending:
        url = pending.pop()
        if url in seen:
            continue
        response = await client.get(url)
        assert response.status_code == 200, f"{url}: {response.status_code}"
        seen[url] = response.headers["content-type"]
        for target in _IMPORTS.findall(response.text):
            assert target.startswith("."), f"{url} imports {target!r}: not served by Pulse"
            pending.append(urljoin(url, target))
    return seen


async def test_graphiql_loads_every_file_from_pulse(installed_assets: WebAssets) -> None:
    async with client_for(pulse_app()) as client:
        page = await client.get("/graphql", headers=HTML)
        assert page.status_code == 200
        assert "<title>Pulse GraphiQL</title>" in page.text
        references = _REFERENCES.findall(page.text)
        assert references, page.text
        assert not [r for r in references if "://" in r or r.startswith("//")], references
        assert "unpkg" not in page.text and "jsdelivr" not in page.text
        for reference in references:
            response = await client.get(reference)
            assert response.status_code == 200, reference
            kind = response.headers["content-type"]
            assert kind.startswith("text/css" if reference.endswith(".css") else "text/javascript")
        modules = await reachable_modules(client, "http://pulse.test/assets/pulse/graphiql.js")
        assert "http://pulse.test/assets/vendor/graphql-ws/client.js" in modules
        assert all(kind.startswith("text/javascript") for kind in modules.values())


async def test_graphiql_offers_a_headers_template_for_the_token(
    installed_assets: WebAssets,
) -> None:
    async with client_for(pulse_app()) as client:
        page = await client.get("/graphql", headers=HTML)
    assert "Bearer &lt;paste" not in page.text  # JSON in a script element, not escaped HTML
    assert '\\"Authorization\\": \\"Bearer <paste a token here>\\"' in page.text


async def test_the_demo_page_modules_are_all_served(installed_assets: WebAssets) -> None:
    async with client_for(pulse_app()) as client:
        modules = await reachable_modules(client, "http://pulse.test/assets/pulse/demo.js")
    assert {
        "http://pulse.test/assets/pulse/pulse-client.js",
        "http://pulse.test/assets/vendor/graphql-ws/client.js",
    } <= modules.keys()


async def test_without_the_npm_packages_graphiql_says_how_to_install_them(tmp_path: Path) -> None:
    async with client_for(graphiql_app(WebAssets(node_modules=tmp_path))) as client:
        page = await client.get("/graphql", headers=HTML)
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "make web" in page.text and "npm ci" in page.text
    assert "graphiql/graphiql.min.js" in page.text  # names what is missing
    assert "<script" not in page.text  # a page that works without anything else


async def test_a_query_over_get_is_still_json_while_graphiql_is_on(tmp_path: Path) -> None:
    async with client_for(graphiql_app(WebAssets(node_modules=tmp_path))) as client:
        response = await client.get("/graphql", params={"query": "{ __typename }"})
    assert response.headers["content-type"].startswith("application/json")


async def test_vendor_files_are_limited_to_the_listed_packages(fake_node_modules: Path) -> None:
    async with client_for(graphiql_app(WebAssets(node_modules=fake_node_modules))) as client:
        served = await client.get("/assets/vendor/graphiql/graphiql.min.js")
        assert served.status_code == 200
        assert served.text == "window.GraphiQL = function () {};"
        assert served.headers["content-type"].startswith("text/javascript")
        for path in [
            "/assets/vendor/graphiql/package.json",  # not a served kind of file
            "/assets/vendor/left-pad/index.js",  # not a listed package
            "/assets/vendor/graphiql/..%2Fsecret.js",
            "/assets/vendor/graphiql/%2E%2E%2F%2E%2E%2Fsecret.js",
            "/assets/vendor/graphiql/.hidden.js",
            "/assets/pulse/..%2F..%2Fassets.py",
            "/assets/pulse/demo.html",  # served at / by the demo only
        ]:
            response = await client.get(path)
            assert response.status_code == 404, path


async def test_a_missing_vendor_file_names_the_install_command(tmp_path: Path) -> None:
    async with client_for(graphiql_app(WebAssets(node_modules=tmp_path))) as client:
        response = await client.get("/assets/vendor/graphql-ws/client.js")
    assert response.status_code == 404
    assert "make web" in response.text


OPERATION_FILES = {p.name: p.read_bytes() for p in (CONTRACT_DIR / "operations").glob("*.graphql")}


@pytest.mark.parametrize("name", sorted(OPERATION_FILES))
async def test_operations_are_served_exactly_as_committed(name: str) -> None:
    async with client_for(pulse_app()) as client:
        response = await client.get(f"/assets/operations/{name}")
    assert response.status_code == 200
    assert response.content == OPERATION_FILES[name]


async def test_unknown_operations_are_404() -> None:
    async with client_for(pulse_app()) as client:
        for name in ("nope", "Dashboard", "..%2Fschema"):
            response = await client.get(f"/assets/operations/{name}.graphql")
            assert response.status_code == 404, name
