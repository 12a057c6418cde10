"""Drains the webhook inbox: re-reads the named records from Odoo and ingests them, in
batches.

Why batches: each delivery alone cost ~10 store round trips (claim, the won stages, the
snapshot lookup, the append, the snapshot write, done; 13 for a changed record), and on the
embedded store every command costs store CPU whatever it carries, so a burst was drained at
~16/s with the store busy. A batch of up to ``batch_size`` due deliveries is claimed in
three commands, read from Odoo with one ``read`` per model, ingested with one lookup, one
append and one snapshot write per model, and marked done with one bulk write: about the
round trips of one delivery.

If Odoo is unreachable the model's deliveries go back to the inbox with a growing delay
(capped), so nothing accepted is ever dropped; the next attempt happens when it is due or
when the app wakes the drainer. A delivery is marked done only with the result of its own
record's ingestion.

Measured (a backlog of 3,000 deliveries naming 1,500 changed deals twice each, the built-in
Odoo, the embedded store): one at a time, 8.5 store commands and 19 ms of store CPU per
delivery, 48/s; in batches of 64, 0.13 commands and 0.8 ms, ~950/s. Batches of 128 drained
~30% faster still, but each batch takes twice as long and a failed ingestion re-reads twice
as many records one at a time; 64 is already several times the rate the server accepts
webhooks at.

Up to ``concurrency`` batches are in flight at once (each mostly waits on Odoo and the
store; 2 drained ~30% faster than 1, 4 no faster than 2). Order does not matter (each
delivery re-reads the record's current state) and the same record in two batches at once is
safe: ingestion appends with an expected version, and the loser re-evaluates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from domain.odoo_gateway import OdooError
from domain.sync import describe_failure
from domain.tasks import stop_task
from domain.webhooks import ProcessWebhook, WebhookOutcome, WebhookProcessor
from infrastructure.webhooks.inbox import InboxEntry, WebhookInbox

log = logging.getLogger("pulse.webhooks")
DEFAULT_CONCURRENCY = 2
DEFAULT_BATCH_SIZE = 64


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
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._concurrency = concurrency
        self._batch_size = batch_size
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
            await stop_task(self._task)
            self._task = None

    async def drain_once(self) -> int:
        """Process every due entry, in batches of up to ``batch_size``, up to
        ``concurrency`` batches at a time; return how many entries were processed
        successfully. Cancelled, the entries in flight stay claimed until their lease runs
        out, then are claimed again."""
        done = 0
        running: set[asyncio.Task[int]] = set()
        try:
            while True:
                while len(running) < self._concurrency:
                    entries = await self._inbox.claim_batch(self._batch_size)
                    if entries:
                        running.add(asyncio.create_task(self._handle(entries)))
                    if len(entries) < self._batch_size:
                        break  # nothing more due now: look again once a batch is done
                if not running:
                    return done
                finished, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                done += sum(task.result() for task in finished)
        except asyncio.CancelledError:
            for task in running:  # stopping: their entries are claimed again later
                task.cancel()
            raise
        finally:
            # A claim that failed (the store is down) lets the batches in flight finish.
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def _handle(self, entries: list[InboxEntry]) -> int:
        """Process one claimed batch and record every entry's outcome; return how many
        succeeded."""
        commands = [ProcessWebhook(e.id, e.model, e.odoo_id) for e in entries]
        outcomes: dict[str, WebhookOutcome]
        try:
            outcomes = await self._process.process_batch(commands)
        except Exception as err:  # keep the entries: never lose an accepted delivery
            log.exception("webhook batch of %d failed", len(entries))
            outcomes = dict.fromkeys((e.id for e in entries), err)
        results: dict[str, dict[str, object]] = {}
        failures: list[tuple[InboxEntry, str, float]] = []
        unreachable: dict[str, list[str]] = {}
        for entry in entries:
            outcome = outcomes.get(entry.id)
            if outcome is None:  # a processor bug: never mark done what was not ingested
                outcome = RuntimeError(f"no outcome for delivery {entry.id}")
            if isinstance(outcome, Exception):
                delay = retry_delay(entry.attempts, self._retry_base)
                message = describe_failure(outcome)
                if isinstance(outcome, OdooError | ConnectionError | TimeoutError):
                    unreachable.setdefault(message, []).append(entry.id)
                else:
                    log.error(
                        "webhook %s failed; retrying in %.0fs", entry.id, delay, exc_info=outcome
                    )
                failures.append((entry, message, delay))
                continue
            results[entry.id] = {**outcome.as_dict(), "lastPosition": outcome.last_position}
        for message, ids in unreachable.items():  # one line per cause, not per delivery
            log.warning(
                "webhooks %s%s: %s; retrying later",
                ", ".join(ids[:5]),
                f" and {len(ids) - 5} more" if len(ids) > 5 else "",
                message,
            )
        await self._inbox.retry_many(failures)
        await self._inbox.done_many(results)
        return len(results)

    async def _run(self) -> None:
        while True:
            # Cleared before draining: a delivery accepted after the drain's last claim
            # wakes the next round at once instead of waiting for the poll.
            self._wake.clear()
            try:
                await self.drain_once()
            except Exception:
                log.exception("webhook inbox drain failed; will retry")
            # asyncio.timeout, not wait_for: Python 3.11's wait_for drops a cancellation that
            # arrives as the wake-up completes, and the processor then would not stop.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll):
                    await self._wake.wait()
