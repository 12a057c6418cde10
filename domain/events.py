"""Event envelopes: what is appended (``NewEvent``) and what is read back (``RecordedEvent``).

Events are immutable facts. The store assigns the stream version, the global position and
the recorded-at time; everything else is chosen by the code that decides the event.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    # UUIDs are stored as strings: binary UUID subtypes are not portable across stores.
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class StreamRef:
    """Identifies one event stream: an aggregate type and its id (``opportunity`` / ``42``)."""

    type: str
    id: str

    def __post_init__(self) -> None:
        if not self.type or "/" in self.type:
            raise ValueError(f"invalid stream type {self.type!r}")
        if not self.id:
            raise ValueError("stream id must not be empty")

    @property
    def key(self) -> str:
        return f"{self.type}/{self.id}"

    @classmethod
    def parse(cls, key: str) -> StreamRef:
        stream_type, _, stream_id = key.partition("/")
        return cls(stream_type, stream_id)

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event as decided by a command handler, before the store records it."""

    type: str
    data: Mapping[str, Any]
    schema_version: int = 1
    id: str = field(default_factory=new_id)
    occurred_at: datetime = field(default_factory=utcnow)
    correlation_id: str | None = None
    causation_id: str | None = None
    source: str = "pulse"

    def __post_init__(self) -> None:
        if not self.type:
            raise ValueError("event type must not be empty")
        if self.schema_version < 1:
            raise ValueError("schema_version starts at 1")
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware (UTC)")


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An event as stored: positioned in its stream (``version``) and globally (``position``)."""

    id: str
    type: str
    schema_version: int
    stream_type: str
    stream_id: str
    version: int
    position: int
    occurred_at: datetime
    recorded_at: datetime
    correlation_id: str | None
    causation_id: str | None
    source: str
    data: Mapping[str, Any]

    @property
    def stream(self) -> StreamRef:
        return StreamRef(self.stream_type, self.stream_id)
