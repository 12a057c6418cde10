"""The MongoDB event store's commit documents, read and written for backup and restore.

Export reads the commit documents themselves rather than ``EventStore.read_all``: a backup
needs what the port does not expose (the commit id, its idempotency key) and the events
exactly as stored, before upcasting. The document shape is the one
``infrastructure/eventstore/mongo.py`` writes; ``tests/reliability/test_events_io.py``
round-trips export -> import -> export to keep the two in step.

Import writes through ``MongoEventStore.append_batch`` (``RestoringEventStore``), so the
store's own rules decide positions (unique ``pos``), versions (unique ``(stream, ver)``,
exact expected versions) and idempotency (unique ``idem``). The only thing a restore adds
is the original commit id and recorded-at time, which the store would otherwise take from
the moment of the restore.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from domain.events import NewEvent, RecordedEvent, StreamRef
from infrastructure.events_io.lines import EventLine
from infrastructure.eventstore.mongo import COMMITS, MongoEventStore


class BrokenLog(RuntimeError):
    """The stored log is not the contiguous chain the store guarantees (never exported)."""


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def lines_of(doc: Mapping[str, Any]) -> list[EventLine]:
    """The events of one commit document, as export lines (raw: no upcasting)."""
    recorded_at = _utc(doc["at"])
    return [
        EventLine(
            position=int(doc["pos"]) + i,
            id=str(raw["id"]),
            type=str(raw["type"]),
            schema_version=int(raw["sv"]),
            stream_type=str(doc["st"]),
            stream_id=str(doc["sid"]),
            version=int(doc["ver"]) + i,
            occurred_at=_utc(raw["at"]),
            recorded_at=recorded_at,
            correlation_id=raw.get("corr"),
            causation_id=raw.get("caus"),
            source=raw.get("src") or "pulse",  # as the store reads it back
            data=raw["data"],
            commit_id=str(doc["_id"]),
            idempotency_key=str(doc["idem"]),
        )
        for i, raw in enumerate(doc["events"])
    ]


async def head_position(db: AsyncDatabase[Any]) -> int:
    return await MongoEventStore(db).head_position()


async def stored_commits(
    db: AsyncDatabase[Any], up_to: int, batch_size: int = 1000
) -> AsyncGenerator[list[EventLine], None]:
    """Every commit from position 1 through ``up_to``, in order, one list of lines each.

    Raises ``BrokenLog`` at a hole or an overlap: the store never writes one, and a backup
    that silently skipped events would be worse than no backup."""
    expected = 1
    cursor = (
        db[COMMITS]
        .find({"end": {"$lte": up_to}})
        .sort("pos", ASCENDING)
        .batch_size(max(batch_size, 1))
    )
    async for doc in cursor:
        if int(doc["pos"]) != expected:
            await cursor.close()
            raise BrokenLog(f"the event log has a hole or overlap at position {expected}")
        lines = lines_of(doc)
        if not lines or lines[-1].position != int(doc["end"]):
            await cursor.close()
            raise BrokenLog(f"the commit at position {expected} is inconsistent")
        expected = lines[-1].position + 1
        yield lines
    if expected != up_to + 1:
        raise BrokenLog(f"the event log ends at position {expected - 1}, not {up_to}")


@dataclass(frozen=True, slots=True)
class Original:
    commit_id: str
    recorded_at: datetime


class RestoringEventStore(MongoEventStore):
    """``MongoEventStore`` that gives each commit its original id and recorded-at time.

    ``remember`` registers them by idempotency key before the commits are appended; every
    other part of the append (positions, versions, duplicates) is the store's own."""

    def __init__(self, db: AsyncDatabase[Any]) -> None:
        super().__init__(db)
        self._originals: dict[str, Original] = {}

    def remember(self, commits: Sequence[Sequence[EventLine]]) -> None:
        self._originals = {
            c[0].idempotency_key: Original(c[0].commit_id, c[0].recorded_at) for c in commits
        }

    def _commit_doc(
        self,
        stream: StreamRef,
        events: Sequence[NewEvent],
        commit_id: str,
        start_version: int,
        position: int,
        idem: str | None,
    ) -> dict[str, Any]:
        doc = super()._commit_doc(stream, events, commit_id, start_version, position, idem)
        original = self._originals.get(idem) if idem is not None else None
        if original is not None:
            doc["_id"] = original.commit_id
            doc["at"] = original.recorded_at
        return doc


def new_events(commit: Sequence[EventLine]) -> list[NewEvent]:
    return [
        NewEvent(
            type=line.type,
            data=dict(line.data),
            schema_version=line.schema_version,
            id=line.id,
            occurred_at=line.occurred_at,
            correlation_id=line.correlation_id,
            causation_id=line.causation_id,
            source=line.source,
        )
        for line in commit
    ]


def recorded_event(line: EventLine) -> RecordedEvent:
    """The event as the store would hand it out (before upcasting)."""
    return RecordedEvent(
        id=line.id,
        type=line.type,
        schema_version=line.schema_version,
        stream_type=line.stream_type,
        stream_id=line.stream_id,
        version=line.version,
        position=line.position,
        occurred_at=line.occurred_at,
        recorded_at=line.recorded_at,
        correlation_id=line.correlation_id,
        causation_id=line.causation_id,
        source=line.source,
        data=line.data,
    )
