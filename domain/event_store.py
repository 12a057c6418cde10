"""The event store port: an append-only log of commits, tailed by global position.

Adapters (in-memory for unit tests, MongoDB for everything else) must pass the one contract
suite in ``tests/contract``. Semantics every adapter guarantees:

* ``append`` records all events of one call atomically (one commit) or none of them.
* Stream versions start at 1 and are contiguous per stream; global positions start at 1
  and are contiguous across the store, in commit order.
* A reader that asks for everything after position ``p`` never misses a commit that is
  recorded later: a commit is only ever given the position right after the last one that
  was visible when it was written (see the Mongo adapter for how that is enforced).
* Events are never updated or deleted: there is no method for either.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

from domain.errors import ConcurrencyError
from domain.events import NewEvent, RecordedEvent, StreamRef


class ExpectedVersion(Enum):
    """Special expected versions; an exact expectation is a plain ``int`` (0 = empty stream)."""

    ANY = "any"
    NO_STREAM = "no_stream"


Expected = ExpectedVersion | int


@dataclass(frozen=True, slots=True)
class AppendResult:
    stream: StreamRef
    commit_id: str
    first_version: int
    last_version: int
    first_position: int
    last_position: int
    duplicate: bool = False
    """True when the idempotency key had been used before: nothing new was stored, and the
    positions are those of the first append with that key."""


@dataclass(frozen=True, slots=True)
class AppendRequest:
    """One commit of a batch append: the same arguments as ``append``."""

    stream: StreamRef
    events: Sequence[NewEvent]
    expected_version: Expected = ExpectedVersion.ANY
    idempotency_key: str | None = None


AppendOutcome = AppendResult | ConcurrencyError


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Filters for exploring the log; every given field must match (AND)."""

    stream_type: str | None = None
    stream_id: str | None = None
    types: Sequence[str] | None = None
    time_from: datetime | None = None
    time_to: datetime | None = None


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[RecordedEvent]
    next_after: int | None
    """Pass as ``after_position`` to get the next page; None when this page is the last."""


class EventStore(Protocol):
    async def append(
        self,
        stream: StreamRef,
        events: Sequence[NewEvent],
        expected_version: Expected = ExpectedVersion.ANY,
        *,
        idempotency_key: str | None = None,
    ) -> AppendResult: ...

    async def append_batch(self, requests: Sequence[AppendRequest]) -> list[AppendOutcome]:
        """Many commits in one round trip where possible (bulk ingestion). Each request is
        atomic on its own and gets the outcome in its slot: an AppendResult, or the
        ConcurrencyError that refused it (the other requests are still recorded). Commits
        are positioned in request order."""
        ...

    async def read_stream(
        self, stream: StreamRef, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]: ...

    async def stream_version(self, stream: StreamRef) -> int:
        """The stream's last version, 0 when it has no events."""
        ...

    async def read_after(self, position: int, limit: int = 1000) -> list[RecordedEvent]:
        """Up to ``limit`` events (whole commits, so possibly a few more) after ``position``,
        in position order, with no gaps."""
        ...

    def read_all(
        self, after: int = 0, batch_size: int = 1000
    ) -> AsyncIterator[list[RecordedEvent]]:
        """Batches of everything after ``after`` up to the head seen while reading."""
        ...

    def recently_appended(self, position: int, limit: int) -> list[RecordedEvent] | None:
        """What this store object itself appended right after ``position``, exactly as
        ``read_after(position, limit)`` would return it, without asking the store (whole
        commits, up to about ``limit`` events); None when it does not hold the event at
        ``position + 1``. Only a beginning: other writers may have appended after these."""
        ...

    async def head_position(self) -> int:
        """The last recorded global position, 0 for an empty store."""
        ...

    async def query(
        self, query: EventQuery, after_position: int = 0, limit: int = 100
    ) -> EventPage: ...
