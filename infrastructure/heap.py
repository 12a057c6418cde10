"""Keeping the cyclic garbage collector's full passes short in long-running processes.

A process that serves projections holds their state: every user's dashboard state, the org
chart, the per-salesperson tables (~250,000 objects at 1,000 users and 20,000 deals); a
server with 1,000 dashboard subscribers holds their connections and operations too (~110 MB).
Python's generational collector walks every tracked object on each full (generation 2) pass,
and under load such a pass came every few seconds with nothing else running meanwhile
(measured with a ``gc.callbacks`` probe on ``pulse serve``): 120-176 ms over the projections'
state, which made the only requests above ~40 ms; 350-390 ms once 1,000 subscribers were
connected, which made the tail of webhook -> push (a push caught by such a pass is paced by
what it cost, ``schema/pacing.py``).

``gc.freeze()`` moves every object alive at that moment into the permanent generation, which
the collector no longer walks (full passes then took 2-3 ms). ``HeapSettler`` freezes:

* when the process reaches its steady state (``settle``, from
  ``ProjectionRunner(on_settled=...)``: every projection it serves has loaded and turned
  LIVE, at start-up and after a rebuild's switch): one collection, then freeze;
* after any full pass that took ``slow_pass`` or more (what grew since, subscribers say):
  that pass has just collected the garbage, so what is left is alive and is frozen as is.

Frozen objects are still freed by reference counting, but one that later becomes part of a
garbage cycle (a subscription's objects once it ends) would never be reclaimed. So every
``refresh`` seconds the next slow full pass unfreezes everything instead: the pass after it
walks the whole heap once, reclaims those cycles, and is itself slow, so it freezes again.
What can accumulate is bounded by ``refresh`` seconds of such garbage, at the price of one
whole-heap pass per ``refresh``.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("pulse.heap")

SLOW_PASS = 0.05  # seconds: a full pass this long has enough new objects to freeze
REFRESH = 600.0  # seconds between unfreezes that let frozen garbage cycles be reclaimed


class HeapSettler:
    def __init__(
        self,
        *,
        slow_pass: float = SLOW_PASS,
        refresh: float = REFRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slow_pass = slow_pass
        self._refresh = refresh
        self._clock = clock
        self._refreshed = clock()
        self._pass_started: float | None = None
        self._settling = False
        self.freezes = 0  # after slow passes
        self.unfreezes = 0  # refreshes

    def install(self) -> None:
        """Watch the collector's full passes (idempotent)."""
        if self._observe not in gc.callbacks:
            gc.callbacks.append(self._observe)

    def uninstall(self) -> None:
        if self._observe in gc.callbacks:
            gc.callbacks.remove(self._observe)

    def settle(self) -> None:
        """Collect everything (frozen objects included), then freeze what is alive."""
        started = time.perf_counter()
        self._settling = True
        try:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
        finally:
            self._settling = False
        self._refreshed = self._clock()
        log.info(
            "heap settled: %d objects outside the collector's full passes (%.0f ms)",
            gc.get_freeze_count(),
            (time.perf_counter() - started) * 1000,
        )

    def _observe(self, phase: str, info: dict[str, Any]) -> None:
        # Runs inside the collector: no logging, no allocation-heavy work, never raise.
        if info.get("generation") != 2 or self._settling:
            return
        if phase == "start":
            self._pass_started = time.perf_counter()
            return
        if self._pass_started is None:
            return
        took = time.perf_counter() - self._pass_started
        self._pass_started = None
        if took < self._slow_pass:
            return
        if self._clock() - self._refreshed >= self._refresh:
            gc.unfreeze()  # the next full pass reclaims cycles among what was frozen
            self._refreshed = self._clock()
            self.unfreezes += 1
        else:
            gc.freeze()
            self.freezes += 1


HEAP = HeapSettler()


def watch_heap() -> None:
    """For a one-shot command that builds a large state as it goes (``pulse rebuild``):
    freeze after slow full passes from now on, without a settle. Each full pass then walks
    only what was built since the last one instead of the whole state so far. Rebuild of
    all four projections over 1,000,000 events: full passes 21.3 s of CPU (90 passes, the
    longest 1.2 s) -> 4.8 s, the process's CPU 66.7 -> 52.4 s (bench/LESSONS.md)."""
    HEAP.install()


def settle_heap() -> None:
    """For ``ProjectionRunner(on_settled=...)`` in a long-running process: settle now, and
    from then on freeze after slow full passes."""
    HEAP.install()
    HEAP.settle()
