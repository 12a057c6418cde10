"""Fault injection: what a flaky Odoo (or the proxy in front of it) does to clients.

Kinds, each for the next ``count`` matching requests:

* ``status``: an HTML error page with that status (500 from a crashed worker, 502/503/504
  from nginx), not an Odoo error body.
* ``drop``: the connection closes in the middle of the answer.
* ``slow``: the answer comes after ``delay`` seconds (client timeouts).
* ``garbage``: HTTP 200 with a truncated, unparsable JSON body.

"Down" applies to every Odoo request until lifted: ``503`` pages or dropped connections.
Control routes (``/_fake``) are never affected, so a test can always lift a fault.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any, Literal

FaultKind = Literal["status", "drop", "slow", "garbage"]
DownMode = Literal["503", "drop"]
KINDS = ("status", "drop", "slow", "garbage")

_GARBAGE = b'{"jsonrpc": "2.0", "id": 1, "result": [{"id": 4, "name": "Acme'


@dataclass(slots=True)
class Fault:
    kind: FaultKind
    remaining: int
    status: int = 500
    delay: float = 1.0
    path: str | None = None  # only requests whose path starts with this


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Fault] = []
        self.down: DownMode | None = None
        self.injected = 0  # how many requests were hit (tests assert on it)
        self.requests = 0  # Odoo requests seen, faulty or not (tests count retries)

    def fail_next(
        self,
        count: int = 1,
        kind: FaultKind = "status",
        *,
        status: int = 500,
        delay: float = 1.0,
        path: str | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {KINDS}")
        with self._lock:
            self._queue.append(Fault(kind, count, status, delay, path))

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._queue:
                if fault.path is None or path.startswith(fault.path):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._queue.remove(fault)
                    self.injected += 1
                    return fault
            return None

    def pending(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._queue)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self.down = None
            self.injected = 0
            self.requests = 0


Scope = dict[str, Any]


class FaultMiddleware:
    """Pure ASGI, so that it can break a response in ways a framework would not allow."""

    def __init__(self, app: Any, faults: Faults, exempt_prefix: str = "/_fake") -> None:
        self.app = app
        self.faults = faults
        self.exempt_prefix = exempt_prefix

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(self.exempt_prefix):
            await self.app(scope, receive, send)
            return
        self.faults.requests += 1
        if self.faults.down == "drop":
            await _drop(send)
            return
        if self.faults.down == "503":
            await _page(send, 503)
            return
        fault = self.faults.take(path)
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.kind == "status":
            await _page(send, fault.status)
        elif fault.kind == "drop":
            await _drop(send)
        elif fault.kind == "slow":
            await asyncio.sleep(fault.delay)
            await self.app(scope, receive, send)
        else:
            await _raw(send, 200, _GARBAGE, b"application/json")


async def _raw(send: Any, status: int, body: bytes, content_type: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _page(send: Any, status: int) -> None:
    body = f"<html><head><title>{status}</title></head><body><h1>{status}</h1></body></html>"
    await _raw(send, status, body.encode(), b"text/html")


async def _drop(send: Any) -> None:
    # Announce a body, send part of it, and return: the server then closes the connection,
    # which a client sees as a peer that hung up mid-response.
    headers = [(b"content-type", b"application/json"), (b"content-length", b"4096")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"jsonrpc"', "more_body": True})
