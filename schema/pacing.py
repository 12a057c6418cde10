"""Pacing of a subscription's pushes: how soon after one push the next may be rendered.

A push's cost grows with the dashboard: a rep's is a few milliseconds, a CEO's or an
admin's (a row per user) a hundred or more, and every deal change anywhere notifies the
CEO and the admins. Under a burst (the load run: 200 webhooks a second), re-rendering such
a dashboard after each notification kept the event loop busy with a few subscriptions while
webhooks, other pushes and queries waited. PRODUCT.md allows coalescing bursts, so after a
push the next one waits until ``factor`` times that push's cost has passed (at least
``min_gap``, at most ``max_gap``), and everything announced meanwhile is answered by one
re-read. A subscription then spends at most about ``1 / factor`` of the time rendering.

The cost is measured as the wall time from handing a value over until the generator is
resumed (Strawberry executes the selection and sends the message in between), so it also
grows when the whole process is busy: the gaps widen under load, which is the point.
The first change after a quiet spell is never delayed.

``factor`` was 10 while a CEO's or an admin's push cost ~150 ms of CPU. Since team rows are
stored as one text with the salesperson in them and plain selections skip graphql-core's
per-field machinery, such a push costs ~15 ms, and the wall time the gap is computed from
is mostly waiting on the busy process: at 1,000 subscribers and 2 webhooks a second, a
factor of 10 kept those dashboards seconds behind (webhook -> push p99 1,677 ms, one run;
3: 1,009 ms, the next). 3 still bounds a subscription to about a quarter of the time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

MIN_GAP = 0.05  # seconds: at most 20 pushes a second even for a cheap dashboard
MAX_GAP = 2.0  # seconds: a busy dashboard is still refreshed at least this often
COST_FACTOR = 3.0


class PushPacer:
    def __init__(
        self,
        *,
        min_gap: float = MIN_GAP,
        max_gap: float = MAX_GAP,
        factor: float = COST_FACTOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= min_gap <= max_gap or factor < 0:
            raise ValueError("need 0 <= min_gap <= max_gap and factor >= 0")
        self._min_gap = min_gap
        self._max_gap = max_gap
        self._factor = factor
        self._clock = clock
        self._last_push_end: float | None = None
        self._last_cost = 0.0

    @property
    def gap(self) -> float:
        """The wait after the last push ended before the next may start."""
        return min(self._max_gap, max(self._min_gap, self._factor * self._last_cost))

    def delay(self) -> float:
        """How long to wait now before rendering again (0 after a quiet spell)."""
        if self._last_push_end is None:
            return 0.0
        return max(0.0, self._last_push_end + self.gap - self._clock())

    async def wait_turn(self) -> None:
        delay = self.delay()
        if delay > 0:
            await asyncio.sleep(delay)

    @contextmanager
    def pushing(self) -> Iterator[None]:
        """Around a ``yield`` of a subscription generator: measures the push's cost."""
        started = self._clock()
        try:
            yield
        finally:
            ended = self._clock()
            self._last_cost = ended - started
            self._last_push_end = ended
