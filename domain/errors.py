"""Domain-level errors, raised by ports and handlers and mapped to user-facing codes at the edge."""

from __future__ import annotations


class PulseError(Exception):
    """Base of every error Pulse raises on purpose."""


class ConcurrencyError(PulseError):
    """An append's expected version did not match the stream (optimistic concurrency)."""

    def __init__(self, stream: str, expected: object, actual: int | None = None) -> None:
        detail = f" (stream is at version {actual})" if actual is not None else ""
        super().__init__(f"stream {stream!r}: expected version {expected}{detail}")
        self.stream = stream
        self.expected = expected
        self.actual = actual


class UpcastChainError(PulseError):
    """The upcaster registry has a gap: an old schema version cannot reach the current one."""


class UnknownEventVersionError(PulseError):
    """A stored event carries a schema version newer than this code knows."""
