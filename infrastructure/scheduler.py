"""Runs an INCREMENTAL sync every ``PULSE_SYNC_INTERVAL`` seconds (0 = off)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from domain.sync import SyncAlreadyRunning, SyncMode, SyncOdoo, SyncRun
from domain.tasks import stop_task

log = logging.getLogger("pulse.scheduler")


class SyncScheduler:
    def __init__(self, run_sync: Callable[[SyncOdoo], Awaitable[SyncRun]], interval: float) -> None:
        self._run_sync = run_sync
        self._interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._interval > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="sync-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)
            self._task = None

    async def _loop(self) -> None:
        while True:
            try:
                run = await self._run_sync(SyncOdoo(SyncMode.INCREMENTAL, trigger="scheduler"))
                log.info("scheduled sync %s: %s %s", run.id, run.status.value, run.stats.as_dict())
            except SyncAlreadyRunning:
                log.info("scheduled sync skipped: another run is in progress")
            except Exception:
                log.exception("scheduled sync crashed")
            await asyncio.sleep(self._interval)
