"""Keeping the cyclic garbage collector's full passes short in long-running processes.

A process that serves projections holds their state: every user's dashboard state, the org
chart, the per-salesperson tables (~250,000 objects at 1,000 users and 20,000 deals). Python's
generational collector walks every tracked object on each full (generation 2) pass, and
under request load such a pass came every few seconds: measured on `pulse serve` over that
store (a `gc.callbacks` probe), 120-176 ms each, during which nothing else ran; they were the
only requests above ~40 ms (one in every ~300 on a manager's `opportunities` page, five in
300 dashboards of a VP of 500).

``settle_heap`` runs one full collection, then ``gc.freeze()``: what is alive at that moment
moves to the permanent generation, which the collector no longer walks. Full passes over the
rest then took 2-3 ms. It runs when the process reaches its steady state
(``ProjectionRunner(on_settled=...)``: every projection it serves has loaded and turned LIVE),
which happens at start-up and again after a rebuild's switch or a reload, not per request.

The cost: a frozen object that later becomes part of a reference cycle of garbage is never
reclaimed (acyclic garbage still is, by reference counting). What can leak is bounded by what
was alive at a settle, once per settle, and settles are rare.
"""

from __future__ import annotations

import gc
import logging
import time

log = logging.getLogger("pulse.heap")


def settle_heap() -> None:
    started = time.perf_counter()
    gc.collect()
    gc.freeze()
    log.info(
        "heap settled: %d objects outside the collector's full passes (%.0f ms)",
        gc.get_freeze_count(),
        (time.perf_counter() - started) * 1000,
    )
