"""Admin screens: sync runs, projection health, the event explorer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import strawberry
from strawberry import UNSET
from strawberry.scalars import JSON

from domain.events import RecordedEvent
from domain.ingestion import IngestStats
from domain.sync import SyncRun as SyncRunRecord
from schema.context import ProjectionStatusData
from schema.json_values import to_json
from schema.types.enums import ProjectionState, SyncMode, SyncStatus
from schema.types.opportunities import PageInfo


@strawberry.type
class SyncStats:
    fetched: int
    created: int
    updated: int
    unchanged: int
    archived: int
    deleted: int
    rejected: int
    events_appended: int

    @classmethod
    def from_stats(cls, stats: IngestStats) -> SyncStats:
        return cls(
            fetched=stats.fetched,
            created=stats.created,
            updated=stats.updated,
            unchanged=stats.unchanged,
            archived=stats.archived,
            deleted=stats.deleted,
            rejected=stats.rejected,
            events_appended=stats.events_appended,
        )


@strawberry.type
class SyncRun:
    id: strawberry.ID
    mode: SyncMode
    trigger: str
    status: SyncStatus
    started_at: datetime
    finished_at: datetime | None
    stats: SyncStats
    error: str | None

    @classmethod
    def from_run(cls, run: SyncRunRecord) -> SyncRun:
        return cls(
            id=strawberry.ID(run.id),
            mode=SyncMode(run.mode.value),
            trigger=run.trigger,
            status=SyncStatus(run.status.value),
            started_at=run.started_at,
            finished_at=run.finished_at,
            stats=SyncStats.from_stats(run.stats),
            error=run.error,
        )


@strawberry.type
class ProjectionStatus:
    name: str
    state: ProjectionState
    position: int
    head_position: int
    lag: int
    events_per_second: float | None
    progress: float | None = strawberry.field(description="0 to 1 while catching up/rebuilding")
    last_error: str | None
    updated_at: datetime

    @classmethod
    def from_data(cls, data: ProjectionStatusData) -> ProjectionStatus:
        return cls(
            name=data.name,
            state=ProjectionState(str(data.state)),
            position=data.position,
            head_position=data.head_position,
            lag=data.lag,
            events_per_second=data.events_per_second,
            progress=data.progress,
            last_error=data.last_error,
            updated_at=data.updated_at,
        )


@strawberry.input
class EventFilter:
    """Every given field must match (AND)."""

    aggregate_type: str | None = UNSET
    aggregate_id: str | None = UNSET
    types: list[str] | None = UNSET
    from_: datetime | None = strawberry.field(
        default=UNSET, name="from", description="occurredAt >= from"
    )
    to: datetime | None = strawberry.field(default=UNSET, description="occurredAt < to")


@strawberry.type
class StoredEvent:
    id: strawberry.ID
    position: int
    type: str
    aggregate_type: str
    aggregate_id: str
    version: int
    occurred_at: datetime
    recorded_at: datetime
    data: JSON
    processed_by: list[str] = strawberry.field(
        description="Projections whose checkpoint has passed this event"
    )

    @classmethod
    def from_event(cls, event: RecordedEvent, checkpoints: Mapping[str, int]) -> StoredEvent:
        return cls(
            id=strawberry.ID(event.id),
            position=event.position,
            type=event.type,
            aggregate_type=event.stream_type,
            aggregate_id=event.stream_id,
            version=event.version,
            occurred_at=event.occurred_at,
            recorded_at=event.recorded_at,
            data=to_json(event.data),
            processed_by=processed_by(event.position, checkpoints),
        )


def processed_by(position: int, checkpoints: Mapping[str, int]) -> list[str]:
    return sorted(name for name, at in checkpoints.items() if at >= position)


@strawberry.type
class EventEdge:
    cursor: str
    node: StoredEvent


@strawberry.type
class EventConnection:
    edges: list[EventEdge]
    page_info: PageInfo
