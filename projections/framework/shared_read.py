"""One pass over the log for several rebuilds: read once, fold N times.

Rebuilding every projection used to start one ``read_all`` per projection: the store then
served (and this process BSON-decoded) the whole log N times, which alone made a rebuild of
all four projections several times slower than reading the log once (bench/LESSONS.md 1, 5).

A :class:`SharedRead` is created for the rebuilds that one ``start_rebuild`` call starts.
Each rebuild still runs in its own task, with its own lease, record, flushes, failure and
switch; only its source of events changes: ``batches(name, after)`` instead of
``store.read_all(after)``. The pass starts once every member has said where it stands
(joined) or dropped out, at the smallest of their positions, so a resumed member that is
further along simply skips what it already has. Every batch goes to every member still
reading; a member that stops (done, failed, cancelled) leaves and the pass goes on for the
others, and stops when nobody is left.

Back-pressure: a batch is handed out only when every member has fewer than ``depth``
batches waiting, so memory is bounded by a few batches whatever the speed differences
(the org projections fold a batch far faster than the dashboard one).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Iterable

from domain.event_store import EventStore
from domain.events import RecordedEvent

Batch = list[RecordedEvent]


class SharedRead:
    def __init__(
        self, store: EventStore, batch_size: int, members: Iterable[str], depth: int = 2
    ) -> None:
        self._store = store
        self._batch_size = batch_size
        self._depth = depth
        self._expected = set(members)  # neither joined nor gone yet
        self._after: dict[str, int] = {}
        self._queues: dict[str, deque[Batch]] = {}
        self._pump: asyncio.Task[None] | None = None
        self._finished = False
        self._error: BaseException | None = None
        self._changed = asyncio.Event()
        self.reads = 0
        """Batches read from the store (for tests: one pass, not one per member)."""

    # ------------------------------------------------------------------ members
    async def batches(self, name: str, after: int) -> AsyncIterator[Batch]:
        """Batches of every event after ``after``, as the shared pass reads them, until the
        head the pass sees; stop iterating (and ``aclose``) to leave early."""
        if self._pump is not None:
            # It would miss what the pass has already handed out.
            raise RuntimeError(f"{name} joined a shared read that has already started")
        queue: deque[Batch] = deque()
        self._queues[name] = queue
        self._after[name] = after
        self._expected.discard(name)
        self._start_when_ready()
        try:
            while True:
                while not queue and not self._finished:
                    await self._wait()
                if not queue:
                    if self._error is not None:
                        raise self._error
                    return
                batch = queue.popleft()
                self._poke()  # room for the next batch
                if batch[-1].position <= after:
                    continue  # the shared pass started below this member's position
                if batch[0].position <= after:
                    batch = [e for e in batch if e.position > after]
                after = batch[-1].position
                yield batch
        finally:
            self.leave(name)

    def leave(self, name: str) -> None:
        """``name`` reads no more (or will never join: it failed before). Idempotent."""
        self._expected.discard(name)
        self._queues.pop(name, None)
        self._after.pop(name, None)
        self._poke()
        if not self._queues and not self._expected and self._pump is not None:
            self._pump.cancel()  # nobody left to read for
        else:
            self._start_when_ready()

    # ------------------------------------------------------------------ the pass
    def _start_when_ready(self) -> None:
        if self._pump is None and not self._expected and self._after:
            self._pump = asyncio.create_task(self._run(min(self._after.values())))

    async def _run(self, start: int) -> None:
        batches = self._store.read_all(start, self._batch_size)
        try:
            async for batch in batches:
                self.reads += 1
                while self._queues and any(len(q) >= self._depth for q in self._queues.values()):
                    await self._wait()
                if not self._queues:
                    break
                for queue in self._queues.values():
                    queue.append(batch)
                self._poke()
        except Exception as err:  # every member still reading gets it
            self._error = err
        finally:
            self._finished = True
            self._poke()
            close = getattr(batches, "aclose", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    await close()

    # ------------------------------------------------------------------ signalling
    def _poke(self) -> None:
        # Wake everyone waiting on the current event; later waiters get a fresh one. The
        # loop is single-threaded: a condition checked right before ``_wait`` cannot be
        # changed in between, so no wake-up is lost.
        self._changed.set()
        self._changed = asyncio.Event()

    async def _wait(self) -> None:
        await self._changed.wait()
