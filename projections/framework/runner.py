"""The projection runner: one independent worker task per projection, plus rebuilds.

Created and started by the owner of the process's resources (the Starlette lifespan or a CLI
command), stopped by the same owner. Several processes may run a runner over the same
database: each projection is served by whichever process holds its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from domain.event_store import EventStore
from domain.tasks import stop_tasks, where_waiting
from projections.framework.checkpoints import Checkpoint, Checkpoints, ProjectionState
from projections.framework.config import Publish, RunnerConfig, Services, publish_nothing
from projections.framework.leases import Leases
from projections.framework.projection import ProjectionFactory
from projections.framework.rebuild import (
    INTERRUPTED,
    ProgressCallback,
    Rebuild,
    RebuildInProgress,
)
from projections.framework.shared_read import SharedRead
from projections.framework.status import ProjectionStatus, read_statuses
from projections.framework.tail import TailReader
from projections.framework.worker import ProjectionWorker

log = logging.getLogger("pulse.projections")

WAIT_POLL = 0.25
SETTLE_DELAY = 1.0  # seconds without a worker turning LIVE before ``on_settled``


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class ProjectionRunner:
    def __init__(
        self,
        db: AsyncDatabase[Any],
        store: EventStore,
        projections: Sequence[ProjectionFactory],
        *,
        publish: Publish = publish_nothing,
        config: RunnerConfig | None = None,
        owner: str | None = None,
        checkpoints: Checkpoints | None = None,
        on_settled: Callable[[], None] | None = None,
    ) -> None:
        """``on_settled``: called once every projection this process serves has turned LIVE
        (after start-up's loads, a rebuild's switch, a reload) and none turned LIVE for
        ``SETTLE_DELAY``: the moment the process holds its steady state
        (``infrastructure.heap.settle_heap`` uses it). The workers of a start turn LIVE one
        by one, and take their leases one by one: waiting makes that one call, not four."""
        self._db, self._store = db, store
        self._on_settled = on_settled
        self._settle_timer: asyncio.TimerHandle | None = None
        self._config = config or RunnerConfig()
        self.owner = owner or default_owner()
        self._checkpoints = checkpoints or Checkpoints(db)
        self._leases = Leases(db, self.owner, self._config.lease_seconds)
        self._tail = TailReader(store)
        self._services = Services(
            db, store, self._checkpoints, self._leases, publish, self._config, self._tail
        )
        self._factories: dict[str, ProjectionFactory] = {}
        self._workers: dict[str, ProjectionWorker] = {}
        owned: dict[str, str] = {}
        for factory in projections:
            worker = ProjectionWorker(
                factory, self._services, self._signal_commit, self._worker_live
            )
            if worker.name in self._workers:
                raise ValueError(f"two projections are named {worker.name!r}")
            for spec in factory().collections:
                if spec.base_name in owned:
                    raise ValueError(f"{spec.base_name!r} owned by {owned[spec.base_name]!r} too")
                owned[spec.base_name] = worker.name
            self._factories[worker.name] = factory
            self._workers[worker.name] = worker
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._rebuilds: dict[str, asyncio.Task[int]] = {}
        self._committed = asyncio.Event()

    @property
    def names(self) -> list[str]:
        return list(self._workers)

    # ------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        for name, worker in self._workers.items():
            if name not in self._tasks:
                self._tasks[name] = asyncio.create_task(worker.run(), name=f"projection:{name}")
        if self._config.resume_rebuilds and "#resume" not in self._tasks:
            self._tasks["#resume"] = asyncio.create_task(self._resume_rebuilds_loop())
        if self._config.tail_poll_interval > 0 and "#tail" not in self._tasks:
            self._tasks["#tail"] = asyncio.create_task(self._watch_tail(), name="projections:tail")

    async def stop(self) -> None:
        if self._settle_timer is not None:
            self._settle_timer.cancel()
            self._settle_timer = None
        tasks = [*self._tasks.values(), *self._rebuilds.values()]
        await stop_tasks(tasks, on_stuck=_report_stuck)
        self._tasks.clear()
        self._rebuilds.clear()
        for name in self._workers:  # let another process take over at once, not on expiry
            with contextlib.suppress(Exception):
                await self._leases.release(name)

    async def __aenter__(self) -> ProjectionRunner:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def notify(self) -> None:
        """Call after appending events in this process: the workers wake up at once."""
        # A worker woken now must not be handed the answer of a read that started before
        # the append (it might not contain it, and a short answer lets the worker idle).
        self._tail.forget()
        for worker in self._workers.values():
            worker.wake.set()

    async def _watch_tail(self) -> None:
        # Appends from other processes: without this a worker saw them only at its next
        # idle poll (poll_interval, 1 s), one read per worker. Here one query serves all.
        interval = self._config.tail_poll_interval
        while True:
            await asyncio.sleep(interval)
            if time.monotonic() - self._tail.answered_at < interval:
                # A worker read the log within the interval, up to its head then, whoever
                # appended: the workers behind what it saw are woken without asking the store
                # (busy runners were asking about twice per change on the one-request-at-a-
                # time store), and the next poll looks for what came after.
                head = self._tail.last_seen
            else:
                try:
                    head = await self._store.head_position()
                except Exception:  # the workers notice an outage themselves (and report it)
                    log.debug("tail poll failed", exc_info=True)
                    continue
            for worker in self._workers.values():
                # Only serving workers: a standby one would retry its lease at this pace,
                # a paused one would poll for an operator's request at this pace.
                if worker.holding and not worker.paused and worker.position < head:
                    worker.wake.set()

    def _worker_live(self) -> None:
        if self._on_settled is None:
            return
        if self._settle_timer is not None:
            self._settle_timer.cancel()
        loop = asyncio.get_running_loop()
        self._settle_timer = loop.call_later(SETTLE_DELAY, self._settle_if_all_live)

    def _settle_if_all_live(self) -> None:
        self._settle_timer = None
        # Workers without their lease (another process serves them) hold no state here.
        serving = [w for w in self._workers.values() if w.holding]
        if not serving or not all(w.live for w in serving):
            return
        assert self._on_settled is not None  # only ever scheduled with a hook
        try:
            self._on_settled()
        except Exception:
            log.exception("projections: the on_settled hook failed")

    def _signal_commit(self) -> None:
        self._committed.set()
        self._committed = asyncio.Event()

    # ------------------------------------------------------------ queries
    async def status(self, names: Iterable[str] | None = None) -> list[ProjectionStatus]:
        chosen = self._known(names)
        serving = {n: w for n, w in self._workers.items() if w.holding}
        rates = {n: w.meter.rate() for n, w in serving.items()}
        positions = {n: (w.generation, w.position) for n, w in serving.items()}
        return await read_statuses(self._db, self._store, chosen, rates, positions)

    async def skipped(self, name: str) -> list[dict[str, Any]]:
        return await self._checkpoints.skipped(self._known([name])[0])

    async def wait_until(
        self,
        position: int,
        timeout: float,  # noqa: ASYNC109 - the timeout is part of the answer (False), not an abort
        names: Iterable[str] | None = None,
    ) -> bool:
        """True once every projection (or those named) has checkpointed ``position``;
        False on timeout, or at once if one that is behind is PAUSED (it would not get
        there without an operator)."""
        chosen = self._known(names)
        deadline = time.monotonic() + timeout
        timed_out = False
        while True:
            signal = self._committed
            behind = [
                n
                for n in chosen
                if not (self._workers[n].holding and self._workers[n].position >= position)
            ]
            if not behind:
                # "Checkpointed" for the caller, who may read the stored checkpoints next:
                # positions only kept in memory so far (RunnerConfig.idle_checkpoint_delay)
                # are written first.
                for name in chosen:
                    worker = self._workers[name]
                    if worker.holding:
                        await worker.save_position()
                return True
            # Behind workers that run here (holding, not paused) signal their commits: the
            # stored checkpoints are only consulted when one of them is not that, or once a
            # wait slice passes without a commit (a rebuild elsewhere may have switched).
            # Asking the store on every local commit put a query in front of the very
            # writes being waited for.
            local = all(self._workers[n].holding and not self._workers[n].paused for n in behind)
            if not local or timed_out:
                stored = await self._checkpoints.all()
                lagging = [stored.get(n) for n in behind]  # None: never started, at 0
                if all((c.position if c else 0) >= position for c in lagging):
                    return True
                if any(_stuck(c) for c in lagging):
                    return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            # Local commits wake us at once; those of other processes are polled for.
            slice_ = min(remaining, self._config.poll_interval, WAIT_POLL)
            try:
                async with asyncio.timeout(slice_):  # not wait_for: see ProjectionWorker._idle
                    await signal.wait()
                timed_out = False
            except TimeoutError:
                timed_out = True

    # ------------------------------------------------------------ operator actions
    async def resume(self, name: str) -> bool:
        """Retry a PAUSED projection's failing event. False if it was not paused."""
        return await self._request(name, "resume")

    async def skip(self, name: str) -> bool:
        """Skip a PAUSED projection's failing event (recorded). False if it was not paused."""
        return await self._request(name, "skip")

    async def _request(self, name: str, action: str) -> bool:
        (name,) = self._known([name])
        accepted = await self._checkpoints.request(name, action)
        self._workers[name].wake.set()
        return accepted

    async def start_rebuild(
        self, names: Iterable[str] | None = None, progress: ProgressCallback | None = None
    ) -> list[ProjectionStatus]:
        """Start rebuilding in the background; return the statuses (now REBUILDING).

        The rebuilds started by one call read the log once between them (``SharedRead``).
        A rebuild already running in this process is left to run (not restarted); one
        running in another process raises :class:`RebuildInProgress` (those before it in
        ``names`` are started, those after it are not)."""
        chosen = self._known(names)
        busy = await self._start_group(chosen, progress, stop_at_busy=True)
        if busy:
            raise RebuildInProgress(busy[0])
        return await self.status(chosen)

    async def _start_group(
        self, names: Sequence[str], progress: ProgressCallback | None, *, stop_at_busy: bool
    ) -> list[str]:
        """Start rebuilds of ``names`` (those not running here) over one shared read; return
        the names whose rebuild lease another process holds."""
        pending = [n for n in names if not self._running(n)]
        feed = SharedRead(self._store, self._config.rebuild_batch_size, pending)
        busy: list[str] = []
        try:
            for name in pending:
                rebuild = Rebuild(
                    self._factories[name], self._services, self._workers[name], progress, feed
                )
                try:
                    await rebuild.prepare()
                except RebuildInProgress:
                    feed.leave(name)
                    busy.append(name)
                    if stop_at_busy:
                        break
                    continue
                task = asyncio.create_task(rebuild.run(), name=f"rebuild:{name}")
                task.add_done_callback(_log_failure)
                self._rebuilds[name] = task
        finally:
            # Whatever was not started will not join: the others' shared read may begin.
            for name in pending:
                if name not in self._rebuilds or self._rebuilds[name].done():
                    feed.leave(name)
        return busy

    def _running(self, name: str) -> bool:
        task = self._rebuilds.get(name)
        return task is not None and not task.done()

    async def rebuild(
        self, names: Iterable[str] | None = None, progress: ProgressCallback | None = None
    ) -> list[ProjectionStatus]:
        """Rebuild and switch over; return once done (raises the first rebuild's error).
        ``progress`` is only attached to rebuilds this call starts."""
        chosen = self._known(names)
        await self.start_rebuild(chosen, progress)
        tasks = [self._rebuilds[n] for n in chosen]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return await self.status(chosen)

    async def resume_rebuilds(self) -> list[str]:
        """Resume rebuilds that a crash or a shutdown interrupted (not ones that failed).
        Returns those still held by another process's (maybe dead) rebuild lease."""
        stored = await self._checkpoints.all()
        resumable: list[str] = []
        for name in self._workers:
            record = stored[name].rebuild if name in stored else None
            if record is None or record.error not in INTERRUPTED or self._running(name):
                continue
            resumable.append(name)
        # Together, so that they share one read of the log from the lowest of their
        # recorded positions (each skips what it already has).
        blocked = await self._start_group(resumable, None, stop_at_busy=False)
        for name in resumable:
            if name not in blocked:
                record = stored[name].rebuild
                position = record.position if record is not None else 0
                log.info("projection %s: resuming its rebuild at %d", name, position)
        return blocked

    async def _resume_rebuilds_loop(self) -> None:
        # A crashed process's lease outlives it by up to lease_seconds: try again until
        # nothing interrupted is left (or it turns out to be alive and finishes it).
        while True:
            try:
                if not await self.resume_rebuilds():
                    return
            except Exception:
                log.exception("resuming interrupted rebuilds failed")
            await asyncio.sleep(self._config.lease_seconds)

    def _known(self, names: Iterable[str] | None) -> list[str]:
        chosen = list(self._workers) if names is None else list(names)
        unknown = [n for n in chosen if n not in self._workers]
        if unknown:
            raise KeyError(f"unknown projections: {', '.join(unknown)}")
        return chosen


def _stuck(checkpoint: Checkpoint | None) -> bool:
    """PAUSED with no resume/skip request pending: it will not move without an operator."""
    if checkpoint is None:
        return False
    return checkpoint.state is ProjectionState.PAUSED and checkpoint.control is None


def _log_failure(task: asyncio.Task[int]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s failed", task.get_name(), exc_info=task.exception())


def _report_stuck(tasks: list[asyncio.Future[Any]]) -> None:
    for task in tasks:
        name = task.get_name() if isinstance(task, asyncio.Task) else repr(task)
        log.warning(
            "projections: %s still running after being cancelled (waiting at %s); "
            "cancelling it again",
            name,
            where_waiting(task),
        )
