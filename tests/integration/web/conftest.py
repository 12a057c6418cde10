"""The web pieces (GraphiQL offline, assets, the demo page's routes, the typed contract) over
ASGI, without a store: none of these routes touches the database.

Tests that need the npm packages (``make web``) skip without them, unless
``PULSE_BROWSER_TESTS=required`` (``.ci/run``): then they fail.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest
from starlette.types import ASGIApp

from infrastructure.web.assets import CONTRACT_DIR, GRAPHIQL_FILES, WebAssets

NODE_MODULES = CONTRACT_DIR / "node_modules"


def npm_packages_required() -> bool:
    return os.environ.get("PULSE_BROWSER_TESTS", "").lower() == "required"


@pytest.fixture
def installed_assets() -> WebAssets:
    """The real ``frontend-contract/node_modules`` (``make web``)."""
    assets = WebAssets()
    missing = assets.missing(GRAPHIQL_FILES)
    if missing:
        message = f"npm packages not installed (`make web`): {', '.join(missing)}"
        if npm_packages_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return assets


@pytest.fixture
def node() -> str:
    found = shutil.which("node")
    if found is None or not (NODE_MODULES / ".bin" / "graphql-codegen").exists():
        message = "Node.js and `make web` are needed for the typed-contract check"
        if npm_packages_required():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    assert found is not None
    return found


def client_for(app: ASGIApp) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pulse.test")


@pytest.fixture
def fake_node_modules(tmp_path: Path) -> Path:
    """A tiny stand-in for node_modules with one file per vendor directory."""
    root = tmp_path / "node_modules"
    for directory, name, text in [
        ("react/umd", "react.production.min.js", "window.React = {};"),
        ("react-dom/umd", "react-dom.production.min.js", "window.ReactDOM = {};"),
        ("graphiql", "graphiql.min.js", "window.GraphiQL = function () {};"),
        ("graphiql", "graphiql.min.css", ".graphiql-container {}"),
        ("graphiql", "package.json", '{"name": "graphiql"}'),
        ("graphql-ws/dist", "client.js", "export function createClient() {}"),
    ]:
        (root / directory).mkdir(parents=True, exist_ok=True)
        (root / directory / name).write_text(text)
    (root / "secret.js").write_text("not served")
    return root
