"""The ASGI application: routes, and the lifespan that owns every open client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from infrastructure.bootstrap import Container, StoreHandle, open_container
from infrastructure.settings import Settings


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    container: Container = request.app.state.container
    store_ok = await container.ping(limit_seconds=1.0)
    body = {"status": "ready" if store_ok else "unavailable",
            "store": "ok" if store_ok else "unreachable"}  # fmt: skip
    return JSONResponse(body, status_code=200 if store_ok else 503)


def create_app(settings: Settings, store: StoreHandle) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        container = await open_container(settings, store)
        app.state.container = container
        try:
            yield
        finally:
            await container.aclose()

    routes = [Route("/healthz", healthz), Route("/readyz", readyz)]
    return Starlette(routes=routes, lifespan=lifespan)
