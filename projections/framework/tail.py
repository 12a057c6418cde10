"""The live workers' reads of the log, shared within one runner.

Every worker tails the log on its own (independent checkpoints, failures, pauses), but in
steady state they all sit at the head: one append plus ``notify()`` wakes all of them at
once and each asked the store for the same ``read_after(head)``. On the single-threaded
embedded store those identical queries queued up in front of the dashboard's own writes
(bench: "one opportunity change -> dashboard doc updated"). Identical requests that are in
flight at the same time are now answered by one query: each caller gets exactly what a
query of its own, issued a moment earlier, would have returned. Nothing is cached beyond
the query's lifetime, so there is nothing to invalidate.

And what this process has just appended is not asked for at all: the store object hands
it over (``EventStore.recently_appended``) when a worker stands right before it. A worker
then sees this process's commits first and other writers' later ones at its next read
(the runner's watch wakes it for those).
"""

from __future__ import annotations

import asyncio
import time

from domain.event_store import EventStore
from domain.events import RecordedEvent

Key = tuple[int, int]


class TailReader:
    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._inflight: dict[Key, asyncio.Future[list[RecordedEvent]]] = {}
        self.queries = 0
        """Store queries issued (for tests: fewer than the reads asked for)."""
        self.handed = 0
        """Reads answered by ``recently_appended`` (for tests)."""
        self.answered_at = float("-inf")
        """``time.monotonic()`` when a query last came back: the log was read up to its head
        then, whoever appended (the runner's watch for other processes' appends skips a
        poll that a read this recent makes redundant)."""
        self.last_seen = 0
        """The highest position any query returned (workers behind it have work)."""

    async def read_after(self, position: int, limit: int) -> list[RecordedEvent]:
        appended = self._store.recently_appended(position, limit)
        if appended is not None:
            self.handed += 1
            return appended  # a fresh list (its events are shared, as a query's are)
        key = (position, limit)
        query = self._inflight.get(key)
        if query is None:
            self.queries += 1
            query = asyncio.ensure_future(self._store.read_after(position, limit))
            self._inflight[key] = query
            query.add_done_callback(lambda done: self._finished(key, done))
        # Shielded: one caller being cancelled (a worker stopping) must not cancel the
        # query the others are waiting for. A fresh list each: callers may not share one.
        return list(await asyncio.shield(query))

    def forget(self) -> None:
        """Reads asked for from now on get a query of their own (called after an append:
        a query already in flight may not see it). Current waiters keep theirs."""
        self._inflight.clear()

    def _finished(self, key: Key, query: asyncio.Future[list[RecordedEvent]]) -> None:
        if self._inflight.get(key) is query:
            del self._inflight[key]
        if query.cancelled() or query.exception() is not None:  # retrieved here too:
            return  # every waiter may have been cancelled
        self.answered_at = time.monotonic()
        events = query.result()
        if events:
            self.last_seen = max(self.last_seen, events[-1].position)
