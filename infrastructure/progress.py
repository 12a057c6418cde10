"""A dependency-free progress bar for the CLI (sync, rebuild).

On a terminal it redraws one line; otherwise (CI logs, pipes) it prints a line at most every
few seconds and when a phase ends, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressBar:
    def __init__(self, stream: TextIO | None = None, width: int = 30, interval: float = 2.0):
        self._out = stream or sys.stderr
        self._tty = self._out.isatty()
        self._width = width
        self._interval = interval
        self._label: str | None = None
        self._started = time.monotonic()
        self._phase_end = self._started
        self._last_print = 0.0

    def update(self, label: str, done: int, total: int | None, extra: str = "") -> None:
        now = time.monotonic()
        if label != self._label:
            if self._label is not None and self._tty:
                self._out.write("\n")
            # The phase began when the previous one ended (or when the bar was made), not
            # at its first report, which only comes after its first page of work.
            self._label, self._started, self._last_print = label, self._phase_end, 0.0
        self._phase_end = now
        finished = total is not None and done >= total
        if not self._tty and not finished and now - self._last_print < self._interval:
            return
        self._last_print = now
        elapsed = max(now - self._started, 1e-9)
        rate = done / elapsed
        if total:
            frac = min(done / total, 1.0)
            filled = int(frac * self._width)
            bar = "#" * filled + "-" * (self._width - filled)
            eta = (total - done) / rate if rate > 0 else 0.0
            line = f"{label:<18} [{bar}] {done:>9,}/{total:,} {rate:>9,.0f}/s ETA {eta:5.0f}s"
        else:
            line = f"{label:<18} {done:>9,} {rate:>9,.0f}/s"
        if extra:
            line += f" {extra}"
        if self._tty:
            self._out.write("\r" + line)
        else:
            self._out.write(line + "\n")
        self._out.flush()

    def close(self) -> None:
        if self._tty and self._label is not None:
            self._out.write("\n")
            self._out.flush()
