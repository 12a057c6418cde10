"""Exponential backoff with full jitter for transient Odoo failures.

Full jitter (a uniform delay between 0 and the exponential cap) spreads the retries of many
workers that failed at the same moment, instead of having them hammer a recovering Odoo in
lockstep (see AWS's "Exponential Backoff And Jitter").
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_retries`` retries after the first attempt (so at most ``max_retries + 1`` calls)."""

    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 30.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("backoff must be >= 0")

    def delay(self, retry: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``retry`` (0-based)."""
        cap = min(self.backoff_max, self.backoff_base * (2**retry))
        return (rng or random).uniform(0.0, cap)
