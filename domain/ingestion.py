"""Ingestion: raw Odoo rows -> snapshots -> change detection -> idempotent appends.

One path for every source (pull sync, webhook, import): the caller hands over raw rows as
Odoo returned them; each row is normalized, compared by content hash with the last snapshot
of that record, and a changed record's events are appended as one commit to its stream.

Crash safety and idempotency: the append for a change from stream version ``v`` to content
``h`` carries the idempotency key ``model:id:v:h`` and expects version ``v``. Replaying the
same change (a retried webhook, a sync re-reading the look-back window, a crash between the
append and the snapshot write) hits the key and stores nothing new; a concurrent different
change to the same record loses the optimistic-concurrency race and is re-evaluated against
the snapshot that won.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from domain.catalog import MODEL_BY_EVENT_TYPE, canonical_model, record_from_event, stream_for
from domain.change_detection import detect_changes
from domain.errors import ConcurrencyError
from domain.event_store import AppendRequest, AppendResult, EventStore, ExpectedVersion
from domain.events import RecordedEvent
from domain.model import Record, StageRecord
from domain.normalize import STAGE, RecordRejected, normalize, record_hash

ARCHIVING_EVENTS = frozenset(
    {"OpportunityArchived", "OpportunityLost", "UserDeactivated", "EmployeeArchived"}
)
MAX_RETRIES = 5
DELETED_HASH = "deleted"  # the content hash of a deleted record's snapshot


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The last version Pulse received of one Odoo record (``record`` None once deleted)."""

    model: str
    odoo_id: int
    content_hash: str
    record: Record | None
    stream_version: int
    received_at: datetime
    write_date: str | None = None

    @property
    def deleted(self) -> bool:
        return self.record is None


def snapshot_from_event(event: RecordedEvent) -> Snapshot | None:
    """The snapshot ingestion would hold after ``event`` (upcast), None if the event is not
    about an Odoo record.

    Every record event carries the record's full normalized state, and the content hash is
    a hash of that state (``record_hash``), so the last event of each record stream gives
    back what change detection compares with: an event log restored alone (``pulse events
    import``) can continue syncing. The raw rows are not in the log; a snapshot whose record
    changed since only where no event is defined holds the older content, and the next sync
    sees a different hash, finds no events to record and simply refreshes the snapshot.
    """
    if event.type not in MODEL_BY_EVENT_TYPE:
        return None
    model, record = record_from_event(event.type, event.data)
    return Snapshot(
        model,
        int(event.stream_id),
        record_hash(record) if record is not None else DELETED_HASH,
        record,
        event.version,
        event.recorded_at,
        getattr(record, "write_date", None),
    )


@dataclass(frozen=True, slots=True)
class RawVersion:
    """One received version of a record, kept immutable (the raw snapshot store)."""

    model: str
    odoo_id: int
    content_hash: str
    raw: Mapping[str, Any]
    received_at: datetime
    source: str


class SnapshotStore(Protocol):
    async def latest(self, model: str, ids: Sequence[int]) -> dict[int, Snapshot]: ...

    async def live_ids(self, model: str) -> set[int]:
        """Ids of the model's records that are known and not deleted."""
        ...

    async def all_live(self, model: str) -> list[Snapshot]: ...

    async def save(
        self,
        snapshots: Sequence[Snapshot],
        raw: Sequence[RawVersion],
    ) -> None:
        """Record new latest snapshots and keep the raw versions (write-once). A record's
        latest only moves to the same or a higher stream version: a snapshot older than the
        stored one is not kept as the latest (its raw version is)."""
        ...

    async def known_versions(self, model: str, ids: Sequence[int]) -> set[tuple[int, str]]:
        """(odoo id, content hash) of every version ever received for these records."""
        ...


@dataclass(frozen=True, slots=True)
class Rejection:
    model: str
    odoo_id: object
    reason: str


@dataclass
class IngestStats:
    fetched: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    archived: int = 0
    deleted: int = 0
    rejected: int = 0
    events_appended: int = 0
    last_position: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    def add(self, other: IngestStats) -> None:
        for name in (
            "fetched",
            "created",
            "updated",
            "unchanged",
            "archived",
            "deleted",
            "rejected",
            "events_appended",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.last_position = max(self.last_position, other.last_position)
        self.rejections.extend(other.rejections)

    def as_dict(self) -> dict[str, int]:
        return {
            "fetched": self.fetched,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "archived": self.archived,
            "deleted": self.deleted,
            "rejected": self.rejected,
            "eventsAppended": self.events_appended,
        }


class Clock(Protocol):
    def now(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class _Candidate:
    odoo_id: int
    record: Record | None
    content_hash: str
    raw: Mapping[str, Any] | None
    write_date: str | None


class Ingestor:
    def __init__(
        self,
        events: EventStore,
        snapshots: SnapshotStore,
        clock: Clock,
        after_append: Callable[[], None] | None = None,
    ) -> None:
        self._events = events
        self._snapshots = snapshots
        self._clock = clock
        # Called once events were appended (the app wakes its projection runner with it).
        self._after_append = after_append or (lambda: None)

    async def won_stage_ids(self) -> set[int]:
        stages = await self._snapshots.all_live(STAGE)
        return {s.odoo_id for s in stages if isinstance(s.record, StageRecord) and s.record.is_won}

    async def ingest_rows(
        self,
        model: str,
        rows: Sequence[Mapping[str, Any]],
        *,
        source: str,
        correlation_id: str | None = None,
        won_stage_ids: set[int] | None = None,
        correlation_ids: Mapping[int, str] | None = None,
        by_record: dict[int, IngestStats] | None = None,
    ) -> IngestStats:
        """Normalize and ingest raw rows of one model (one page of a sync, a webhook re-read,
        an import batch). Malformed rows are counted and reported, never raised.

        ``correlation_ids`` (odoo id -> correlation id) overrides ``correlation_id`` for the
        events of the records it names (a batch of webhooks: each record's events carry a
        delivery that named it). ``by_record``, when given, is filled with each record's own
        counts (by odoo id) besides the returned totals; opt-in, so a large sync does not
        pay for it."""
        model = canonical_model(model)
        stats = IngestStats(fetched=len(rows))
        candidates: dict[int, _Candidate] = {}
        for row in rows:
            try:
                record = normalize(model, row)
            except RecordRejected as err:
                rejection = Rejection(model, _raw_id(row), err.reason)
                stats.rejected += 1
                stats.rejections.append(rejection)
                raw_id = rejection.odoo_id
                if by_record is not None and type(raw_id) is int:  # else no record to tell
                    own = by_record.setdefault(raw_id, IngestStats())
                    own.fetched += 1
                    own.rejected += 1
                    own.rejections.append(rejection)
                continue
            odoo_id = int(record.to_dict()["odoo_id"])
            if by_record is not None:
                by_record.setdefault(odoo_id, IngestStats()).fetched += 1
            write_date = row.get("write_date") if isinstance(row.get("write_date"), str) else None
            # The same id twice in one batch (offset paging while data moves): the last wins.
            candidates[odoo_id] = _Candidate(odoo_id, record, record_hash(record), row, write_date)
        if model == "crm.lead" and won_stage_ids is None:
            won_stage_ids = await self.won_stage_ids()
        await self._apply(
            model,
            list(candidates.values()),
            stats,
            source,
            correlation_id,
            won_stage_ids,
            correlation_ids=correlation_ids,
            by_record=by_record,
        )
        return stats

    async def ingest_deletions(
        self, model: str, present_ids: set[int], *, source: str, correlation_id: str | None = None
    ) -> IngestStats:
        """Every known, live record of ``model`` absent from ``present_ids`` was deleted."""
        model = canonical_model(model)
        gone = sorted(await self._snapshots.live_ids(model) - present_ids)
        stats = IngestStats()
        candidates = [_Candidate(i, None, DELETED_HASH, None, None) for i in gone]
        await self._apply(model, candidates, stats, source, correlation_id, None)
        return stats

    async def ingest_missing(
        self, model: str, odoo_id: int, *, source: str, correlation_id: str | None = None
    ) -> IngestStats:
        """A record Odoo no longer returns (webhook re-read found nothing): deleted."""
        return await self.ingest_missing_many(
            model, [odoo_id], source=source, correlation_id=correlation_id
        )

    async def ingest_missing_many(
        self,
        model: str,
        odoo_ids: Sequence[int],
        *,
        source: str,
        correlation_id: str | None = None,
        correlation_ids: Mapping[int, str] | None = None,
        by_record: dict[int, IngestStats] | None = None,
    ) -> IngestStats:
        """Records Odoo no longer returns (a webhook re-read found nothing): each one known
        and live is deleted; one never seen or already deleted changes nothing.
        ``correlation_ids`` and ``by_record`` as in :meth:`ingest_rows`."""
        model = canonical_model(model)
        stats = IngestStats()
        if not odoo_ids:
            return stats
        # Only these records' snapshots are read (not every live id of the model), and the
        # same answer serves the first round of _apply.
        known = await self._snapshots.latest(model, sorted(set(odoo_ids)))
        live = {i: snap for i, snap in known.items() if not snap.deleted}
        candidates = [_Candidate(i, None, DELETED_HASH, None, None) for i in sorted(live)]
        await self._apply(
            model,
            candidates,
            stats,
            source,
            correlation_id,
            None,
            correlation_ids=correlation_ids,
            by_record=by_record,
            known=live,
        )
        return stats

    async def _apply(
        self,
        model: str,
        candidates: list[_Candidate],
        stats: IngestStats,
        source: str,
        correlation_id: str | None,
        won_stage_ids: set[int] | None,
        *,
        correlation_ids: Mapping[int, str] | None = None,
        by_record: dict[int, IngestStats] | None = None,
        known: dict[int, Snapshot] | None = None,
    ) -> None:
        """``known``: the candidates' latest snapshots, already read by the caller (used for
        the first round only; a retry re-reads)."""
        for _ in range(MAX_RETRIES):
            if not candidates:
                return
            if known is not None:
                latest, known = known, None
            else:
                latest = await self._snapshots.latest(model, [c.odoo_id for c in candidates])
            requests: list[AppendRequest] = []
            planned: list[tuple[_Candidate, Snapshot | None]] = []
            now = self._clock.now()
            snapshots: list[Snapshot] = []
            raws: list[RawVersion] = []
            for cand in candidates:
                prev = latest.get(cand.odoo_id)
                if prev is not None and prev.content_hash == cand.content_hash:
                    for target in _targets(stats, by_record, cand.odoo_id):
                        target.unchanged += 1
                    continue
                if prev is None and cand.record is None:
                    continue
                previous_record = prev.record if prev is not None else None
                events = detect_changes(
                    model,
                    previous_record,
                    cand.record,
                    source=source,
                    correlation_id=(
                        correlation_ids.get(cand.odoo_id, correlation_id)
                        if correlation_ids is not None
                        else correlation_id
                    ),
                    occurred_at=now,
                    won_stage_ids=won_stage_ids,
                )
                version = prev.stream_version if prev is not None else 0
                if not events:  # content differs only where no event is defined
                    snapshots.append(self._snapshot(model, cand, version, now))
                    if cand.raw is not None:
                        raws.append(
                            RawVersion(
                                model, cand.odoo_id, cand.content_hash, dict(cand.raw), now, source
                            )
                        )
                    continue
                requests.append(
                    AppendRequest(
                        stream_for(model, cand.odoo_id),
                        events,
                        version if prev is not None else ExpectedVersion.NO_STREAM,
                        idempotency_key=f"{model}:{cand.odoo_id}:{version}:{cand.content_hash}",
                    )
                )
                planned.append((cand, prev))
            outcomes = await self._events.append_batch(requests) if requests else []
            if requests:
                self._after_append()
            retry: list[_Candidate] = []
            for (cand, prev), request, outcome in zip(planned, requests, outcomes, strict=True):
                if isinstance(outcome, ConcurrencyError):
                    retry.append(cand)  # another source changed it first: re-evaluate
                    continue
                assert isinstance(outcome, AppendResult)
                snapshots.append(self._snapshot(model, cand, outcome.last_version, now))
                if cand.raw is not None:
                    raws.append(
                        RawVersion(
                            model, cand.odoo_id, cand.content_hash, dict(cand.raw), now, source
                        )
                    )
                for target in _targets(stats, by_record, cand.odoo_id):
                    if not outcome.duplicate:
                        target.events_appended += len(request.events)
                        target.last_position = max(target.last_position, outcome.last_position)
                    self._count(target, prev, cand, request)
            await self._snapshots.save(snapshots, raws)
            candidates = retry
        if candidates:
            raise ConcurrencyError(f"{model} ids {[c.odoo_id for c in candidates]}", "retry")

    @staticmethod
    def _snapshot(model: str, cand: _Candidate, version: int, now: datetime) -> Snapshot:
        return Snapshot(
            model, cand.odoo_id, cand.content_hash, cand.record, version, now, cand.write_date
        )

    @staticmethod
    def _count(
        stats: IngestStats, prev: Snapshot | None, cand: _Candidate, request: AppendRequest
    ) -> None:
        if cand.record is None:
            stats.deleted += 1
        elif prev is None or prev.record is None:
            stats.created += 1
        else:
            stats.updated += 1
        if any(e.type in ARCHIVING_EVENTS for e in request.events):
            stats.archived += 1


def _targets(
    stats: IngestStats, by_record: dict[int, IngestStats] | None, odoo_id: int
) -> tuple[IngestStats, ...]:
    """The totals, and the record's own counts when the caller asked for them."""
    if by_record is None:
        return (stats,)
    return (stats, by_record.setdefault(odoo_id, IngestStats()))


def _raw_id(row: object) -> object:
    if isinstance(row, Mapping):
        return row.get("id")
    return None
