"""Run the real Pulse ASGI app under uvicorn on a free loopback port, in a background thread.

The app gets its own event loop (like a separate process would) and the test talks to it
over real HTTP/WebSockets only.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn

from infrastructure.app import create_app
from infrastructure.bootstrap import StoreHandle
from infrastructure.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_app(settings: Settings, **app_options: Any) -> Iterator[str]:
    """Yield the base URL of a running Pulse server; stop it on exit."""
    port = free_port()
    assert settings.mongodb_url is not None, "tests pass the embedded store's URL explicitly"
    app = create_app(settings, StoreHandle(settings.mongodb_url.get_secret_value()), **app_options)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.started:
            break
        if not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    else:
        raise RuntimeError("the server did not start in time")
    try:
        httpx.get(f"{base}/healthz", timeout=5).raise_for_status()
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=30)
