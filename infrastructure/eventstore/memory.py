"""In-memory event store: the fast fake for unit tests. Same contract as the Mongo adapter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace

from domain.errors import ConcurrencyError
from domain.event_store import (
    AppendOutcome,
    AppendRequest,
    AppendResult,
    EventPage,
    EventQuery,
    Expected,
    ExpectedVersion,
)
from domain.events import NewEvent, RecordedEvent, StreamRef, new_id, utcnow
from domain.upcasting import UpcasterRegistry
from infrastructure.eventstore.common import check_expected, matches, validate_append


@dataclass(frozen=True, slots=True)
class _Commit:
    result: AppendResult
    events: tuple[RecordedEvent, ...]


class InMemoryEventStore:
    def __init__(self, upcasters: UpcasterRegistry | None = None) -> None:
        self._upcasters = upcasters or UpcasterRegistry()
        self._events: list[RecordedEvent] = []
        self._streams: dict[str, list[RecordedEvent]] = {}
        self._idempotency: dict[str, AppendResult] = {}
        self._lock = asyncio.Lock()

    async def append(
        self,
        stream: StreamRef,
        events: Sequence[NewEvent],
        expected_version: Expected = ExpectedVersion.ANY,
        *,
        idempotency_key: str | None = None,
    ) -> AppendResult:
        validate_append(events, expected_version)
        async with self._lock:
            if idempotency_key is not None and idempotency_key in self._idempotency:
                return replace(self._idempotency[idempotency_key], duplicate=True)
            history = self._streams.setdefault(stream.key, [])
            check_expected(stream, expected_version, len(history))
            recorded_at = utcnow()
            first_version = len(history) + 1
            first_position = len(self._events) + 1
            batch = [
                RecordedEvent(
                    id=event.id,
                    type=event.type,
                    schema_version=event.schema_version,
                    stream_type=stream.type,
                    stream_id=stream.id,
                    version=first_version + i,
                    position=first_position + i,
                    occurred_at=event.occurred_at,
                    recorded_at=recorded_at,
                    correlation_id=event.correlation_id,
                    causation_id=event.causation_id,
                    source=event.source,
                    data=dict(event.data),
                )
                for i, event in enumerate(events)
            ]
            history.extend(batch)
            self._events.extend(batch)
            result = AppendResult(
                stream=stream,
                commit_id=new_id(),
                first_version=first_version,
                last_version=first_version + len(batch) - 1,
                first_position=first_position,
                last_position=first_position + len(batch) - 1,
            )
            if idempotency_key is not None:
                self._idempotency[idempotency_key] = result
            return result

    async def append_batch(self, requests: Sequence[AppendRequest]) -> list[AppendOutcome]:
        outcomes: list[AppendOutcome] = []
        for request in requests:
            try:
                outcomes.append(
                    await self.append(
                        request.stream,
                        request.events,
                        request.expected_version,
                        idempotency_key=request.idempotency_key,
                    )
                )
            except ConcurrencyError as err:
                outcomes.append(err)
        return outcomes

    def _upcast(self, event: RecordedEvent) -> RecordedEvent:
        version, data = self._upcasters.upcast(event.type, event.schema_version, event.data)
        if version == event.schema_version:
            return event
        return replace(event, schema_version=version, data=data)

    async def read_stream(
        self, stream: StreamRef, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        history = self._streams.get(stream.key, [])
        selected = history[max(from_version, 1) - 1 :]
        if limit is not None:
            selected = selected[:limit]
        return [self._upcast(e) for e in selected]

    async def stream_version(self, stream: StreamRef) -> int:
        return len(self._streams.get(stream.key, []))

    async def read_after(self, position: int, limit: int = 1000) -> list[RecordedEvent]:
        return [self._upcast(e) for e in self._events[max(position, 0) : position + limit]]

    def recently_appended(self, position: int, limit: int) -> list[RecordedEvent] | None:
        # Every event here was appended by this object, and none is ever evicted.
        if position < 0 or position >= len(self._events):
            return None
        return [self._upcast(e) for e in self._events[position : position + max(limit, 1)]]

    async def read_all(
        self, after: int = 0, batch_size: int = 1000
    ) -> AsyncIterator[list[RecordedEvent]]:
        position = after
        while True:
            batch = await self.read_after(position, batch_size)
            if not batch:
                return
            yield batch
            position = batch[-1].position

    async def head_position(self) -> int:
        return len(self._events)

    async def query(
        self, query: EventQuery, after_position: int = 0, limit: int = 100
    ) -> EventPage:
        found: list[RecordedEvent] = []
        for event in self._events[max(after_position, 0) :]:
            if matches(event, query):
                if len(found) == limit:
                    return EventPage(found, found[-1].position)
                found.append(self._upcast(event))
        return EventPage(found, None)
