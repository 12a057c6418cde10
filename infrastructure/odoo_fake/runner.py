"""Running the built-in Odoo: in a background thread (tests, ``pulse demo``) or in the
foreground (``pulse odoo-fake``).

The listening socket is bound before the server starts, so ``url`` is known at once, and
``stop()`` then ``start()`` reopen the same port: between the two, clients get a real
"connection refused".
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from infrastructure.odoo_fake.clock import OdooClock
from infrastructure.odoo_fake.demo_company import demo_users
from infrastructure.odoo_fake.instance import DEFAULT_DB, DEFAULT_LOGIN, OdooInstance
from infrastructure.odoo_fake.server import create_app

logger = logging.getLogger("pulse.odoo_fake")


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto is
    # IPPROTO_TCP, and without it every keep-alive answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


class _EmbeddedConfig(uvicorn.Config):
    """Leaves the host process's logging alone: uvicorn's own setup would change the levels
    and handlers of the shared ``uvicorn.*`` loggers (e.g. Pulse's server in ``pulse demo``)."""

    def configure_logging(self) -> None:
        pass


class FakeOdoo(OdooInstance):
    """A built-in Odoo served over HTTP on loopback::

    with FakeOdoo(version="17.0") as odoo:
        client = OdooClient(odoo.url, odoo.db, odoo.login, odoo.api_key)
        odoo.fail_next(2, "status", status=500)
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._app = create_app(self)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = 10.0) -> FakeOdoo:
        if self.running:
            return self
        sock = _bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        config = _EmbeddedConfig(
            self._app, lifespan="off", timeout_graceful_shutdown=1, log_config=None
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])),
            name=f"fake-odoo-{self.port}",
            daemon=True,
        )
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the built-in Odoo did not start")
            time.sleep(0.005)
        self._server, self._thread = server, thread
        logger.info("built-in Odoo %s listening on %s", self.version.text, self.url)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self._server = self._thread = None

    def close(self) -> None:
        self.stop()
        self.webhooks.close()

    def __enter__(self) -> FakeOdoo:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    async def __aenter__(self) -> FakeOdoo:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.close)


def run_fake_odoo(
    host: str = "127.0.0.1",
    port: int = 8069,
    version: str = "19.0",
    *,
    db: str = DEFAULT_DB,
    login: str = DEFAULT_LOGIN,
    api_key: str | None = None,
    demo: bool = True,
    seed: int = 7,
    freeze_at: str | None = None,
    print_info: bool = True,
) -> int:
    """Serve a built-in Odoo in the foreground until interrupted (``pulse odoo-fake``).
    Returns a process exit code."""
    instance = OdooInstance(
        version=version,
        db=db,
        login=login,
        api_key=api_key,
        demo=demo,
        seed=seed,
        clock=OdooClock(freeze_at) if freeze_at else None,
    )
    if print_info:
        _print_info(instance, host, port)
    config = uvicorn.Config(create_app(instance), host=host, port=port, log_level="info")
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        pass
    finally:
        instance.webhooks.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m infrastructure.odoo_fake [--port 8069] [--odoo-version 17.0] ...``"""
    parser = argparse.ArgumentParser(
        prog="odoo-fake", description="Serve the built-in Odoo (demo company included)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8069)
    parser.add_argument("--odoo-version", default="19.0", help="e.g. 16.0, 17.0, saas~18.1, 19.0")
    parser.add_argument("--db", default=DEFAULT_DB)
    parser.add_argument("--login", default=DEFAULT_LOGIN)
    parser.add_argument("--api-key", default=None, help="default: a random key, printed")
    parser.add_argument("--empty", action="store_true", help="no demo company")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--freeze-at", default=None, help="freeze the clock, e.g. 2025-01-06T09:00")
    args = parser.parse_args(argv)
    return run_fake_odoo(
        args.host,
        args.port,
        args.odoo_version,
        db=args.db,
        login=args.login,
        api_key=args.api_key,
        demo=not args.empty,
        seed=args.seed,
        freeze_at=args.freeze_at,
    )


def _print_info(instance: OdooInstance, host: str, port: int) -> None:
    protocols = "JSON-2 and JSON-RPC" if instance.version.has_json2 else "JSON-RPC"
    out = sys.stdout
    out.write(f"Built-in Odoo {instance.version.text} ({protocols}) on http://{host}:{port}\n")
    out.write(f"  PULSE_ODOO_URL=http://{host}:{port}\n")
    out.write(f"  PULSE_ODOO_DB={instance.db}\n")
    out.write(f"  PULSE_ODOO_LOGIN={instance.login}\n")
    out.write(f"  PULSE_ODOO_API_KEY={instance.api_key}\n")
    if instance.demo:
        out.write("  demo users:\n")
        for user in demo_users():
            if user.role in ("admin", "manager", "rep"):
                out.write(f"    {user.role:8} {user.email or user.login:40} {user.note}\n")
    out.flush()
