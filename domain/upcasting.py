"""Upcasting: old schema versions of stored events are upgraded on read.

Each upcaster lifts one event type from version ``n`` to ``n + 1``; reading chains them.
The registry is validated at start-up so that a missing link fails loudly before any event
is read, instead of surfacing mid-projection.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from domain.errors import UnknownEventVersionError, UpcastChainError

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UpcasterRegistry:
    def __init__(self, current_versions: Mapping[str, int] | None = None) -> None:
        self._current: dict[str, int] = dict(current_versions or {})
        self._steps: dict[tuple[str, int], Upcaster] = {}

    def register(self, event_type: str, from_version: int, upcaster: Upcaster) -> None:
        key = (event_type, from_version)
        if key in self._steps:
            raise UpcastChainError(f"two upcasters for {event_type} v{from_version}")
        self._steps[key] = upcaster

    def set_current(self, event_type: str, version: int) -> None:
        self._current[event_type] = version

    def current_version(self, event_type: str) -> int:
        return self._current.get(event_type, 1)

    def validate(self) -> None:
        """Raise UpcastChainError if any type cannot be lifted from v1 to its current version."""
        problems: list[str] = []
        for event_type, current in sorted(self._current.items()):
            missing = [v for v in range(1, current) if (event_type, v) not in self._steps]
            if missing:
                gaps = ", ".join(f"v{v}->v{v + 1}" for v in missing)
                problems.append(f"{event_type}: no upcaster for {gaps}")
        for event_type, version in sorted(self._steps):
            if version >= self.current_version(event_type):
                problems.append(
                    f"{event_type}: upcaster from v{version} but current version is "
                    f"v{self.current_version(event_type)}"
                )
        if problems:
            raise UpcastChainError("; ".join(problems))

    def upcast(
        self, event_type: str, version: int, data: Mapping[str, Any]
    ) -> tuple[int, Mapping[str, Any]]:
        current = self.current_version(event_type)
        if version == current:
            return version, data
        if version > current:
            raise UnknownEventVersionError(
                f"{event_type} v{version} is newer than this code (v{current})"
            )
        lifted = dict(data)
        while version < current:
            step = self._steps.get((event_type, version))
            if step is None:
                raise UpcastChainError(f"{event_type}: no upcaster for v{version}")
            lifted = step(lifted)
            version += 1
        return version, lifted
