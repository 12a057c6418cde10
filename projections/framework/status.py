"""Projection status, as the ``projections`` admin query shows it.

Built from the stored checkpoints (so any process, e.g. an API replica that runs no
projections, can answer) plus the rebuild leases (a rebuild record whose lease has expired
is a crashed rebuild, not a running one).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from domain.event_store import EventStore
from projections.framework.checkpoints import Checkpoint, Checkpoints, ProjectionState
from projections.framework.leases import LEASE_COLLECTION, rebuild_key


@dataclass(frozen=True, slots=True)
class ProjectionStatus:
    name: str
    state: ProjectionState
    position: int
    head_position: int
    lag: int
    events_per_second: float | None
    progress: float | None
    """0-1 while rebuilding (shadow position / head) or catching up (position / head)."""
    last_error: str | None
    updated_at: datetime


class RateMeter:
    """Events per second over a sliding window.

    The window's count is kept as a running total: a worker asks for the rate at every
    checkpoint, and summing the window each time (a sample per batch, ~1,000 of them in 10 s
    of single-change batches) was a tenth of the live path's CPU per change."""

    def __init__(self, window: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self._window = window
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self._total = 0  # sum of the counts in _samples

    def add(self, count: int) -> None:
        self._samples.append((self._clock(), count))
        self._total += count

    def rate(self) -> float:
        now = self._clock()
        while self._samples and self._samples[0][0] < now - self._window:
            self._total -= self._samples.popleft()[1]
        if not self._samples:
            return 0.0
        span = max(now - self._samples[0][0], 1.0)
        return self._total / span


def build_status(checkpoint: Checkpoint, head: int, rebuilding: bool) -> ProjectionStatus:
    lag = max(head - checkpoint.position, 0)
    state = checkpoint.state
    progress: float | None = None
    eps: float | None = checkpoint.events_per_second
    rebuild = checkpoint.rebuild
    error = checkpoint.error.describe() if checkpoint.error else None
    if rebuilding and rebuild is not None and state not in _STUCK:
        state = ProjectionState.REBUILDING
        progress = min(rebuild.position / max(rebuild.total, head, 1), 1.0)
        eps = rebuild.events_per_second
    elif state is ProjectionState.CATCHING_UP:
        progress = checkpoint.position / head if head else 1.0
    if rebuild is not None and rebuild.error and error is None:
        error = f"rebuild: {rebuild.error}"
    return ProjectionStatus(
        name=checkpoint.name,
        state=state,
        position=checkpoint.position,
        head_position=head,
        lag=lag,
        events_per_second=eps,
        progress=progress,
        last_error=error,
        updated_at=checkpoint.updated_at,
    )


# A paused or failed live projection shows that state even while a rebuild runs: it is what
# an operator must act on.
_STUCK = frozenset({ProjectionState.PAUSED, ProjectionState.FAILED})


async def read_statuses(
    db: AsyncDatabase[Any],
    store: EventStore,
    names: Iterable[str],
    local_rates: Mapping[str, float] | None = None,
    local_positions: Mapping[str, tuple[int, int]] | None = None,
) -> list[ProjectionStatus]:
    """Statuses of ``names`` (in that order); a projection never started shows position 0.

    ``local_positions``: (generation, position) of the workers serving in this process. A
    worker may be ahead of its stored checkpoint by batches it had nothing to do for
    (``RunnerConfig.idle_checkpoint_delay``); the status shows where it really is."""
    checkpoints = await Checkpoints(db).all()
    head = await store.head_position()
    now = time.time()
    rebuilding = {doc["_id"] async for doc in db[LEASE_COLLECTION].find({"expires": {"$gte": now}})}
    statuses: list[ProjectionStatus] = []
    for name in names:
        checkpoint = checkpoints.get(name) or Checkpoint.from_doc({"_id": name})
        generation, position = (local_positions or {}).get(name, (0, 0))
        if generation == checkpoint.generation and position > checkpoint.position:
            checkpoint = replace(checkpoint, position=position)
        status = build_status(checkpoint, head, rebuild_key(name) in rebuilding)
        rate = (local_rates or {}).get(name)
        if rate is not None and status.state is not ProjectionState.REBUILDING:
            status = replace(status, events_per_second=rate)
        statuses.append(status)
    return statuses
