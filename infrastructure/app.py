"""The ASGI application: routes, and the lifespan that owns every open client."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from typing import cast

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from domain.tasks import stop_task
from domain.webhooks import WebhookProcessor
from infrastructure.bootstrap import Container, StoreHandle, open_container
from infrastructure.graphql_app import graphql_routes, keep_collections_fresh
from infrastructure.observability import (
    LatencyHistogram,
    LatencyMiddleware,
    gauge,
    metrics_endpoint,
)
from infrastructure.scheduler import SyncScheduler
from infrastructure.settings import Settings
from infrastructure.web import WebAssets, asset_routes
from infrastructure.webhooks.inbox import WebhookInbox
from infrastructure.webhooks.processor import InboxDrainer
from infrastructure.webhooks.receiver import make_webhook_endpoint

log = logging.getLogger("pulse.app")


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Ready = the store answers and no projection is FAILED or PAUSED."""
    container: Container = request.app.state.container
    store_ok = await container.ping(limit_seconds=1.0)
    body: dict[str, object] = {"store": "ok" if store_ok else "unreachable"}
    stuck: list[str] = []
    if store_ok:
        with contextlib.suppress(Exception):
            statuses = await container.runner.status()
            stuck = [s.name for s in statuses if s.state.value in ("FAILED", "PAUSED")]
    body["projections"] = "ok" if not stuck else {"not_live": stuck}
    ready = store_ok and not stuck
    body["status"] = "ready" if ready else "unavailable"
    return JSONResponse(body, status_code=200 if ready else 503)


async def collect_gauges(container: Container) -> list[str]:
    lines: list[str] = []
    with contextlib.suppress(Exception):
        head = await container.event_store.head_position()
        lines += gauge(
            "pulse_events_appended", "Events in the store (head position).", [({}, head)]
        )
        statuses = await container.runner.status()
        lines += gauge(
            "pulse_projection_lag",
            "Events between a projection and the head.",
            [({"projection": s.name}, s.lag) for s in statuses],
        )
        lines += gauge(
            "pulse_projection_position",
            "Checkpointed position.",
            [({"projection": s.name}, s.position) for s in statuses],
        )
        runs = await container.sync_runs.recent(1000)
        counts: dict[str, int] = {}
        for run in runs:
            counts[run.status.value] = counts.get(run.status.value, 0) + 1
        lines += gauge(
            "pulse_sync_runs",
            "Sync runs by status (last 1000).",
            [({"status": k}, v) for k, v in sorted(counts.items())],
        )
        inbox = await container.inbox.counts()
        lines += gauge(
            "pulse_webhook_inbox",
            "Webhook deliveries by state.",
            [({"state": k}, v) for k, v in sorted(inbox.items())],
        )
    lines += gauge(
        "pulse_subscribers",
        "Connected subscription listeners in this process.",
        [({}, container.hub.subscriber_count())],
    )
    # 0 until the heap first settled after start-up (infrastructure.heap): that full
    # collection of everything the workers loaded pauses the process once, so a load test
    # (bench/) waits for it before measuring the steady state.
    lines += gauge(
        "pulse_heap_frozen_objects",
        "Objects kept out of the collector's full passes since the heap last settled.",
        [({}, gc.get_freeze_count())],
    )
    return lines


def create_app(
    settings: Settings,
    store: StoreHandle,
    *,
    background: bool = True,
    extra_routes: Sequence[BaseRoute] = (),
    settle_heap: bool = False,
) -> Starlette:
    """``background``: run the projection runner, the webhook inbox drainer and the sync
    scheduler in this process (``pulse serve``); tests may turn it off to drive them.
    ``extra_routes``: more pages (``pulse demo`` adds the demo page at ``/``).
    ``settle_heap``: see ``open_container`` (the CLI's long-running commands set it)."""
    workers: list[InboxDrainer | SyncScheduler] = []
    histogram = LatencyHistogram()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        container = await open_container(settings, store, settle=settle_heap)
        app.state.container = container
        # GraphQL subscriptions listen on the container's hub (one listener per channel per
        # process); the projection runner publishes on the same hub.
        if background:
            await container.start_background(projections=settings.projections)
            if not settings.projections:
                log.info("pulse serve: API only (PULSE_PROJECTIONS=false): `pulse worker` folds")
                if settings.redis_url is None:
                    log.warning(
                        "pulse serve: API only without PULSE_REDIS_URL: subscriptions of this "
                        "process will not hear the commits of the worker processes"
                    )
        else:
            await container.hub.connect()
        supervisor = asyncio.create_task(store.supervise(), name="store-supervisor")
        fresh = asyncio.create_task(keep_collections_fresh(container.db), name="generations")
        if background and container.odoo is not None:
            processor = WebhookProcessor(container.odoo, container.ingestor)
            drainer = InboxDrainer(container.inbox, processor)
            scheduler = SyncScheduler(container.sync_handler(), settings.sync_interval)
            workers.extend([drainer, scheduler])
            container.extras["drainer"] = drainer
            for worker in workers:
                worker.start()
        try:
            yield
        finally:
            supervisor.cancel()
            await stop_task(fresh)
            for worker in workers:
                await worker.stop()
            if background:
                await container.stop_background()
            else:
                await container.hub.disconnect()
            await container.aclose()

    async def wake_drainer() -> None:
        for worker in workers:
            if isinstance(worker, InboxDrainer):
                worker.wake()

    def inbox() -> WebhookInbox:
        return cast(Container, app.state.container).inbox

    async def gauges() -> list[str]:
        return await collect_gauges(cast(Container, app.state.container))

    webhook = make_webhook_endpoint(
        settings.webhook_token, settings.webhook_secret, inbox, on_accepted=wake_drainer
    )
    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint(histogram, gauges)),
        Route("/webhooks/odoo/{token}", webhook, methods=["POST"]),
        *graphql_routes(settings),
        *asset_routes(WebAssets()),  # GraphiQL's and the demo page's browser files
        *extra_routes,
    ]
    middleware = [Middleware(LatencyMiddleware, histogram=histogram)]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=middleware)
    return app
