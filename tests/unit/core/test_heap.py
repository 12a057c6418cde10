"""HeapSettler: freezes what survives a slow full pass of the collector, unfreezes every
``refresh`` seconds so that garbage cycles among frozen objects are reclaimed, and ``settle``
collects everything (frozen included) before freezing."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from infrastructure import heap
from infrastructure.heap import HeapSettler


class Node:
    def __init__(self) -> None:
        self.other: Any = None


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    yield
    gc.unfreeze()  # the test process keeps collecting as before


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def full_pass(settler: HeapSettler, seconds: float, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the collector reports around a full pass that took ``seconds``."""
    ticks = iter([100.0, 100.0 + seconds])
    monkeypatch.setattr(heap.time, "perf_counter", lambda: next(ticks))
    settler._observe("start", {"generation": 2})
    settler._observe("stop", {"generation": 2, "collected": 0, "uncollectable": 0})
    monkeypatch.undo()


def frozen(objects: list[Any]) -> bool:
    ids = {id(o) for o in objects}
    return not any(id(o) in ids for o in gc.get_objects())


def test_a_slow_full_pass_freezes_what_is_alive(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    settler = HeapSettler(slow_pass=0.05, refresh=600, clock=clock)
    alive = [[i] for i in range(100)]
    full_pass(settler, 0.01, monkeypatch)  # fast: nothing to do
    assert (settler.freezes, frozen(alive)) == (0, False)
    settler._observe("stop", {"generation": 1})  # younger generations are not watched
    full_pass(settler, 0.2, monkeypatch)
    assert (settler.freezes, frozen(alive)) == (1, True)


def test_every_refresh_a_slow_pass_unfreezes_instead(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    settler = HeapSettler(slow_pass=0.05, refresh=600, clock=clock)
    alive = [[i] for i in range(100)]
    full_pass(settler, 0.2, monkeypatch)
    assert frozen(alive)
    clock.now = 599.0
    full_pass(settler, 0.2, monkeypatch)
    assert (settler.freezes, settler.unfreezes) == (2, 0)
    clock.now = 601.0
    full_pass(settler, 0.2, monkeypatch)
    assert settler.unfreezes == 1 and not frozen(alive) and gc.get_freeze_count() == 0
    full_pass(settler, 0.2, monkeypatch)  # the whole-heap pass after it: frozen again
    assert settler.freezes == 3 and frozen(alive)


def test_settle_reclaims_frozen_garbage_cycles_then_freezes() -> None:
    settler = HeapSettler()
    a, b = Node(), Node()
    a.other, b.other = b, a
    gone = weakref.ref(a)
    gc.freeze()
    del a, b  # a cycle: only the collector frees it, and frozen it never would
    gc.collect()
    assert gone() is not None
    alive = [[i] for i in range(100)]
    settler.settle()
    assert gone() is None and frozen(alive)


def test_installed_it_watches_the_real_collector() -> None:
    settler = HeapSettler(slow_pass=0.0)  # every full pass counts as slow
    settler.install()
    settler.install()
    try:
        assert gc.callbacks.count(settler._observe) == 1
        alive = [[i] for i in range(100)]
        gc.collect()
        assert settler.freezes == 1 and frozen(alive)
    finally:
        settler.uninstall()
    assert settler._observe not in gc.callbacks


def test_settle_heap_settles_and_starts_watching() -> None:
    alive = [[i] for i in range(100)]
    try:
        heap.settle_heap()
        assert heap.HEAP._observe in gc.callbacks and frozen(alive)
    finally:
        heap.HEAP.uninstall()


def test_watch_heap_freezes_after_slow_passes_without_settling_now() -> None:
    """``pulse rebuild``: from now on, not a collection at once (unlike ``settle_heap``)."""
    heap.HEAP.uninstall()
    before = gc.get_freeze_count()
    try:
        heap.watch_heap()
        assert heap.HEAP._observe in gc.callbacks
        assert gc.get_freeze_count() == before
        heap.watch_heap()  # idempotent
        assert gc.callbacks.count(heap.HEAP._observe) == 1
    finally:
        heap.HEAP.uninstall()
