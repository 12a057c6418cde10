"""Rebuild with zero downtime: fold everything into a shadow generation, then switch.

1. Take the projection's rebuild lease; record ``rebuild = {generation: g+1, position: 0}``
   (or find the record of a crashed rebuild and resume from its position, warming a fresh
   instance from what the shadow collections already hold).
2. Stream the whole log (``read_all``, big batches), ``apply`` in memory, ``flush`` every
   N events, record the position after each flush; build the readers' indexes after that.
   Readers keep reading generation g, and the live runner keeps updating it and publishing
   its changes. Rebuilds started together share one pass over the log
   (:class:`~projections.framework.shared_read.SharedRead`). The fold yields to the event
   loop every few milliseconds and renews the rebuild lease itself when its renewer task is
   late, so a CPU-bound fold cannot starve the renewals.
3. Catch the shadow up to the head; pause the live runner of this process (its gate), catch
   up the last few events, then switch position + generation in ONE checkpoint update and
   hand the warm instance to the live runner. A runner in another process notices on its
   next checkpoint write (filtered on generation) and reloads from the new generation.
4. After the readers' cache grace period, drop generation g.

Nothing the shadow's flushes return is published: a rebuild would flood subscribers with
stale intermediate values. One ``projections`` notification announces the switch instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from domain.events import RecordedEvent
from domain.tasks import stop_task
from projections.framework.config import Services
from projections.framework.failures import ApplyError
from projections.framework.generations import (
    create_generation,
    drop_generations,
    drop_generations_before,
    invalidate_active,
)
from projections.framework.leases import LeaseLost, rebuild_key
from projections.framework.projection import (
    Notification,
    Projection,
    ProjectionContext,
    ProjectionFactory,
)
from projections.framework.shared_read import SharedRead
from projections.framework.worker import ProjectionWorker

REBUILT_CHANNEL = "projections"
CANCELLED = "cancelled"
SWITCH_ATTEMPTS = 50
INTERRUPTED = (None, CANCELLED)
"""Rebuild record errors that mean "interrupted" (crash, shutdown): such a rebuild resumes."""
YIELD_AFTER = 0.01
"""Seconds of folding between two yields to the event loop: lease renewals, the live
workers, the other rebuilds and the API share the loop with a fold of millions of events.
By time, not by event count: what an event costs varies by projection and data set."""
CLOCK_EVERY = 64
"""Events between two looks at the clock (cheap, but not free at millions of events)."""


@dataclass(frozen=True, slots=True)
class RebuildProgress:
    name: str
    done: int
    """Events folded so far, counting those a resumed rebuild had already done."""
    total: int
    events_per_second: float
    eta_seconds: float | None


ProgressCallback = Callable[[RebuildProgress], object]
"""Called after every batch; may be a coroutine function (it is then awaited)."""


class RebuildInProgress(Exception):
    """Another rebuild of this projection holds its rebuild lease."""


class Rebuild:
    def __init__(
        self,
        factory: ProjectionFactory,
        services: Services,
        worker: ProjectionWorker | None = None,
        progress: ProgressCallback | None = None,
        feed: SharedRead | None = None,
    ) -> None:
        self._factory = factory
        self._feed = feed  # None: this rebuild reads the log on its own
        self.name = factory().name
        self._db, self._store, self._config = services.db, services.store, services.config
        self._checkpoints, self._leases = services.checkpoints, services.leases
        self._publish = services.publish
        self._worker, self._progress = worker, progress
        self._key = rebuild_key(self.name)
        self._renewer: asyncio.Task[None] | None = None
        self.generation = 0
        self.resumed_from = 0
        self._position = self._total = self._done_here = 0
        self._started = 0.0
        self._skipped: set[int] = set()

    async def prepare(self) -> None:
        """Take the rebuild lease and record (or find) the shadow generation."""
        if not await self._leases.acquire(self._key):
            raise RebuildInProgress(self.name)
        self._renewer = asyncio.create_task(self._leases.keep(self._key, lambda: None))
        try:
            checkpoint = await self._checkpoints.ensure(self.name)
            record, active, probe = checkpoint.rebuild, checkpoint.generation, self._factory()
            if (
                record is not None
                and record.generation > active
                and record.version == probe.version
                and record.error in INTERRUPTED
            ):
                self.generation, self.resumed_from = record.generation, record.position
            else:
                # Start afresh. Anything newer than the active generation is the shadow of
                # an attempt that failed, ran other code, or died before recording itself.
                await drop_generations(self._db, probe, lambda g: g > active)
                self.generation = active + 1
                head = await self._store.head_position()
                await self._checkpoints.begin_rebuild(
                    self.name, self.generation, head, probe.version
                )
        except BaseException:
            await self._release()
            raise

    async def run(self) -> int:
        """Rebuild, switch, drop the old generation; return the new generation."""
        try:
            projection = self._factory()
            ctx = ProjectionContext(self._db, self.generation, rebuilding=True)
            await projection.load(ctx)  # empty, or what a crashed attempt already wrote
            self._skipped = await self._checkpoints.skipped_positions(self.name)
            self._position = self.resumed_from
            self._total = max(await self._store.head_position(), self._position)
            self._started = time.monotonic()
            await self._fold_bulk(projection, ctx)
            # Readers' indexes are built once over the bulk-written shadow, not maintained
            # through every write of the bulk (nobody reads the shadow before the switch):
            # ~30% of the store's write time for opportunity_view (six indexes, one over
            # an array). Idempotent, so a resumed rebuild simply builds them here too.
            await create_generation(self._db, projection, self.generation)
            await self._switch(projection, ctx)
            invalidate_active([self.name])
            payload = {"projection": self.name, "rebuilt": True, "generation": self.generation}
            await self._announce(
                Notification(REBUILT_CHANNEL, payload | {"position": self._position})
            )
            await asyncio.sleep(self._config.drop_grace)  # readers' caches move on first
            await drop_generations_before(self._db, projection, self.generation)
            return self.generation
        except BaseException as err:
            with contextlib.suppress(Exception):
                message = CANCELLED if isinstance(err, asyncio.CancelledError) else repr(err)
                await self._checkpoints.rebuild_failed(self.name, self.generation, message)
            raise
        finally:
            if self._feed is not None:
                self._feed.leave(self.name)  # the shared pass goes on for the others
            await self._release()

    async def _fold_bulk(self, projection: Projection, ctx: ProjectionContext) -> None:
        """The bulk of the work: up to the head seen at the start, in big batches."""
        target, pending = self._total, 0
        if self._feed is not None:
            batches = self._feed.batches(self.name, self._position)
        else:
            batches = self._store.read_all(self._position, self._config.rebuild_batch_size)
        try:
            async for batch in batches:
                await self._fold(projection, batch)
                await self._keep_lease()
                pending += len(batch)
                if pending >= self._config.rebuild_flush_every:
                    await self._flush(projection, ctx)
                    pending = 0
                await self._report()
                if self._position >= target:
                    break  # read_all chases a moving head; the switch catches up the rest
        finally:
            close = getattr(batches, "aclose", None)
            if close is not None:
                await close()
        await self._flush(projection, ctx)

    async def _fold(self, projection: Projection, batch: Sequence[RecordedEvent]) -> None:
        handles = projection.handles
        slice_ends = time.monotonic() + YIELD_AFTER
        for i, event in enumerate(batch, 1):
            # Events an operator skipped in the live projection stay skipped, so the
            # rebuilt generation is the fold of the same accepted events.
            if event.type in handles and event.position not in self._skipped:
                try:
                    projection.apply(event)
                except Exception as err:
                    raise ApplyError(event, err) from err
            if i % CLOCK_EVERY == 0 and time.monotonic() >= slice_ends:
                await asyncio.sleep(0)  # let the lease renewer and everyone else run
                await self._keep_lease()  # and renew here if the renewer is late anyway
                slice_ends = time.monotonic() + YIELD_AFTER
        self._position = batch[-1].position
        self._done_here += len(batch)
        self._total = max(self._total, self._position)

    async def _keep_lease(self) -> None:
        if not await self._leases.renew_if_due(self._key):
            raise LeaseLost(self._key)

    async def _flush(self, projection: Projection, ctx: ProjectionContext) -> None:
        await self._keep_lease()
        await projection.flush(ctx)  # notifications dropped: nothing is published mid-rebuild
        recorded = await self._checkpoints.rebuild_progress(
            self.name, self.generation, self._position, self._total, self._rate()
        )
        if not recorded:
            raise RuntimeError(f"rebuild record of {self.name} vanished")

    async def _catch_up(self, projection: Projection, ctx: ProjectionContext) -> None:
        # Up to the head as it is now, not "until nothing is left": under a steady stream
        # of appends the latter may never happen.
        target = await self._store.head_position()
        while self._position < target:
            batch = await self._store.read_after(self._position, self._config.batch_size)
            if not batch:
                break
            await self._fold(projection, batch)
            await self._flush(projection, ctx)
            await self._report()

    async def _switch(self, projection: Projection, ctx: ProjectionContext) -> None:
        for attempt in range(SWITCH_ATTEMPTS):
            await self._catch_up(projection, ctx)  # most of the gap, without pausing anyone
            worker = self._worker if self._worker is not None and self._worker.holding else None
            async with contextlib.AsyncExitStack() as stack:
                if worker is not None:
                    await stack.enter_async_context(worker.gate)  # live runner paused here
                await self._catch_up(projection, ctx)
                live = (await self._checkpoints.ensure(self.name)).generation
                if await self._checkpoints.switch(self.name, live, self.generation, self._position):
                    if worker is not None:
                        worker.adopt(projection, self.generation, self._position)
                    return
            # The live generation is ahead of us (its runner is in another process).
            await asyncio.sleep(min(0.02 * (attempt + 1), 0.5))
        raise RuntimeError(f"rebuild of {self.name} could not catch up with the live runner")

    def _rate(self) -> float:
        elapsed = time.monotonic() - self._started
        return self._done_here / elapsed if elapsed > 0 else 0.0

    async def _report(self) -> None:
        if self._progress is None:
            return
        rate = self._rate()
        remaining = max(self._total - self._position, 0)
        eta = remaining / rate if rate > 0 else None
        update = RebuildProgress(self.name, self._position, self._total, rate, eta)
        result = self._progress(update)
        if inspect.isawaitable(result):
            await result

    async def _announce(self, note: Notification) -> None:
        with contextlib.suppress(Exception):
            await self._publish([note])

    async def _release(self) -> None:
        if self._renewer is not None:
            await stop_task(self._renewer)
        with contextlib.suppress(Exception):
            await self._leases.release(self._key)
