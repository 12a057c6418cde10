"""Drains the webhook inbox: re-reads each named record from Odoo and ingests it.

If Odoo is unreachable the entry goes back to the inbox with a growing delay (capped), so
nothing accepted is ever dropped; the next attempt happens when it is due or when the app
wakes the processor.

Several deliveries are processed at once (``concurrency``): each is mostly waiting (an Odoo
round trip, then the store), and one at a time the drainer fell far behind a burst of
webhooks (the load run: under 1 per second with 1,000 subscribers). Order does not matter
(each delivery re-reads the record's current state) and two deliveries of the same record
at once are safe: ingestion appends with an expected version, and the loser re-evaluates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from domain.odoo_gateway import OdooError
from domain.sync import describe_failure
from domain.webhooks import ProcessWebhook, WebhookProcessor
from infrastructure.webhooks.inbox import InboxEntry, WebhookInbox

log = logging.getLogger("pulse.webhooks")
DEFAULT_CONCURRENCY = 8


def retry_delay(attempts: int, base: float = 1.0, cap: float = 300.0) -> float:
    return float(min(cap, base * 2 ** min(attempts, 16)))


class InboxDrainer:
    def __init__(
        self,
        inbox: WebhookInbox,
        processor: WebhookProcessor,
        *,
        poll_interval: float = 1.0,
        retry_base: float = 1.0,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._concurrency = concurrency
        self._inbox = inbox
        self._process = processor
        self._poll = poll_interval
        self._retry_base = retry_base
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def notify(self) -> None:
        self.wake()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="webhook-inbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def drain_once(self) -> int:
        """Process every due entry, up to ``concurrency`` at a time; return how many were
        processed successfully."""
        done = 0
        running: set[asyncio.Task[bool]] = set()
        try:
            while True:
                while len(running) < self._concurrency:
                    entry = await self._inbox.claim()
                    if entry is None:
                        break
                    running.add(asyncio.create_task(self._handle(entry)))
                if not running:
                    return done
                finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                done += sum(1 for task in finished if task.result())
        except asyncio.CancelledError:
            for task in running:  # stopping: their entries are claimed again later
                task.cancel()
            raise
        finally:
            # A claim that failed (the store is down) lets the ones in flight finish.
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def _handle(self, entry: InboxEntry) -> bool:
        try:
            stats = await self._process(ProcessWebhook(entry.id, entry.model, entry.odoo_id))
        except (OdooError, ConnectionError, TimeoutError) as err:
            delay = retry_delay(entry.attempts, self._retry_base)
            log.warning("webhook %s: %s; retrying in %.0fs", entry.id, describe_failure(err), delay)
            await self._inbox.retry_later(entry, describe_failure(err), delay)
            return False
        except Exception as err:  # keep the entry: never lose an accepted delivery
            delay = retry_delay(entry.attempts, self._retry_base)
            log.exception("webhook %s failed; retrying in %.0fs", entry.id, delay)
            await self._inbox.retry_later(entry, describe_failure(err), delay)
            return False
        await self._inbox.done(entry, {**stats.as_dict(), "lastPosition": stats.last_position})
        return True

    async def _run(self) -> None:
        while True:
            try:
                await self.drain_once()
            except Exception:
                log.exception("webhook inbox drain failed; will retry")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll)
