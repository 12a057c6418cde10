"""The real app in uvicorn on a free loopback port, in the test's event loop, over the real
embedded store; read models are written directly (see ``world.py``).

Each test module gets its own database (and its own random user ids, hence its own broadcast
channels). Clients: ``httpx`` for HTTP, ``gql`` (graphql-transport-ws) for subscriptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from pymongo import AsyncMongoClient
from starlette.applications import Starlette

from domain.ingestion import IngestStats
from domain.sync import SyncMode, SyncRun, SyncStatus
from infrastructure.app import create_app
from infrastructure.auth import mint_token
from infrastructure.bootstrap import Container, StoreHandle
from infrastructure.broadcast import ChannelHub
from infrastructure.graphql_app import active_collections
from infrastructure.odoo_fake import FakeOdoo
from infrastructure.settings import Settings
from projections.framework import ProjectionState, ProjectionStatus, content_stamp
from projections.framework.checkpoints import STATE_COLLECTION
from projections.org_views import AccessMatrixProjection
from tests.integration.graphql.world import ADMIN_BY_EMAIL, World, build_world, seed

SECRET = secrets.token_urlsafe(32)
REDIS_URL = "redis://127.0.0.1:6379/0"


class _InProcessServer(uvicorn.Server):
    """uvicorn in the test's own loop: no signal handlers of its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class FakeCommands:
    """The ``Commands`` port as a test double: records calls, answers from fields."""

    runs: list[SyncRun] = field(default_factory=list)
    statuses: list[ProjectionStatus] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)
    calls: list[tuple[str, Any]] = field(default_factory=list)
    fail_with: Exception | None = None

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    async def sync(self, mode: SyncMode, wait: bool) -> SyncRun:
        self.calls.append(("sync", (mode, wait)))
        self._maybe_fail()
        now = datetime.now(UTC)
        run = SyncRun(uuid.uuid4().hex, mode, "graphql", SyncStatus.SUCCEEDED, now, now,
                      IngestStats(fetched=3, created=2, events_appended=2))  # fmt: skip
        self.runs.insert(0, run)
        return run

    async def rebuild(self, names: Sequence[str] | None) -> Sequence[ProjectionStatus]:
        self.calls.append(("rebuild", names))
        self._maybe_fail()
        return [s for s in self.statuses if names is None or s.name in names]

    async def projection_statuses(self) -> Sequence[ProjectionStatus]:
        self._maybe_fail()
        return self.statuses

    async def recent_runs(self, last: int) -> Sequence[SyncRun]:
        self._maybe_fail()
        return self.runs[:last]

    async def checkpoints(self) -> Mapping[str, int]:
        return self.positions


def projection_status(name: str, position: int, head: int) -> ProjectionStatus:
    return ProjectionStatus(
        name=name, state=ProjectionState.LIVE, position=position, head_position=head,
        lag=head - position, events_per_second=1.5, progress=None, last_error=None,
        updated_at=datetime.now(UTC),
    )  # fmt: skip


@dataclass
class Live:
    """A running server and handles on its insides."""

    url: str
    app: Starlette
    db: Any  # the test's own client on the server's database
    world: World
    commands: FakeCommands
    http: httpx.AsyncClient

    @property
    def graphql_url(self) -> str:
        return f"{self.url}/graphql"

    @property
    def ws_url(self) -> str:
        return self.graphql_url.replace("http://", "ws://")

    @property
    def container(self) -> Container:
        container: Container = self.app.state.container
        return container

    @property
    def hub(self) -> ChannelHub:
        return self.container.hub

    def token(self, email: str, *, admin: bool = False, ttl: int = 3600) -> str:
        return mint_token(email, secret=SECRET, admin=admin, ttl_seconds=ttl)

    def token_of(self, key: str, **options: Any) -> str:
        return self.token(self.world[key].email, **options)

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        response = await self.http.post(
            self.graphql_url, json={"query": query, "variables": variables or {}}, headers=sent
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, variables: dict[str, Any] | None = None, *,
                   token: str) -> dict[str, Any]:  # fmt: skip
        """The ``data`` of a query that must succeed."""
        body = await self.post(query, variables, token=token)
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]
        return result

    async def collection(self, base_name: str) -> Any:
        """Where the server reads ``base_name`` from: its projection's active generation."""
        return self.db[await active_collections(self.db)(base_name)]

    async def access_changed(self) -> None:
        """After writing access entries directly (as no projection would): move the access
        matrix's content stamp as its projection does, and wait until this server's
        refresher has seen it, so that no request serves an entry shared before."""
        before = content_stamp(self.db, AccessMatrixProjection.name)
        await self.db[STATE_COLLECTION].update_one(
            {"_id": AccessMatrixProjection.name}, {"$inc": {"content_position": 1}}, upsert=True
        )
        async with asyncio.timeout(5):
            while content_stamp(self.db, AccessMatrixProjection.name) in (before, None):  # noqa: ASYNC110 (polling the refresher)
                await asyncio.sleep(0.02)

    async def wait_for_subscribers(self, channel: str, count: int = 1) -> None:
        async with asyncio.timeout(5):
            while self.hub.subscriber_count(channel) != count:  # noqa: ASYNC110 (polling a count)
                await asyncio.sleep(0.01)


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


@contextlib.asynccontextmanager
async def live_server(
    mongo_url: str,
    mongo_client: AsyncMongoClient[Any],
    *,
    redis_url: str | None = None,
    access_ttl: float = 300,
    seed_world: bool = True,
    **overrides: Any,
) -> AsyncIterator[Live]:
    """``seed_world``: write ``world.py``'s read models (off when real projections run);
    ``overrides``: more settings (an Odoo to sync from...)."""
    db_name = f"gql_{uuid.uuid4().hex[:12]}"
    settings = Settings(
        mongodb_url=mongo_url, mongodb_db=db_name, redis_url=redis_url, jwt_secret=SECRET,
        admin_emails=frozenset({ADMIN_BY_EMAIL}), access_ttl=access_ttl, graphiql=True,
        **overrides,
    )  # type: ignore[arg-type]  # fmt: skip
    app = create_app(settings, StoreHandle(mongo_url), background=False)
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every response waits 40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_level="warning", ws="websockets-sansio")
    server = _InProcessServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(20):
            while not server.started:
                if task.done():
                    task.result()  # startup failed: raise its error
                await asyncio.sleep(0.02)
        commands = FakeCommands()
        container: Container = app.state.container
        container.extras["commands"] = commands
        async with httpx.AsyncClient(timeout=10) as http:
            live = Live(f"http://127.0.0.1:{port}", app, mongo_client[db_name], build_world(),
                        commands, http)  # fmt: skip
            if seed_world:
                await seed(live.collection, live.world)
            yield live
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            async with asyncio.timeout(10):
                await task
        sock.close()
        await mongo_client.drop_database(db_name)


SYNC = "mutation($mode: SyncMode) { syncOdoo(mode: $mode, wait: true) { status error } }"


@contextlib.asynccontextmanager
async def synced_server(
    odoo: FakeOdoo, mongo_url: str, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[Live]:
    """A server with the real commands and projections, after a full sync of ``odoo``."""
    settings = {"odoo_url": odoo.url, "odoo_db": odoo.db, "odoo_login": odoo.login,
                "odoo_api_key": odoo.api_key, "odoo_protocol": "json2"}  # fmt: skip
    async with live_server(mongo_url, mongo_client, seed_world=False, **settings) as server:
        server.container.extras.pop("commands")  # the real commands, not the test double
        await server.container.runner.start()
        try:
            data = await server.data(SYNC, {"mode": "FULL"}, token=server.token(ADMIN_BY_EMAIL))
            assert data["syncOdoo"] == {"status": "SUCCEEDED", "error": None}
            yield server
        finally:
            await server.container.runner.stop()


@pytest.fixture(scope="module")
async def live(mongo_url: str, mongo_client: AsyncMongoClient[Any]) -> AsyncIterator[Live]:
    async with live_server(mongo_url, mongo_client) as server:
        yield server
