"""The database clock of the built-in Odoo.

Odoo stamps ``write_date`` with the start time of the writing transaction, with microseconds
in the database, and shows it truncated to the second. Tests need to control that clock:
freeze it, move it, and write rows "in the past" to imitate a long transaction that commits
after a cursor already passed its start time.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


def utc_naive(value: datetime) -> datetime:
    """Naive UTC, as Odoo stores datetimes."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


class OdooClock:
    """Real time (plus an offset) until frozen; frozen time moves only when told to."""

    def __init__(self, frozen_at: datetime | str | None = None) -> None:
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._frozen: datetime | None = None
        if frozen_at is not None:
            self.freeze(frozen_at)

    def now(self) -> datetime:
        """Naive UTC with microseconds (what the database stores)."""
        with self._lock:
            if self._frozen is not None:
                return self._frozen
            return datetime.now(UTC).replace(tzinfo=None) + self._offset

    def now_str(self) -> str:
        return self.now().strftime("%Y-%m-%d %H:%M:%S")

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def freeze(self, at: datetime | str | None = None) -> None:
        """Stop the clock at ``at`` (default: the current time)."""
        moment = self.now() if at is None else _parse(at)
        with self._lock:
            self._frozen = moment

    set = freeze

    def advance(self, seconds: float = 1.0) -> None:
        with self._lock:
            step = timedelta(seconds=seconds)
            if self._frozen is not None:
                self._frozen += step
            else:
                self._offset += step

    def unfreeze(self) -> None:
        with self._lock:
            self._frozen = None


def _parse(value: datetime | str) -> datetime:
    if isinstance(value, datetime):
        return utc_naive(value)
    return utc_naive(datetime.fromisoformat(value.replace("Z", "+00:00")))
