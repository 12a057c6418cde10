"""``money``'s shortcut for floats that print with at most two decimals gives exactly what
the domain's rounding (``round_money(to_units(x))``) gives, for any float."""

from __future__ import annotations

import math

from hypothesis import example, given
from hypothesis import strategies as st

from domain.metrics import round_money, to_units
from schema.types.opportunities import money


def exact(value: float) -> float:
    return round_money(to_units(value))


@given(st.floats(allow_nan=False, allow_infinity=False))
@example(0.0)
@example(-0.0)
@example(250.555)
@example(1e16)
@example(-12.5)
@example(0.1 + 0.2)
@example(123456789012.34)
def test_the_shortcut_agrees_with_the_exact_rounding(value: float) -> None:
    got, want = money(value), exact(value)
    assert got == want and math.copysign(1, got) == math.copysign(1, want), (value, got, want)


@given(st.integers(-(10**12), 10**12), st.integers(0, 99))
def test_amounts_in_cents_come_back_unchanged(units: int, cents: int) -> None:
    value = float(f"{units}.{cents:02d}")
    assert money(value) == exact(value) == value
