"""Drains the webhook inbox: re-reads each named record from Odoo and ingests it.

If Odoo is unreachable the entry goes back to the inbox with a growing delay (capped), so
nothing accepted is ever dropped; the next attempt happens when it is due or when the app
wakes the processor.
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
    ) -> None:
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
        """Process every due entry; return how many were processed successfully."""
        done = 0
        while (entry := await self._inbox.claim()) is not None:
            if await self._handle(entry):
                done += 1
        return done

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
