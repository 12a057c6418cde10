"""The ``SyncOdoo`` command and its one handler (CLI, scheduler and GraphQL all use it).

Order: related models first (stages, teams, partners, users, employees), leads last, so the
lead events can see which stages are won. Stages, teams, users and employees are small and
some of their changes do not bump ``write_date`` (team membership, renames), so every run
reads them in full and detects their deletions. Partners and leads are read incrementally:
``write_date >= cursor - look-back``, ordered ``write_date asc, id asc``; the cursor is the
greatest ``write_date`` received (never our own clock), and unchanged records are dropped by
content hash. A FULL run reads everything and detects deletions by comparing id lists.

Only one run at a time (a lease in the run repository). A run that fails never moves the
cursors, so the next run re-reads everything the failed one may have missed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from domain.errors import PulseError
from domain.events import new_id
from domain.ingestion import Clock, Ingestor, IngestStats
from domain.normalize import EMPLOYEE, LEAD, MODEL_FIELDS, PARTNER, STAGE, TEAM, USER
from domain.odoo_gateway import OdooError, OdooGateway

log = logging.getLogger("pulse.sync")

SYNC_ORDER: tuple[str, ...] = (STAGE, TEAM, PARTNER, USER, EMPLOYEE, LEAD)
ALWAYS_FULL: frozenset[str] = frozenset({STAGE, TEAM, USER, EMPLOYEE})
DEFAULT_LOOKBACK = timedelta(minutes=5)
PAGES_IN_FLIGHT = 3  # pages fetched and being ingested at once (see _sync_model)
ODOO_DATETIME = "%Y-%m-%d %H:%M:%S"


class SyncMode(StrEnum):
    INCREMENTAL = "INCREMENTAL"
    FULL = "FULL"


class SyncStatus(StrEnum):
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class SyncOdoo:
    """Command: pull Odoo's changes into the event store."""

    mode: SyncMode = SyncMode.INCREMENTAL
    trigger: str = "cli"


@dataclass
class SyncRun:
    id: str
    mode: SyncMode
    trigger: str
    status: SyncStatus
    started_at: datetime
    finished_at: datetime | None = None
    stats: IngestStats = field(default_factory=IngestStats)
    error: str | None = None
    cursors: dict[str, str] = field(default_factory=dict)


class SyncAlreadyRunning(PulseError):
    def __init__(self) -> None:
        super().__init__("a sync is already running; only one runs at a time")


class SyncRunRepository(Protocol):
    async def try_start(self, run: SyncRun) -> bool:
        """Record the run as RUNNING if no other run holds the lock; False otherwise."""
        ...

    async def heartbeat(self, run: SyncRun) -> None:
        """Extend the run's lock and store its progress (stats so far)."""
        ...

    async def finish(self, run: SyncRun) -> None:
        """Store the final state and release the lock."""
        ...

    async def cursors(self) -> dict[str, str]: ...

    async def set_cursors(self, cursors: dict[str, str]) -> None: ...

    async def recent(self, last: int) -> list[SyncRun]: ...


Progress = Callable[[str, int, int | None], None]
"""progress(model, records done, records expected or None)"""


def describe_failure(err: BaseException) -> str:
    """A message safe to store and show: ours and Odoo's are; anything else is generic."""
    if isinstance(err, PulseError | OdooError):
        return str(err)
    return f"internal error ({type(err).__name__}); see the server log"


class SyncHandler:
    def __init__(
        self,
        gateway: OdooGateway,
        ingestor: Ingestor,
        runs: SyncRunRepository,
        clock: Clock,
        *,
        page_size: int = 500,
        lookback: timedelta = DEFAULT_LOOKBACK,
        models: Sequence[str] = SYNC_ORDER,
    ) -> None:
        self._odoo = gateway
        self._ingestor = ingestor
        self._runs = runs
        self._clock = clock
        self._page_size = page_size
        self._lookback = lookback
        self._models = tuple(models)

    async def __call__(self, command: SyncOdoo, progress: Progress | None = None) -> SyncRun:
        run = SyncRun(
            new_id(), command.mode, command.trigger, SyncStatus.RUNNING, self._clock.now()
        )
        if not await self._runs.try_start(run):
            raise SyncAlreadyRunning
        try:
            cursors = await self._runs.cursors()
            run.cursors = dict(cursors)
            won_stages: set[int] | None = None
            for model in self._models:
                if model == LEAD:
                    won_stages = await self._ingestor.won_stage_ids()
                await self._sync_model(run, model, cursors, won_stages, progress)
            run.status = SyncStatus.SUCCEEDED
            await self._runs.set_cursors(run.cursors)  # only a successful run moves them
        except Exception as err:
            run.status = SyncStatus.FAILED
            run.error = describe_failure(err)
            log.error(
                "sync %s failed: %s",
                run.id,
                run.error,
                exc_info=not isinstance(err, PulseError | OdooError),
            )
        finally:
            run.finished_at = self._clock.now()
            await self._runs.finish(run)
        return run

    async def _sync_model(
        self,
        run: SyncRun,
        model: str,
        cursors: dict[str, str],
        won_stages: set[int] | None,
        progress: Progress | None,
    ) -> None:
        full = run.mode is SyncMode.FULL or model in ALWAYS_FULL or model not in cursors
        domain: list[object] = []
        order = "id asc"
        if not full:
            domain = [["write_date", ">=", self._since(cursors[model])]]
            order = "write_date asc, id asc"
        fields = [*MODEL_FIELDS[model], "write_date"]
        expected = await self._odoo.search_count(model, domain) if progress else None
        done = 0
        greatest = cursors.get(model)
        source = f"sync:{run.mode.value.lower()}"

        async def ingested(task: asyncio.Future[IngestStats], rows: int) -> None:
            nonlocal done
            run.stats.add(await task)
            done += rows
            if progress is not None:
                progress(model, done, expected)
            await self._runs.heartbeat(run)

        # Up to PAGES_IN_FLIGHT pages in flight: one page's normalising and change detection
        # (our CPU) and the next page's fetch overlap the store's writes of the pages before
        # (py-spy over a 20,000-lead sync: store 8.8 s, Pulse 3.4 s, taking turns; 100,000
        # leads, alternating runs: three pages 33.1-34.4 s, two 32.5-39.4 s, +10 MB). Two
        # ingests of one record (offsets moving while Odoo changes) stay correct: appends
        # carry the expected stream version, and a conflict re-reads and re-evaluates
        # (Ingestor._apply), as for a webhook racing a sync.
        in_flight: list[tuple[asyncio.Future[IngestStats], int]] = []
        try:
            async for page in self._odoo.iter_search_read(
                model, domain, fields, order, self._page_size
            ):
                ingest = self._ingestor.ingest_rows(
                    model, page, source=source, correlation_id=run.id, won_stage_ids=won_stages
                )
                in_flight.append((asyncio.ensure_future(ingest), len(page)))
                for row in page:
                    stamp = row.get("write_date")
                    if isinstance(stamp, str) and (greatest is None or stamp > greatest):
                        greatest = stamp
                if len(in_flight) >= PAGES_IN_FLIGHT:
                    await ingested(*in_flight.pop(0))
            while in_flight:
                await ingested(*in_flight.pop(0))
        finally:
            # After a failure: the other pages' ingests run to their end (a page is never left
            # half-ingested by us); the failure is what the run reports.
            await asyncio.gather(*(task for task, _ in in_flight), return_exceptions=True)
        if full:
            present = set(await self._odoo.search_ids(model, []))
            run.stats.add(
                await self._ingestor.ingest_deletions(
                    model, present, source=source, correlation_id=run.id
                )
            )
        if greatest is not None:
            run.cursors[model] = greatest

    def _since(self, cursor: str) -> str:
        moment = datetime.strptime(cursor, ODOO_DATETIME) - self._lookback
        return moment.strftime(ODOO_DATETIME)


__all__ = ["PARTNER", "SyncHandler", "SyncMode", "SyncOdoo", "SyncRun", "SyncStatus"]
