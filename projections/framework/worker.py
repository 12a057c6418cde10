"""One projection's live loop: hold the lease, tail the store, apply, flush, checkpoint, publish.

Order inside a batch (why it is crash-safe): ``apply`` in memory -> ``flush`` (guarded
writes) -> checkpoint (``$max`` on position, filtered on generation) -> publish. A crash
anywhere before the checkpoint replays the batch: the guarded writes and the positions
kept per document (``DocumentTable.edit``) or per record (``RecordSet``) make that replay
change nothing that was already written.

After any failure the projection instance is thrown away and a fresh one is loaded from the
stored documents, so a half-applied batch never leaks into the next attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from domain.events import RecordedEvent
from domain.tasks import stop_task
from projections.framework.checkpoints import Checkpoint, ErrorInfo, ProjectionState
from projections.framework.config import Services
from projections.framework.failures import ApplyError, FailurePolicy, error_info
from projections.framework.generations import (
    create_generation,
    drop_generations_before,
    drop_older_later,
)
from projections.framework.leases import LeaseLost
from projections.framework.projection import (
    Notification,
    Projection,
    ProjectionContext,
    ProjectionFactory,
)
from projections.framework.status import RateMeter

log = logging.getLogger("pulse.projections")


class Superseded(Exception):
    """The checkpoint's generation moved on (a rebuild switched it): reload from it."""


class ProjectionWorker:
    def __init__(
        self,
        factory: ProjectionFactory,
        services: Services,
        on_commit: Callable[[], None],
        on_live: Callable[[], None] = lambda: None,
    ) -> None:
        self._factory = factory
        self._probe = factory()  # for its name, routing table and collections only
        self.name = self._probe.name
        self._db, self._store, self._config = services.db, services.store, services.config
        self._tail = services.tail
        self._checkpoints, self._leases = services.checkpoints, services.leases
        self._publish = services.publish
        self._on_commit = on_commit
        self._on_live = on_live  # after turning LIVE: its state is loaded and caught up
        self.wake = asyncio.Event()
        self.gate = asyncio.Lock()  # held for each batch; a rebuild holds it to switch over
        self.meter = RateMeter()
        self.position = 0
        self.generation = 0
        self._projection: Projection | None = None
        self._policy = FailurePolicy(self._probe.handles, self._config)
        self._state: ProjectionState | None = None
        self._paused: ErrorInfo | None = None
        self._last_generation_check = 0.0
        # Left in memory for later (RunnerConfig.idle_checkpoint_delay, records_later): since
        # when, the last time, and which: the checkpoint of a batch of nothing this
        # projection handles, the records (stored up to ``_records_at``; the projection
        # says whether any are pending).
        self._unsaved_since: float | None = None
        self._unsaved_last = 0.0
        self._position_unsaved = False
        self._records_at = 0

    @property
    def holding(self) -> bool:
        return self._leases.valid(self.name)

    @property
    def paused(self) -> bool:
        return self._paused is not None

    @property
    def live(self) -> bool:
        return self._state is ProjectionState.LIVE

    # ----------------------------------------------------------- lease loop
    async def run(self) -> None:
        """Until cancelled: serve while holding the lease, otherwise stand by."""
        failures = 0
        while True:
            try:
                acquired = await self._leases.acquire(self.name)
            except Exception:
                log.exception("projection %s: lease request failed", self.name)
                acquired = False
            if not acquired:
                await self._idle(self._config.lease_seconds / 3)
                continue
            renewer = asyncio.create_task(self._leases.keep(self.name, self.wake.set))
            try:
                await self._serve()
            except LeaseLost:
                log.warning("projection %s: lease lost, standing by", self.name)
            except Exception:
                failures += 1
                log.exception("projection %s: cannot start, retrying", self.name)
                await asyncio.sleep(self._config.backoff(failures))
            finally:
                await stop_task(renewer)
                self._projection = None

    def _check_lease(self) -> None:
        if not self._leases.valid(self.name):
            raise LeaseLost(self.name)

    # ----------------------------------------------------------- serving
    async def _serve(self) -> None:
        checkpoint = await self._checkpoints.ensure(self.name)
        self._reset_to(checkpoint)
        if self.position < checkpoint.position:  # folding again what the records lack
            skipped = await self._checkpoints.skipped_positions(self.name)
            self._policy.skips.update(p for p in skipped if p > self.position)
        # Leftovers of a switch that crashed before its drop (only ever older generations).
        await drop_generations_before(self._db, self._probe, self.generation)
        await create_generation(self._db, self._probe, self.generation)
        # A restart is a retry: a PAUSED projection gets a fresh round of attempts.
        await self._set_state(ProjectionState.CATCHING_UP)
        while True:
            self._check_lease()
            async with self.gate:
                delay = await self._step()
            if delay is None:
                await self._idle(self._idle_seconds())
                if self._quiet_enough():
                    async with self.gate:
                        delay = await self._write_left()
                    if delay:
                        await asyncio.sleep(delay)
            elif delay > 0:
                await asyncio.sleep(delay)
            if self._paused is not None:
                await self._wait_while_paused()

    def _reset_to(self, checkpoint: Checkpoint) -> None:
        # From where the stored records end, if before the checkpoint: those events are
        # folded again (RunnerConfig.records_later), as after a crash.
        self.generation, self.position = checkpoint.generation, checkpoint.resume_position
        self._projection = None
        self._policy = FailurePolicy(self._probe.handles, self._config)
        self._state = None
        self._paused = None
        self._unsaved_since = None
        self._position_unsaved = False
        self._records_at = self.position

    def _context(self, later: bool = False) -> ProjectionContext:
        return ProjectionContext(self._db, self.generation, rebuilding=False, later=later)

    async def _step(self) -> float | None:
        """One batch. None: caught up; otherwise the delay before the next step."""
        planned: list[RecordedEvent] = []
        try:
            if self._projection is None:
                # A reload (after a failure) reads the records as stored: the events since
                # they were last written are folded again.
                self.position = min(self.position, self._records_at)
                self._projection = self._factory()
                await self._projection.load(self._context())
            batch = await self._tail.read_after(self.position, self._config.batch_size)
            if not batch:
                await self._caught_up()
                return None
            planned = self._policy.plan(batch)
            notes = await self._process(self._projection, planned)
        except LeaseLost:
            raise
        except Superseded:
            await self._superseded()
            return 0.0
        except Exception as err:
            return await self._failed(planned, err)
        self._policy.succeeded(self.position)
        await self._send(notes)
        # Fewer events than asked for, all processed: the store had nothing more when it
        # answered, so go idle now rather than ask again at once (that empty read, times
        # every worker, queued in front of the next change's writes on the one-request-at-
        # a-time embedded store). Appends made since then have set ``wake`` (``notify``),
        # so the idle wait returns at once for them; other processes' are polled for.
        if len(batch) < self._config.batch_size and planned[-1] is batch[-1]:
            return await self._at_head()
        return 0.0

    async def _at_head(self) -> float | None:
        """After a batch that reached the head: what an empty read would have done."""
        try:
            await self._caught_up()
        except LeaseLost:
            raise
        except Superseded:
            await self._superseded()
            return 0.0
        except Exception as err:  # the state write failed: nothing of the batch's doing
            return await self._failed([], err)
        return None

    async def _process(
        self, projection: Projection, planned: list[RecordedEvent]
    ) -> list[Notification]:
        applied = 0
        skips = self._policy.skips
        for event in planned:
            if event.type in self._probe.handles and event.position not in skips:
                try:
                    projection.apply(event)
                except Exception as err:
                    raise ApplyError(event, err) from err
                applied += 1
        later = self._records_later(projection)
        notes = await projection.flush(self._context(later)) if applied else []
        self._check_lease()
        last = planned[-1].position
        self.meter.add(len(planned))
        pending = projection.unsaved()
        records_at = self._records_at if pending else last
        if not applied and self._skip_checkpoint():
            self.position, self._records_at = last, records_at
            self._position_unsaved = True
            self._on_commit()
            return notes
        live = self._state is ProjectionState.LIVE
        state = ProjectionState.LIVE if live else ProjectionState.CATCHING_UP
        rate = self.meter.rate()
        content = projection.content_position
        if not await self._checkpoints.advance(
            self.name, self.generation, last, state, rate, content, records_at
        ):
            raise Superseded(self.name)
        self.position, self._state, self._records_at = last, state, records_at
        self._position_unsaved = False
        if pending:
            self._note_unsaved()
        else:
            self._unsaved_since = None
        self._on_commit()
        return notes

    # ----------------------------------------------------------- checkpoints left for later
    def _skip_checkpoint(self) -> bool:
        """Leave this checkpoint write for later? Only LIVE, and only for so long: see
        ``RunnerConfig.idle_checkpoint_delay``. A crash before the write costs nothing but
        reading those events again (none of them does anything here)."""
        if not self._may_leave_for_later():
            return False
        self._note_unsaved()
        return True

    def _records_later(self, projection: Projection) -> bool:
        """Let this batch's flush keep the projection's records for later? As for
        checkpoints, if ``RunnerConfig.records_later``, and while few are waiting."""
        return (
            self._config.records_later
            and not self._policy.recovering
            and projection.unsaved() < self._config.records_later_max
            and self._may_leave_for_later()
        )

    def _may_leave_for_later(self) -> bool:
        if self._state is not ProjectionState.LIVE or self._config.idle_checkpoint_delay <= 0:
            return False
        since = self._unsaved_since
        return since is None or time.monotonic() - since < self._config.idle_checkpoint_max_age

    def _note_unsaved(self) -> None:
        now = time.monotonic()
        if self._unsaved_since is None:
            self._unsaved_since = now
        self._unsaved_last = now

    def _idle_seconds(self) -> float:
        if self._unsaved_since is None:
            return self._config.poll_interval
        due = self._unsaved_last + self._config.idle_checkpoint_delay - time.monotonic()
        return max(0.0, min(self._config.poll_interval, due))

    def _quiet_enough(self) -> bool:
        if self._unsaved_since is None or self._state is not ProjectionState.LIVE:
            return False  # not LIVE: the next batch that goes through writes it
        return time.monotonic() - self._unsaved_last >= self._config.idle_checkpoint_delay

    async def save_position(self) -> None:
        """Write now a position that skipped checkpoints left in memory only (for
        ``wait_until``: its callers then read the stored checkpoints, e.g. to compare two
        projections' positions). Records left for later stay so: nobody waits for them."""
        if not self._position_unsaved:
            return  # the usual case: nothing to wait for (the gate may be held by a batch)
        async with self.gate:
            if self._position_unsaved and self._state is ProjectionState.LIVE:
                # Lost its lease meanwhile: the worker stands by when it next looks, and
                # the new holder starts from the stored checkpoint (nothing is lost).
                with contextlib.suppress(LeaseLost):
                    await self._write_left(now=True)

    async def _write_left(self, now: bool = False) -> float | None:
        """Write what batches left in memory: the records too once quiet (not for ``now``,
        ``save_position``), then the checkpoint. Returns the delay before the next step,
        as ``_step`` does."""
        if not now and not self._quiet_enough():  # a batch went through meanwhile
            return None
        try:
            self._check_lease()
            projection = self._projection
            if not now and projection is not None and projection.unsaved():
                await projection.save(self._context())
                self._records_at = self.position
            content = None if projection is None else projection.content_position
            rate = self.meter.rate()
            if not await self._checkpoints.advance(
                self.name, self.generation, self.position, ProjectionState.LIVE, rate, content,
                self._records_at,
            ):  # fmt: skip
                raise Superseded(self.name)
            self._position_unsaved = False
            if projection is None or not projection.unsaved():
                self._unsaved_since = None
        except LeaseLost:
            raise
        except Superseded:
            await self._superseded()
        except Exception as err:  # the store is down: nothing lost, the position is in memory
            return await self._failed([], err)
        return None

    async def _caught_up(self) -> None:
        if self._state is not ProjectionState.LIVE:
            await self._set_state(ProjectionState.LIVE)
            self._on_live()
        now = time.monotonic()
        if now - self._last_generation_check >= self._config.poll_interval:
            # A rebuild in another process may have switched generations while we idled.
            self._last_generation_check = now
            checkpoint = await self._checkpoints.get(self.name)
            if checkpoint is not None and checkpoint.generation != self.generation:
                raise Superseded(self.name)

    async def _superseded(self) -> None:
        checkpoint = await self._checkpoints.ensure(self.name)
        old = self.generation
        self._reset_to(checkpoint)
        log.info("projection %s: now on generation %d", self.name, self.generation)
        if self.generation > old:
            # Our last writes may have recreated the old collections after the rebuild
            # dropped them: drop them again, after the readers' grace period.
            drop_older_later(self._db, self._probe, self.generation, self._config.drop_grace)

    async def _failed(self, planned: list[RecordedEvent], err: Exception) -> float:
        verdict = self._policy.failed(planned, err)
        self._projection = None  # discard half-applied state; reload what is stored
        error = error_info(err, verdict)
        log.warning("projection %s: %s (attempt %d)", self.name, error.describe(), error.attempts)
        if verdict.pause:
            self._paused = error
            state = ProjectionState.PAUSED
        elif verdict.transient:
            state = ProjectionState.FAILED
        else:
            state = self._state or ProjectionState.CATCHING_UP
        with contextlib.suppress(Exception):  # the store may be the thing that is down
            await self._set_state(state, error)
        return verdict.delay

    async def _set_state(self, state: ProjectionState, error: ErrorInfo | None = None) -> None:
        if not await self._checkpoints.set_state(self.name, self.generation, state, error):
            raise Superseded(self.name)
        self._state = state

    async def _send(self, notes: list[Notification]) -> None:
        if notes:
            try:
                await self._publish([note.at(self.position) for note in notes])
            except Exception:  # committed already: a lost message is not a failed batch
                log.exception("projection %s: publishing failed", self.name)

    async def _idle(self, seconds: float) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation that
        # arrives as the wake-up completes (the runner stopping just as the tail poll or a
        # notify() wakes us), and the worker then idled a whole poll_interval before stopping.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.wake.wait()
        self.wake.clear()

    # ----------------------------------------------------------- pause, resume, skip
    async def _wait_while_paused(self) -> None:
        while (error := self._paused) is not None:
            self._check_lease()
            action = await self._checkpoints.take_request(self.name)
            if action is None:
                await self._idle(self._config.poll_interval)
                continue
            async with self.gate:
                if self._paused is None:  # a rebuild switched us over meanwhile
                    return
                if action == "skip" and error.position is not None:
                    if not await self._checkpoints.record_skip(self.name, self.generation, error):
                        await self._superseded()
                        return
                    log.warning("projection %s: skipped %s", self.name, error.describe())
                    self.position = max(self.position, error.position)
                    self._policy.skipped(error.position)
                else:
                    self._policy.resumed()
                self._paused = None
                await self._set_state(ProjectionState.CATCHING_UP)

    def adopt(self, projection: Projection, generation: int, position: int) -> None:
        """Continue on a rebuilt generation with its already-warm instance (under ``gate``)."""
        self._projection, self.generation, self.position = projection, generation, position
        self._policy = FailurePolicy(self._probe.handles, self._config)
        self._state = ProjectionState.LIVE
        self._paused = None
        self._unsaved_since = None
        self._position_unsaved = False
        self._records_at = position  # a rebuild writes its records with every flush
        self.wake.set()
        self._on_live()
