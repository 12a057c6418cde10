"""``GET /metrics`` in Prometheus text format, and the request-latency middleware feeding it.

No client library: a handful of gauges read at scrape time (projection lag, events, sync
runs, subscribers, webhook inbox) and one histogram of HTTP request durations, kept in
process memory (each process is scraped on its own).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class LatencyHistogram:
    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, str], list[int]] = defaultdict(
            lambda: [0] * (len(BUCKETS) + 1)
        )
        self.sums: dict[tuple[str, str, str], float] = defaultdict(float)

    def observe(self, method: str, route: str, status: str, seconds: float) -> None:
        key = (method, route, status)
        row = self.counts[key]
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                row[i] += 1
        row[-1] += 1
        self.sums[key] += seconds

    def render(self) -> list[str]:
        name = "pulse_http_request_duration_seconds"
        lines = [f"# HELP {name} HTTP request latency.", f"# TYPE {name} histogram"]
        for (method, route, status), row in sorted(self.counts.items()):
            labels = f'method="{method}",route="{route}",status="{status}"'
            for i, bound in enumerate(BUCKETS):
                lines.append(f'{name}_bucket{{{labels},le="{bound}"}} {row[i]}')
            lines.append(f'{name}_bucket{{{labels},le="+Inf"}} {row[-1]}')
            lines.append(f"{name}_sum{{{labels}}} {self.sums[(method, route, status)]:.6f}")
            lines.append(f"{name}_count{{{labels}}} {row[-1]}")
        return lines


def route_label(path: str) -> str:
    """Low-cardinality route names: never the webhook token or an id."""
    if path.startswith("/webhooks/odoo/"):
        return "/webhooks/odoo/{token}"
    if path in ("/graphql", "/healthz", "/readyz", "/metrics", "/"):
        return path
    return "other"


class LatencyMiddleware:
    """Pure ASGI (WebSockets pass through untouched)."""

    def __init__(self, app: ASGIApp, histogram: LatencyHistogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = "500"

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            self.histogram.observe(
                scope["method"], route_label(scope["path"]), status, time.perf_counter() - started
            )


Gauges = Callable[[], Awaitable[list[str]]]


def metrics_endpoint(
    histogram: LatencyHistogram, gauges: Gauges
) -> Callable[[Request], Awaitable[PlainTextResponse]]:
    async def endpoint(request: Request) -> PlainTextResponse:
        lines = await gauges()
        lines += histogram.render()
        return PlainTextResponse(
            "\n".join(lines) + "\n", media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    return endpoint


def gauge(name: str, help_text: str, samples: list[tuple[dict[str, Any], float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
    for labels, value in samples:
        rendered = ",".join(f'{k}="{v}"' for k, v in labels.items())
        lines.append(f"{name}{{{rendered}}} {value}" if rendered else f"{name} {value}")
    return lines
