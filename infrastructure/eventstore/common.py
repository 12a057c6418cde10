"""Pieces both adapters share: expected-version resolution and query matching."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from domain.errors import ConcurrencyError
from domain.event_store import EventQuery, Expected, ExpectedVersion
from domain.events import NewEvent, RecordedEvent, StreamRef


def validate_append(events: Sequence[NewEvent], expected: Expected) -> None:
    if not events:
        raise ValueError("append needs at least one event")
    if isinstance(expected, int) and not isinstance(expected, bool) and expected < 0:
        raise ValueError("an exact expected version is >= 0")


def check_expected(stream: StreamRef, expected: Expected, current: int) -> None:
    """Raise ConcurrencyError when the stream's current version contradicts the expectation."""
    if expected is ExpectedVersion.ANY:
        return
    if expected is ExpectedVersion.NO_STREAM:
        if current != 0:
            raise ConcurrencyError(stream.key, "no stream", current)
        return
    if current != expected:
        raise ConcurrencyError(stream.key, expected, current)


def matches(event: RecordedEvent, query: EventQuery) -> bool:
    if query.stream_type is not None and event.stream_type != query.stream_type:
        return False
    if query.stream_id is not None and event.stream_id != query.stream_id:
        return False
    if query.types is not None and event.type not in query.types:
        return False
    if query.time_from is not None and event.occurred_at < as_utc(query.time_from):
        return False
    return not (query.time_to is not None and event.occurred_at >= as_utc(query.time_to))


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
