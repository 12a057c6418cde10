"""Peers, measured beside Pulse in the same run (issue 6).

    python -m bench.peers [--quick]                       (python -m bench runs these too)
    python -m bench.peers serve --port P                  (the bare subscription server)

1. **eventsourcing** (the Python library, 9.5): its SQLite application recorder appending the
   same events as ``bench/event_store_bench.py`` (the same payload, 1-event commits over 50
   streams and 100-event commits), alternating round by round with Pulse's
   ``MongoEventStore.append`` on the embedded nx-27017; then catching up a counting
   projection (one counter per stream, tracking recorded with it) over the same events,
   beside Pulse's ``ProjectionRunner`` catching up the same counting projection.
   The library's ``ProjectionRunner`` needs ``recorder.subscribe``, which its SQLite
   recorder does not implement (``NotImplementedError`` in 9.5.6; POPO and PostgreSQL only),
   so the peer's catch-up is the runner's own loop done by hand: the same ``Projection`` /
   ``TrackingRecorder`` classes, fed from ``select_notifications`` pages decoded by the
   application's mapper, as ``ApplicationSubscription`` does.
2. **bare Strawberry + broadcaster**: a Starlette app with one Strawberry subscription,
   ``dashboardUpdated`` (same selection as the frontend's operation), no projections, no
   store, no auth check (the token is the viewer id), on uvicorn with the same WebSocket
   implementation as ``pulse serve``. ``POST /webhook {"viewers": [...]}`` takes a sequence
   number and publishes ``{"asOf": seq}`` on each viewer's channel, answering 202. It runs
   broadcaster 0.3.1's **memory** backend (the peer is one process; the stock Redis backend
   loses messages with redis-py 8, see ARCHITECTURE.md): the Redis hop Pulse pays (< 1 ms on
   loopback) is not in the peer's path. Driven by the same harness (``bench/load.py``):
   same subscribers, viewers (the same span-8 tree), rate and checks.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import UTC, datetime
from enum import Enum
from functools import singledispatchmethod
from pathlib import Path
from typing import Any

import strawberry
from broadcaster import Broadcast
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from bench.load import (
    ADMIN_VIEWER,
    LoadConfig,
    LoadReport,
    Org,
    Positions,
    Target,
    odoo_process,
    run_load,
    server_process,
)

PAYLOAD = {
    "record": {
        "odoo_id": 1,
        "name": "Opportunity 1",
        "type": "opportunity",
        "user_id": 7,
        "stage_id": 3,
        "expected_revenue": 12000.0,
        "probability": 40.0,
        "active": True,
    },
    "from_stage_id": 2,
    "to_stage_id": 3,
}  # fmt: skip  (the same as bench/event_store_bench.py)
EVENT_TYPE = "OpportunityStageChanged"


# ============================================================================ eventsourcing
def _es_classes() -> tuple[Any, Any, Any, Any]:
    """The eventsourcing side, imported lazily (the serve subcommand does not need it)."""
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate
    from eventsourcing.persistence import Tracking
    from eventsourcing.projection import Projection
    from eventsourcing.sqlite import SQLiteTrackingRecorder

    class Deal(Aggregate):
        class StageChanged(Aggregate.Event):
            data: dict[str, Any]

    class Pipeline(Application[uuid.UUID]):
        pass

    class CountView(SQLiteTrackingRecorder):
        """One counter per stream, written with the tracking record in one transaction."""

        def construct_create_table_statements(self) -> list[str]:
            return [
                *super().construct_create_table_statements(),
                "CREATE TABLE IF NOT EXISTS counts (stream TEXT PRIMARY KEY, n INTEGER)",
            ]

        def incr(self, stream: str, tracking: Tracking) -> None:
            with self.datastore.transaction(commit=True) as c:
                c.execute(
                    "INSERT INTO counts VALUES (?, 1) ON CONFLICT (stream) DO UPDATE SET n = n + 1",
                    (stream,),
                )
                self._insert_tracking(c, tracking)

    class CountProjection(Projection[CountView]):
        @singledispatchmethod
        def process_event(self, domain_event: Any, tracking: Tracking) -> None:
            self.view.incr(str(domain_event.originator_id), tracking)

    return Deal, Pipeline, CountView, CountProjection


class EsPeer:
    def __init__(self, folder: Path) -> None:
        from eventsourcing.sqlite import SQLiteDatastore

        Deal, Pipeline, CountView, CountProjection = _es_classes()
        self.Deal, self.CountView, self.CountProjection = Deal, CountView, CountProjection
        self.folder = folder
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
               "SQLITE_DBNAME": str(folder / "es.sqlite3")}  # fmt: skip
        self.app = Pipeline(env)
        self.recorder = self.app.recorder
        self.versions: dict[uuid.UUID, int] = {}
        self.datastore_class = SQLiteDatastore

    def _event(self, stream: uuid.UUID, i: int) -> Any:
        version = self.versions.get(stream, 0) + 1
        self.versions[stream] = version
        return self.Deal.StageChanged(
            originator_id=stream,
            originator_version=version,
            timestamp=datetime.now(UTC),
            data={**PAYLOAD, "i": i},
        )

    def append_one(self, r: int, commits: int) -> int:
        for i in range(commits):
            stream = uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{r}-{i % 50}")
            self.recorder.insert_events([self.app.mapper.to_stored_event(self._event(stream, i))])
        return commits

    def append_hundred(self, r: int, batches: int) -> int:
        for b in range(batches):
            stream = uuid.uuid5(uuid.NAMESPACE_URL, f"batch/{r}-{b}")
            events = [self.app.mapper.to_stored_event(self._event(stream, i)) for i in range(100)]
            self.recorder.insert_events(events)
        return batches * 100

    def catch_up(self, name: str, page: int = 500) -> int:
        """The runner's subscription loop by hand: pages of notifications from the SQLite
        log, decoded by the mapper, given to the projection with their tracking."""
        from eventsourcing.persistence import Tracking

        datastore = self.datastore_class(str(self.folder / f"{name}.sqlite3"))
        view = self.CountView(datastore)
        view.create_table()
        projection = self.CountProjection(view=view)
        start = (view.max_tracking_id(self.app.name) or 0) + 1
        n = 0
        while True:
            notes = self.recorder.select_notifications(start=start, limit=page)
            if not notes:
                break
            for note in notes:
                event = self.app.mapper.to_domain_event(note)
                projection.process_event(event, Tracking(self.app.name, note.id))
                n += 1
            start = notes[-1].id + 1
        datastore.close()
        return n

    def close(self) -> None:
        self.app.close()


def _pulse_count_projection(name: str) -> Any:
    from projections.framework import CollectionSpec, DocumentTable, Projection

    class CountProjection(Projection):
        collections = (CollectionSpec(name),)

        def __init__(self) -> None:
            self.docs = DocumentTable(name)

        def handlers(self) -> dict[str, Any]:
            return {EVENT_TYPE: self._on}

        async def load(self, ctx: Any) -> None:
            await self.docs.load(ctx)

        def _on(self, event: Any) -> None:
            doc = self.docs.edit(event.stream_id, event)
            if doc is not None:
                doc["n"] = doc.get("n", 0) + 1

        async def flush(self, ctx: Any) -> list[Any]:
            await self.docs.flush(ctx)
            return []

    CountProjection.name = name
    return CountProjection


async def eventsourcing_samples(commits: int, rounds: int) -> dict[str, list[float]]:
    """events/s per round: Pulse and eventsourcing alternating; then one catch-up each."""
    from domain.event_store import ExpectedVersion
    from domain.events import NewEvent, StreamRef
    from infrastructure.eventstore.mongo import MongoEventStore
    from infrastructure.mongo.client import create_client
    from infrastructure.mongo.embedded import EmbeddedStore
    from projections.framework import RunnerConfig
    from projections.framework.runner import ProjectionRunner

    def event(i: int) -> NewEvent:
        return NewEvent(type=EVENT_TYPE, data={**PAYLOAD, "i": i})

    out: dict[str, list[float]] = {k: [] for k in (
        "pulse_append_1", "es_append_1", "pulse_append_100", "es_append_100",
        "pulse_catch_up", "es_catch_up")}  # fmt: skip
    batches = max(commits // 20, 5)
    with tempfile.TemporaryDirectory(prefix="pulse-peers-") as tmp_name:
        tmp = Path(tmp_name)
        embedded = EmbeddedStore(tmp / "store")
        client = create_client(embedded.start(), connectTimeoutMS=600_000)
        es = EsPeer(tmp)
        try:
            db = client["peers"]
            store = MongoEventStore(db)
            await store.ensure_indexes()
            for r in range(rounds):

                async def pulse_one(r: int = r) -> int:
                    for i in range(commits):
                        await store.append(StreamRef("bench", f"{r}-{i % 50}"), [event(i)],
                                           ExpectedVersion.ANY)  # fmt: skip
                    return commits

                async def pulse_hundred(r: int = r) -> int:
                    for b in range(batches):
                        await store.append(StreamRef("batch", f"{r}-{b}"),
                                           [event(i) for i in range(100)],
                                           ExpectedVersion.NO_STREAM)  # fmt: skip
                    return batches * 100

                out["pulse_append_1"].append(await _rate_async(pulse_one))
                out["es_append_1"].append(_rate(lambda r=r: es.append_one(r, commits)))
                out["pulse_append_100"].append(await _rate_async(pulse_hundred))
                out["es_append_100"].append(_rate(lambda r=r: es.append_hundred(r, batches)))
            head = await store.head_position()
            for r in range(rounds):
                name = f"peer_count_{r}"
                runner = ProjectionRunner(db, store, [_pulse_count_projection(name)],
                                          config=RunnerConfig(lease_seconds=600))  # fmt: skip
                started = time.perf_counter()
                await runner.start()
                try:
                    if not await runner.wait_until(head, 1800):
                        raise RuntimeError("Pulse runner did not catch up")
                finally:
                    await runner.stop()
                out["pulse_catch_up"].append(head / (time.perf_counter() - started))
                out["es_catch_up"].append(_rate(lambda r=r: es.catch_up(f"count_{r}")))
        finally:
            es.close()
            await client.close()
            embedded.stop()
    return out


def _rate(fn: Any) -> float:
    started = time.perf_counter()
    n = fn()
    return float(n) / (time.perf_counter() - started)


async def _rate_async(fn: Any) -> float:
    started = time.perf_counter()
    n = await fn()
    return float(n) / (time.perf_counter() - started)


# ============================================================================ bare server
# Strawberry resolves annotations by name at module scope, hence the module-level types.
BROADCAST = Broadcast("memory://")  # no I/O until connect() in the app's lifespan


@strawberry.enum
class DashboardScope(Enum):
    OWN = "OWN"
    TEAM = "TEAM"
    ALL = "ALL"


@strawberry.type
class Metrics:
    total_count: int = 10
    open_count: int = 6
    won_count: int = 3
    lost_count: int = 1
    pipeline_value: float = 120_000.0
    weighted_pipeline_value: float = 48_000.0
    won_value: float = 30_000.0
    win_rate: float | None = 0.75
    average_deal_size: float | None = 10_000.0


@strawberry.type
class Stage:
    id: strawberry.ID
    name: str


@strawberry.type
class StageMetrics:
    stage: Stage
    count: int
    value: float


@strawberry.type
class Person:
    id: strawberry.ID
    name: str


@strawberry.type
class SalespersonMetrics:
    salesperson: Person
    metrics: Metrics


@strawberry.type
class Dashboard:
    scope: DashboardScope
    as_of: int
    updated_at: datetime
    metrics: Metrics
    by_stage: list[StageMetrics]
    team: list[SalespersonMetrics]


STAGES = [
    StageMetrics(stage=Stage(id=strawberry.ID(str(s)), name=f"Stage {s}"), count=2, value=25e3)
    for s in range(1, 5)
]


def peer_dashboard(as_of: int) -> Dashboard:
    return Dashboard(scope=DashboardScope.OWN, as_of=as_of, updated_at=datetime.now(UTC),
                     metrics=Metrics(), by_stage=STAGES, team=[])  # fmt: skip


@strawberry.type
class Query:
    @strawberry.field
    def ok(self) -> bool:
        return True


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def dashboard_updated(self, info: strawberry.Info) -> AsyncGenerator[Dashboard, None]:
        params = info.context.get("connection_params") or {}
        viewer = str(params.get("Authorization", "")).removeprefix("Bearer ")
        async with BROADCAST.subscribe(channel=f"dashboard:{viewer}") as subscriber:
            yield peer_dashboard(0)
            async for event in subscriber:  # type: ignore[union-attr]
                if event is not None:
                    yield peer_dashboard(int(json.loads(event.message)["asOf"]))


def create_peer_app() -> Starlette:
    """Starlette + Strawberry + broadcaster (memory), nothing else."""
    schema = strawberry.Schema(query=Query, subscription=Subscription)
    graphql = GraphQL(schema, subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL])
    sequence = 0

    async def webhook(request: Request) -> JSONResponse:
        nonlocal sequence
        body = await request.json()
        sequence += 1
        message = json.dumps({"asOf": sequence})
        for viewer in body["viewers"]:
            await BROADCAST.publish(channel=f"dashboard:{viewer}", message=message)
        return JSONResponse({"seq": sequence}, status_code=202)

    async def ready(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with BROADCAST:
            yield

    return Starlette(
        routes=[Route("/graphql", graphql), WebSocketRoute("/graphql", graphql),
                Route("/webhook", webhook, methods=["POST"]), Route("/readyz", ready)],
        lifespan=lifespan,
    )  # fmt: skip


def serve(port: int) -> None:
    import uvicorn

    uvicorn.run(create_peer_app(), host="127.0.0.1", port=port, log_level="warning",
                ws="websockets-sansio", lifespan="on")  # fmt: skip


async def run_peer_push(cfg: LoadConfig) -> LoadReport:
    """The bare server under the same harness: same subscribers, tree, rate and checks."""
    org = Org.synthetic(cfg.users)
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pulse-peer-")))
        odoo = stack.enter_context(odoo_process(0, 0, no_odoo=True))
        args = [sys.executable, "-m", "bench.peers", "serve"]
        env = dict(os.environ)
        proc, base = stack.enter_context(server_process(args, env, tmp / "peer.log", "/readyz"))

        def item_for(i: int, deal: int, chain: list[str]) -> dict[str, Any]:
            return {"body": {"viewers": [*chain, ADMIN_VIEWER]}}

        async def positions(results: list[list[Any]], deadline: float) -> tuple[Positions, bool]:
            out: Positions = {r[0]: (int(r[5]["seq"]), None) for r in results
                              if r[4] == 202 and isinstance(r[5], dict)}  # fmt: skip
            return out, True

        target = Target(
            name="bare strawberry + broadcaster",
            pid=proc.pid,
            ws_url=base.replace("http://", "ws://") + "/graphql",
            webhook_url=f"{base}/webhook",
            webhook_secret=None,
            token_for=lambda viewer: viewer,
            item_for=item_for,
            positions=positions,
        )
        return await run_load(target, odoo, org, cfg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    serve_cmd = sub.add_parser("serve")
    serve_cmd.add_argument("--port", type=int, required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-es", action="store_true")
    parser.add_argument("--skip-push", action="store_true")
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.port)
        return
    if not args.skip_es:
        samples = asyncio.run(eventsourcing_samples(300 if args.quick else 1000,
                                                    3 if args.quick else 5))  # fmt: skip
        for key, values in samples.items():
            print(f"{key:18} " + " ".join(f"{v:,.0f}" for v in values), flush=True)
    if not args.skip_push:
        size = 200 if args.quick else 1000
        cfg = LoadConfig(subscribers=size, users=size, rate=2, duration=10 if args.quick else 30)
        print(asyncio.run(run_peer_push(cfg)).summary())


if __name__ == "__main__":
    main()
