"""``/graphql``: the Strawberry ASGI app, wired to the container (PRODUCT.md §4-§5).

* HTTP: POST, and GET for queries (a mutation over GET is 405); GraphiQL for a browser's GET
  when ``PULSE_GRAPHIQL`` is on, with every file served by Pulse (``infrastructure/web``);
  bodies over 256 KiB are refused with 413; Strawberry's own transport errors (bad JSON...)
  are answered as GraphQL-shaped JSON with a code.
* WebSocket: ``graphql-transport-ws`` only. The legacy ``graphql-ws`` subprotocol let a
  client skip ``connection_init`` (CVE-2026-35523), so a handshake that does not offer
  ``graphql-transport-ws`` is refused before it is accepted (HTTP 403). The token comes in
  the ``connection_init`` payload (``Authorization``/``authorization``): missing or invalid
  closes with 4401, valid but not allowed in with 4403, and the socket is closed (4401) at
  the token's expiry.
* Routed with ``Route`` + ``WebSocketRoute`` (Starlette 1.x has no ``add_websocket_route``;
  a ``Mount`` would answer 307 and refuse the WebSocket).

The context is built per request/connection from ``GraphQLServices``: the container's
database (read models, through the projection framework's active generation of each
collection), event store, broadcast hub (``container.hub``) and admin ``Commands``
(``ContainerCommands``). ``extras["commands"]`` / ``extras["collection_resolver"]``
replace the last two (tests, other wirings).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    Message as WSMessage,
)
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from domain.event_store import EventStore
from domain.sync import SyncMode, SyncOdoo, SyncRun, SyncStatus
from domain.tasks import stop_task
from infrastructure.auth import AuthError, TokenVerifier, is_admin, parse_authorization_header
from infrastructure.bootstrap import Container, OdooNotConfigured
from infrastructure.broadcast.messages import BroadcastUnavailable
from infrastructure.settings import Settings
from infrastructure.web import WebAssets, graphiql_page
from projections.catalog import PROJECTIONS
from projections.framework import (
    Checkpoints,
    active_name,
    content_stamp,
    keep_active_fresh,
)
from schema.build import build_schema
from schema.context import Commands, Context, Notifications, ProjectionStatusData
from schema.error_codes import ensure_codes
from schema.errors import BadUserInput, Forbidden, Unauthenticated, Unavailable
from schema.loaders import Loaders
from schema.read_store import CollectionResolver, ReadModels, StampReader
from schema.session import AccessCache, Identity, Session

#: What a request or subscription may fail on while a service is down, and its name in the
#: error message (INTERNAL, "Temporarily unavailable: the database cannot be reached; ...").
#: ConnectionFailure covers AutoReconnect, NetworkTimeout and ServerSelectionTimeoutError.
OUTAGES = {ConnectionFailure: "the database", BroadcastUnavailable: "live updates (Redis)"}

log = logging.getLogger("pulse.graphql")

GRAPHQL_PATH = "/graphql"
MAX_BODY_BYTES = 256 * 1024
CONNECTION_INIT_TIMEOUT = timedelta(seconds=10)
SYNC_WAIT_TIMEOUT = 120.0  # syncOdoo(wait: true): how long projections may take to catch up
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_INTERNAL = 1011

_HTTP_STATUS_CODES = {400: "BAD_USER_INPUT", 404: "NOT_FOUND", 405: "BAD_USER_INPUT",
                      413: "BAD_USER_INPUT", 415: "BAD_USER_INPUT"}  # fmt: skip


# -- authentication ----------------------------------------------------------------------


class TokenAuthenticator:
    """``schema.session.Authenticator`` over ``TokenVerifier`` and ``PULSE_ADMIN_EMAILS``."""

    def __init__(self, verifier: TokenVerifier | None, admin_emails: Iterable[str]) -> None:
        self._verifier = verifier
        self._admin_emails = frozenset(e.strip().lower() for e in admin_emails)

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenAuthenticator:
        try:
            verifier: TokenVerifier | None = TokenVerifier(
                settings.jwt_secret,
                settings.jwt_public_key,
                audience=settings.jwt_audience,
                issuer=settings.jwt_issuer,
            )
        except ValueError as exc:
            # The server still starts (health checks, webhooks); every GraphQL call is refused.
            log.warning("graphql: no bearer token can be accepted: %s", exc)
            verifier = None
        return cls(verifier, settings.admin_emails)

    def authenticate(self, authorization: str | None) -> Identity:
        if self._verifier is None:
            raise Unauthenticated("This server is not configured to accept tokens")
        try:
            claims = self._verifier.verify(parse_authorization_header(authorization))
        except AuthError as refused:
            log.info("graphql: token refused (%s)", refused.reason_code)  # never the token
            raise Unauthenticated(refused.message) from None
        return Identity(claims.email, is_admin(claims, self._admin_emails), claims.expires_at)


# -- what the context is built from ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GraphQLServices:
    db: AsyncDatabase[Any]
    events: EventStore
    notifications: Notifications
    commands: Commands
    resolve_collection: CollectionResolver | None = None
    read_stamp: StampReader | None = None  # None: requests share no access entries


ServicesProvider = Callable[[HTTPConnection], GraphQLServices]


class ContainerCommands:
    """The default ``Commands``, over the container's sync handler and projection runner;
    infrastructure may register another in ``extras["commands"]``."""

    def __init__(self, container: Container, *, wait_timeout: float = SYNC_WAIT_TIMEOUT) -> None:
        self._container = container
        self._wait_timeout = wait_timeout

    async def sync(self, mode: SyncMode, wait: bool) -> SyncRun:
        try:
            handler = self._container.sync_handler()
        except OdooNotConfigured as exc:
            raise Unavailable(str(exc)) from None
        command = SyncOdoo(mode, trigger="graphql")
        if not wait:
            return await self._started(asyncio.create_task(handler(command)))
        run = await handler(command)
        last = run.stats.last_position
        if run.status is not SyncStatus.SUCCEEDED or last == 0:
            return run
        # "A query made right after it sees the new data": every projection has the run's
        # last event. On timeout the run is still returned (it did finish).
        if not await self._container.runner.wait_until(last, self._wait_timeout):
            log.warning("syncOdoo: projections did not reach position %d in time", last)
        return run

    async def _started(self, task: asyncio.Task[SyncRun]) -> SyncRun:
        """The RUNNING run of a sync left to finish in the background."""
        _BACKGROUND.add(task)
        task.add_done_callback(_BACKGROUND.discard)
        async with asyncio.timeout(10):
            while not task.done():
                # The handler records its run (RUNNING) before it talks to Odoo.
                for run in await self._container.sync_runs.recent(3):
                    if run.status is SyncStatus.RUNNING and run.trigger == "graphql":
                        return run
                await asyncio.sleep(0.05)
        return task.result()  # finished (or refused: SyncAlreadyRunning) that quickly

    async def rebuild(self, names: Sequence[str] | None) -> Sequence[ProjectionStatusData]:
        try:
            return await self._container.runner.start_rebuild(names)
        except KeyError as unknown:
            raise BadUserInput(str(unknown.args[0])) from None

    async def projection_statuses(self) -> Sequence[ProjectionStatusData]:
        return await self._container.runner.status()

    async def recent_runs(self, last: int) -> Sequence[SyncRun]:
        return await self._container.sync_runs.recent(last)

    async def checkpoints(self) -> Mapping[str, int]:
        stored = await Checkpoints(self._container.db).all()
        return {name: checkpoint.position for name, checkpoint in stored.items()}


_BACKGROUND: set[asyncio.Task[SyncRun]] = set()  # syncs started with wait: false


@functools.cache
def _owners() -> dict[str, str]:
    """Base collection name -> the projection that owns it (from the projection catalog)."""
    owners: dict[str, str] = {}
    for factory in PROJECTIONS:
        projection = factory()
        for spec in projection.collections:
            owners[spec.base_name] = projection.name
    return owners


async def keep_collections_fresh(db: AsyncDatabase[Any]) -> None:
    """Run for the server's life: keeps ``active_collections``' cache fresh in the background
    (one query for every projection each half second) so that a request never waits for it."""
    await keep_active_fresh(db, sorted(set(_owners().values())))


def active_stamps(db: AsyncDatabase[Any]) -> StampReader:
    """``StampReader`` over the projection framework's content stamps (kept fresh by
    ``keep_collections_fresh``): the owning projection's generation and content position."""
    owners = _owners()

    def stamp(base_name: str) -> Hashable | None:
        owner = owners.get(base_name)
        return None if owner is None else content_stamp(db, owner)

    return stamp


def active_collections(db: AsyncDatabase[Any]) -> CollectionResolver:
    """The read models' physical names right now: a projection's collections live as
    ``<base>__g<generation>`` and a rebuild switches generation (``active_name`` caches ~1 s)."""
    owners = _owners()

    async def resolve(base_name: str) -> str:
        owner = owners.get(base_name)
        return base_name if owner is None else await active_name(db, owner, base_name)

    return resolve


def services_from_container(connection: HTTPConnection) -> GraphQLServices:
    """The default provider: the container the app lifespan stored in ``app.state``."""
    container: Container = connection.app.state.container
    extras = container.extras
    return GraphQLServices(
        db=container.db,
        events=container.event_store,
        notifications=container.hub,
        commands=extras.get("commands") or ContainerCommands(container),
        resolve_collection=extras.get("collection_resolver") or active_collections(container.db),
        # Stamps describe the active generations: not for a resolver of another wiring.
        read_stamp=None if extras.get("collection_resolver") else active_stamps(container.db),
    )


# -- WebSocket: graphql-transport-ws with authentication and expiry ------------------------


class ConnectionRefused(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class PulseTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's handler, plus: refusals with 4401/4403, a close at token expiry, and
    error payloads that always carry a code."""

    _expiry: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except ConnectionRefused as refused:
            await self._close(refused.code, refused.reason)
            return
        if self.connection_acknowledged and self._expiry is None:
            expires_at = self.context.session.identity().expires_at
            self._expiry = asyncio.create_task(self._close_at(expires_at))

    async def _close_at(self, expires_at: datetime) -> None:
        await asyncio.sleep(max((expires_at - datetime.now(UTC)).total_seconds(), 0))
        log.info("graphql: closing a subscription socket whose token expired")
        await self._close(CLOSE_UNAUTHORIZED, "Token expired")

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):  # the client may be gone already
            await self.websocket.close(code=code, reason=reason)

    async def shutdown(self) -> None:
        if self._expiry is not None and self._expiry is not asyncio.current_task():
            await stop_task(self._expiry)
        await super().shutdown()

    async def send_message(self, message: WSMessage) -> None:
        await super().send_message(with_coded_errors(message))


def with_coded_errors(message: WSMessage) -> WSMessage:
    """``error`` and ``next`` messages with every error carrying a code (see ensure_codes)."""
    raw: dict[str, Any] = dict(message)
    payload = raw.get("payload")
    if raw.get("type") == "error":
        raw["payload"] = ensure_codes(payload if isinstance(payload, list) else [])
    elif raw.get("type") == "next" and isinstance(payload, dict) and payload.get("errors"):
        raw["payload"] = {**payload, "errors": ensure_codes(payload["errors"])}
    else:
        return message
    return cast(WSMessage, raw)


# -- the view --------------------------------------------------------------------------------


def _error_body(message: str, code: str) -> dict[str, Any]:
    return {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}


class _BodyTooLarge(Exception):
    pass


async def _buffered_body(receive: Receive, limit: int) -> Receive:
    """Read the whole request body (at most ``limit`` bytes) and replay it."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # disconnected: the inner app sees an empty body and the send fails
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _decode_json(data: str | bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise HTTPException(400, f"Unable to parse the {what} as JSON") from None


def encode_json_text(data: object) -> str:
    """Responses and WebSocket messages, by orjson: ``json.dumps`` was a fifth of a big
    dashboard's CPU (a VP's 500 team rows: ~3 of 14 ms). Text, not bytes: Strawberry sends
    bytes as binary WebSocket frames, which graphql-transport-ws does not allow. Whatever
    orjson refuses (an integer beyond 64 bits in a JSON value) is encoded as Strawberry
    does."""
    try:
        return orjson.dumps(data).decode()
    except orjson.JSONEncodeError:
        return json.dumps(data, separators=(",", ":"))


class PulseGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = PulseTransportWSHandler

    def __init__(
        self,
        *,
        services: ServicesProvider,
        authenticator: TokenAuthenticator,
        access_ttl: float,
        graphiql: bool,
        max_body_bytes: int = MAX_BODY_BYTES,
        web_assets: WebAssets | None = None,
    ) -> None:
        super().__init__(
            build_schema(public_introspection=graphiql, outages=OUTAGES),
            graphql_ide="graphiql" if graphiql else None,
            allow_queries_via_get=True,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=CONNECTION_INIT_TIMEOUT,
            # Tokens travel in connection_init, never in cookies: a page on another origin
            # gains nothing from opening a socket, so browsers' Origin need not be limited.
            allowed_origins=("*",),
        )
        self._services = services
        self._authenticator = authenticator
        self._access_ttl = access_ttl
        self._access_cache = AccessCache()  # shared by this server's requests, under stamps
        self._max_body = max_body_bytes
        self._web_assets = web_assets or WebAssets()

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL with every file served by Pulse (``infrastructure/web``), not from a CDN;
        without the npm packages, a page that says how to install them."""
        return graphiql_page(request, self._web_assets, GRAPHQL_PATH)

    def encode_json(self, data: object) -> str:
        return encode_json_text(data)

    def parse_json(self, data: str | bytes) -> Any:
        """A POST body: a JSON object (a list is a batch, refused later with a 400).

        Strawberry's own version lets bodies that are not UTF-8 or nest deeper than the
        decoder's recursion limit escape as 500s, and hands JSON scalars to code that calls
        ``.get`` on them (another 500): all are the client's mistake, so 400."""
        value = _decode_json(data, "request body")
        if not isinstance(value, dict | list):
            raise HTTPException(400, "The request body must be a JSON object")
        return value

    def parse_query_params(self, params: Mapping[str, str | None]) -> dict[str, Any]:
        """A GET request's parameters; ``variables`` and ``extensions`` are JSON text."""
        parsed: dict[str, Any] = dict(params)
        for name in ("variables", "extensions"):
            text = parsed.get(name)
            if text:
                parsed[name] = _decode_json(text, name)
        return parsed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            if GRAPHQL_TRANSPORT_WS_PROTOCOL not in scope.get("subprotocols", []):
                # Closing before accepting answers the handshake with HTTP 403.
                await WebSocket(scope, receive, send).close(code=4406)
                return
            await super().__call__(scope, receive, send)
            return
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            replay = await _buffered_body(receive, self._max_body)
        except _BodyTooLarge:
            too_large = _error_body(
                f"The request body exceeds {self._max_body} bytes", "BAD_USER_INPUT"
            )
            await JSONResponse(too_large, status_code=413)(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, replay))
        except HTTPException as refused:
            code = _HTTP_STATUS_CODES.get(refused.status_code, "INTERNAL")
            response = JSONResponse(
                _error_body(refused.reason, code), status_code=refused.status_code
            )
        await response(scope, replay, send)

    async def execute_single(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Context,
        root_value: None,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            return await super().execute_single(
                request=request,
                request_adapter=request_adapter,
                sub_response=sub_response,
                context=context,
                root_value=root_value,
                request_data=request_data,
            )
        except HTTPException as refused:
            if isinstance(refused.__cause__, InvalidOperationTypeError):
                raise HTTPException(405, refused.reason) from None  # a mutation over GET
            raise

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        services = self._services(request)
        read_models = ReadModels(services.db, services.resolve_collection, services.read_stamp)
        websocket = isinstance(request, WebSocket)
        session = Session(
            self._authenticator,
            read_models,
            access_ttl=self._access_ttl,
            authorization=None if websocket else request.headers.get("authorization"),
            shared=self._access_cache,
            follow_access_changes=websocket,
        )
        return Context(
            read_models=read_models,
            events=services.events,
            notifications=services.notifications,
            commands=services.commands,
            session=session,
            # A socket lives for hours: its pushes must never be resolved from a cache.
            loaders=Loaders(read_models, cache=not websocket),
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        params = context.connection_params or {}
        value = params.get("Authorization", params.get("authorization"))
        try:
            context.session.present(value if isinstance(value, str) else None)
            await context.session.caller()
        except Unauthenticated:
            raise ConnectionRefused(CLOSE_UNAUTHORIZED, "Unauthorized") from None
        except Forbidden:
            raise ConnectionRefused(CLOSE_FORBIDDEN, "Forbidden") from None
        except Exception:
            log.exception("graphql: could not authenticate a WebSocket connection")
            raise ConnectionRefused(CLOSE_INTERNAL, "Internal server error") from None
        acknowledged: UnsetType = UNSET  # connection_ack without a payload
        return acknowledged

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        data = await super().process_result(request, result)
        errors = data.get("errors")
        if errors:
            data["errors"] = ensure_codes(errors)
        return data


# -- wiring ----------------------------------------------------------------------------------


def graphql_routes(
    settings: Settings, services: ServicesProvider = services_from_container
) -> list[BaseRoute]:
    """The ``/graphql`` routes for ``infrastructure.app.create_app``."""
    view = PulseGraphQL(
        services=services,
        authenticator=TokenAuthenticator.from_settings(settings),
        access_ttl=settings.access_ttl,
        graphiql=settings.graphiql,
    )
    return [
        Route(GRAPHQL_PATH, view, methods=["GET", "POST"]),
        WebSocketRoute(GRAPHQL_PATH, view),
    ]
