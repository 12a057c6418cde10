"""PushPacer: the first push after a quiet spell is immediate; after a push the next waits
``factor`` times its cost, clamped to [min_gap, max_gap]."""

from __future__ import annotations

import pytest

from schema.pacing import PushPacer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def pushed(pacer: PushPacer, clock: Clock, cost: float) -> None:
    with pacer.pushing():
        clock.now += cost


def test_nothing_waits_before_the_first_push_or_after_a_quiet_spell() -> None:
    clock = Clock()
    pacer = PushPacer(min_gap=0.05, max_gap=2.0, factor=10, clock=clock)
    assert pacer.delay() == 0.0
    pushed(pacer, clock, 0.01)
    clock.now += 5.0
    assert pacer.delay() == 0.0


@pytest.mark.parametrize(
    ("cost", "gap"),
    [(0.001, 0.05), (0.02, 0.2), (0.1, 1.0), (0.5, 2.0)],  # clamped below, scaled, above
)
def test_the_gap_after_a_push_scales_with_its_cost(cost: float, gap: float) -> None:
    clock = Clock()
    pacer = PushPacer(min_gap=0.05, max_gap=2.0, factor=10, clock=clock)
    pushed(pacer, clock, cost)
    assert pacer.gap == pytest.approx(gap)
    assert pacer.delay() == pytest.approx(gap)
    clock.now += gap / 2
    assert pacer.delay() == pytest.approx(gap / 2)


def test_the_cost_is_measured_even_when_the_push_is_abandoned() -> None:
    clock = Clock()
    pacer = PushPacer(min_gap=0.0, max_gap=10.0, factor=2, clock=clock)

    def abandoned() -> None:
        with pacer.pushing():
            clock.now += 0.3
            raise GeneratorExit  # a client gone while its push was being rendered

    with pytest.raises(GeneratorExit):
        abandoned()
    assert pacer.gap == pytest.approx(0.6)


async def test_wait_turn_sleeps_the_remaining_gap() -> None:
    pacer = PushPacer(min_gap=0.05, max_gap=0.05, factor=0)
    with pacer.pushing():
        pass
    await pacer.wait_turn()
    assert pacer.delay() == 0.0


@pytest.mark.parametrize(("low", "high", "factor"), [(-1, 1, 1), (2, 1, 1), (0, 1, -1)])
def test_nonsense_settings_are_refused(low: float, high: float, factor: float) -> None:
    with pytest.raises(ValueError):
        PushPacer(min_gap=low, max_gap=high, factor=factor)
