"""Shared pieces of the reliability suite: running servers, leak checks, the tally.

The hostile-input tests are synchronous: the server runs in its own thread and event loop
(``tests/support/server.py``), the tests talk to it with blocking ``httpx`` and count
documents with blocking ``pymongo``, and hypothesis drives plain functions. Async work the
tests need (seeding read models, running projections) runs in a worker thread with its own
event loop (``run_async``), so it never touches pytest-asyncio's session loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import json
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from hypothesis import HealthCheck, settings
from pymongo import MongoClient
from pymongo.database import Database

from infrastructure.settings import Settings
from tests.support.server import running_app

T = TypeVar("T")

LONG = os.environ.get("PULSE_LONG") == "1"


def examples(n: int) -> settings:
    """Hypothesis settings for a hostile-input test: ``n`` examples (x10 with PULSE_LONG=1),
    no deadline (a real server answers), no example database (runs stay reproducible)."""
    return settings(
        max_examples=n * 10 if LONG else n,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                               HealthCheck.data_too_large],
    )  # fmt: skip


RUN_ASYNC_TIMEOUT = 240.0  # under pytest-timeout's 300 s, so a hang fails with its stacks


def run_async(make: Callable[[], Awaitable[T]], timeout: float = RUN_ASYNC_TIMEOUT) -> T:
    """Run a coroutine to completion in a fresh event loop on a worker thread.

    A hang fails the test with every task's stack (instead of blocking the whole run: a
    signal from pytest-timeout cannot interrupt the worker thread, and leaving the pool
    would then wait for it forever)."""

    async def main() -> T:
        work = asyncio.ensure_future(make())
        done, _ = await asyncio.wait([work], timeout=timeout)
        if not done:
            stacks = io.StringIO()
            for task in asyncio.all_tasks():
                task.print_stack(limit=30, file=stacks)
            work.cancel()
            raise TimeoutError(f"hung for {timeout:.0f} s; tasks:\n{stacks.getvalue()}")
        return work.result()

    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return pool.submit(asyncio.run, main()).result(timeout=timeout + 30)
    finally:
        pool.shutdown(wait=False)


# -- what a response must never contain -------------------------------------------------------

TRACE_MARKERS = (
    "Traceback (most recent call last)",
    'File "',
    '.py", line',
    "site-packages",
    "mongodb://",
    "redis://",
)
TRACE_PATTERN = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b")


def leaks(response_text: str, sent: str, secrets: tuple[str, ...]) -> list[str]:
    """What the response reveals that it should not: stack-trace fragments, exception class
    names and secret values. A fragment the request itself contained is not counted (an
    error message may quote the query it refuses)."""
    found = [m for m in (*TRACE_MARKERS, *secrets) if m and m in response_text and m not in sent]
    for match in TRACE_PATTERN.finditer(response_text):
        if match.group(0) not in sent:
            found.append(match.group(0))
    return found


# -- the tally printed at the end of the run (docs/RELIABILITY.md is filled from it) ---------


@dataclass
class ClassTally:
    cases: int = 0
    server_errors: int = 0
    leaks: int = 0
    stored_on_reject: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


class Tally:
    def __init__(self) -> None:
        self.classes: dict[str, ClassTally] = {}

    def record(self, name: str, status: int, *, leaked: int = 0, stored_on_reject: int = 0) -> None:
        entry = self.classes.setdefault(name, ClassTally())
        entry.cases += 1
        entry.server_errors += status >= 500
        entry.leaks += leaked
        entry.stored_on_reject += stored_on_reject
        entry.statuses[status] = entry.statuses.get(status, 0) + 1

    def lines(self) -> list[str]:
        out = [f"{'class':<56} {'cases':>6} {'5xx':>4} {'leaks':>5} {'stored':>6}  statuses"]
        for name in sorted(self.classes):
            c = self.classes[name]
            statuses = " ".join(f"{k}:{v}" for k, v in sorted(c.statuses.items()))
            out.append(
                f"{name:<56} {c.cases:>6} {c.server_errors:>4} {c.leaks:>5} "
                f"{c.stored_on_reject:>6}  {statuses}"
            )
        return out

    def as_json(self) -> str:
        return json.dumps(
            {k: vars(v) for k, v in sorted(self.classes.items())}, indent=2, default=str
        )


TALLY = Tally()


# -- running servers --------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    mongo: MongoClient[dict[str, Any]]
    db_name: str
    secrets: tuple[str, ...]
    http: httpx.Client

    @property
    def db(self) -> Database[dict[str, Any]]:
        return self.mongo[self.db_name]

    def settle(self) -> None:
        """Wait until the server has finished with the previous request. After a 500, the
        response goes out before uvicorn logs the traceback; Python 3.11 formats
        tracebacks with ``ast.parse``, whose module state is shared between threads, so a
        traceback formatted in the server thread while pytest formats a failure in this one
        can raise "SystemError: AST constructor recursion depth mismatch" (CPython
        gh-106905). The event loop runs that logging before it answers the next request."""
        for _ in range(5):
            try:  # a fresh connection: the server closes the one that ended in a 500
                httpx.get(f"{self.url}/healthz", timeout=60, headers={"Connection": "close"})
                return
            except httpx.TransportError:
                time.sleep(0.1)

    def post_once(self, path: str, **options: Any) -> httpx.Response:
        """A request on its own connection (closed after it), for cases that may end in a
        500: the server drops that connection, which a pooled client might then reuse."""
        headers = {**options.pop("headers", {}), "Connection": "close"}
        response = httpx.post(f"{self.url}{path}", headers=headers, timeout=60, **options)
        self.settle()
        return response

    def inbox_count(self) -> int:
        return self.db["webhook_inbox"].count_documents({})

    def inbox_doc(self, delivery_id: str) -> dict[str, Any]:
        found = self.db["webhook_inbox"].find_one({"_id": delivery_id})
        assert found is not None, f"no inbox document {delivery_id}"
        return dict(found)

    def fingerprint(self) -> dict[str, str]:
        """Every collection's documents, as text: equal before and after means nothing
        changed (the read models are small in these tests)."""
        out: dict[str, str] = {}
        for name in sorted(self.db.list_collection_names()):
            docs = sorted(json.dumps(d, sort_keys=True, default=str) for d in self.db[name].find())
            out[name] = "\n".join(docs)
        return out


@contextmanager
def serve(mongo_url: str, **overrides: Any) -> Iterator[Server]:
    """A real Pulse server (uvicorn, own thread) on a fresh database of the test store.
    ``background=False``: no projection runner, inbox drainer or scheduler, so whatever a
    request stores stays where the test can count it."""
    db_name = f"rel_{uuid.uuid4().hex[:12]}"
    settings = Settings(mongodb_url=mongo_url, mongodb_db=db_name, **overrides)
    secrets = tuple(
        value.get_secret_value()
        for value in (settings.jwt_secret, settings.webhook_token, settings.webhook_secret)
        if value is not None
    )
    mongo: MongoClient[dict[str, Any]] = MongoClient(mongo_url, tz_aware=True)
    try:
        with running_app(settings, background=False) as url, httpx.Client(timeout=60) as http:
            yield Server(url, mongo, db_name, secrets, http)
    finally:
        mongo.drop_database(db_name)
        mongo.close()
