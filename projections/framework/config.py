"""Tunables of the runner and the rebuild, the publisher callback, and the shared services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from domain.event_store import EventStore
from projections.framework.checkpoints import Checkpoints
from projections.framework.leases import Leases
from projections.framework.projection import Notification
from projections.framework.tail import TailReader

Publish = Callable[[Sequence[Notification]], Awaitable[None]]
"""Hands committed notifications to the broadcaster. Failures are logged, never retried:
the read model is already committed, and a (re)subscribing client is sent current state."""


async def publish_nothing(notifications: Sequence[Notification]) -> None:
    return None


@dataclass(frozen=True, slots=True)
class RunnerConfig:
    batch_size: int = 500
    """Events read per live batch (one flush and one checkpoint write per batch)."""
    poll_interval: float = 1.0
    """Each worker's idle wake-up (generation checks; a fallback for new events)."""
    tail_poll_interval: float = 0.1
    """How often ONE query per runner (``head_position``) looks for appends made by other
    processes (``pulse sync``, an API-only replica taking webhooks) and wakes the workers
    that are behind. This process's appends wake them at once through ``notify()``. One
    cheap query per interval whatever the number of projections; 0 disables it."""
    idle_checkpoint_delay: float = 0.25
    """A LIVE projection that handles none of a batch's events (the org projections, for a
    deal's change) does not write its checkpoint at once: that write, one per projection
    and change, queued on the store in front of the writes of the projections that did
    have work (bench: "one opportunity change -> dashboard"). Its position is kept in
    memory (``wait_until`` and ``status`` in this process see it) and written once nothing
    has arrived for this long, or with its next real batch."""
    idle_checkpoint_max_age: float = 2.0
    """...and at the latest this long after the first batch it skipped, however busy the
    log, so that other processes see the projection's position move on."""
    records_later: bool = True
    """A LIVE batch lets each projection keep for later the state that only its own load
    reads (the ``<name>_refs`` records): one write fewer per projection and change, in
    front of the next change's. Written with the checkpoint that the idle delays above
    leave for later (once quiet, at the latest after ``idle_checkpoint_max_age``); the
    checkpoint records how far they are stored (``records_position``), and a restart or
    a reload folds the events since then again, as a replay after a crash does."""
    records_later_max: int = 16
    """...and with the batch's own writes once this many documents would wait. Changes without a
    quiet moment between them (a steady stream, the bench's loop) would otherwise pile up
    until the max age and be written in one go: ~80 buckets, 450 KB, and the change that
    wrote them took 45-55 ms instead of ~15 at 100,000 opportunities."""
    retries: int = 5
    """Retries of a failing event before its projection pauses."""
    backoff_initial: float = 0.5
    backoff_factor: float = 2.0
    backoff_max: float = 30.0
    lease_seconds: float = 15.0
    """How long a crashed process keeps its projections; renewed every third of it."""
    rebuild_batch_size: int = 5000
    rebuild_flush_every: int = 100_000
    """Events folded in memory between two bulk writes (and progress records) of a rebuild.
    Every flush rewrites each document the events since the last one touched: a dashboard
    above busy salespeople is touched in nearly every stretch of the log, so at 1,000,000
    events every 20,000 meant 32,899 dashboard writes (60 MB) for 1,000 dashboards. What a
    crash costs is the fold since the last flush (~10-15 s here at 100,000); what is kept
    in memory does not change (the tables hold every document anyway)."""
    resume_rebuilds: bool = True
    """``start()`` resumes rebuilds that a crash or shutdown interrupted."""
    drop_grace: float = 2.0
    """Seconds between a switch and dropping the old generation; keep it above the readers'
    generation cache TTL so that no reader is left on a dropped collection."""

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1, 2, ...): exponential, capped."""
        exponent = max(attempt - 1, 0)
        return float(min(self.backoff_max, self.backoff_initial * self.backoff_factor**exponent))


@dataclass(frozen=True, slots=True)
class Services:
    """What workers and rebuilds share within one runner."""

    db: AsyncDatabase[Any]
    store: EventStore
    checkpoints: Checkpoints
    leases: Leases
    publish: Publish
    config: RunnerConfig
    tail: TailReader
    """The live workers' ``read_after``, coalesced across the runner's workers."""
