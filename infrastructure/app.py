"""The ASGI application: routes, and the lifespan that owns every open client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import cast

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from domain.webhooks import WebhookProcessor
from infrastructure.bootstrap import Container, StoreHandle, open_container
from infrastructure.scheduler import SyncScheduler
from infrastructure.settings import Settings
from infrastructure.webhooks.inbox import WebhookInbox
from infrastructure.webhooks.processor import InboxDrainer
from infrastructure.webhooks.receiver import make_webhook_endpoint


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    container: Container = request.app.state.container
    store_ok = await container.ping(limit_seconds=1.0)
    body = {"status": "ready" if store_ok else "unavailable",
            "store": "ok" if store_ok else "unreachable"}  # fmt: skip
    return JSONResponse(body, status_code=200 if store_ok else 503)


def create_app(settings: Settings, store: StoreHandle, *, background: bool = True) -> Starlette:
    """``background``: run the webhook inbox drainer and the sync scheduler in this process
    (``pulse serve``); the tests turn it off to drive them step by step."""
    workers: list[InboxDrainer | SyncScheduler] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        container = await open_container(settings, store)
        app.state.container = container
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
            for worker in workers:
                await worker.stop()
            await container.aclose()

    async def wake_drainer() -> None:
        for worker in workers:
            if isinstance(worker, InboxDrainer):
                worker.wake()

    def inbox() -> WebhookInbox:
        return cast(Container, app.state.container).inbox

    webhook = make_webhook_endpoint(
        settings.webhook_token, settings.webhook_secret, inbox, on_accepted=wake_drainer
    )
    routes = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/webhooks/odoo/{token}", webhook, methods=["POST"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    return app
