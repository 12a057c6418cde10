"""Ingestion snapshots rebuilt from the event log, for a log restored on its own.

``pulse events import`` restores the event log, which is the source of truth; the
ingestion snapshots (``odoo_snapshot_buckets``: what Pulse last received of each record) are
derived data. Without them the next sync would take every Odoo record for new and append
at version 0 to streams the restore already holds. Every record event carries the full
normalized record, so the last event of each record stream gives the snapshot back
(``domain.ingestion.snapshot_from_event``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from domain.catalog import MODEL_BY_EVENT_TYPE
from domain.errors import PulseError
from domain.events import RecordedEvent
from domain.ingestion import Snapshot, snapshot_from_event
from domain.upcasting import UpcasterRegistry
from infrastructure.ingestion.snapshots import LATEST, LEGACY_LATEST, MongoSnapshotStore


class SnapshotCollector:
    """Fed every event of the log in position order; keeps each record's last snapshot.

    Only record events are looked at (and upcast): other types, including ones newer than
    this code, do not concern ingestion. A record event this code cannot read (no record in
    it, a newer schema version) leaves its record without a snapshot, unless a later event
    of the same record can be read (each event carries the whole record); such records are
    counted in ``unreadable`` rather than failing the restore of the log itself."""

    def __init__(self, upcasters: UpcasterRegistry) -> None:
        self._upcasters = upcasters
        self._last: dict[str, Snapshot] = {}
        self._unreadable: set[str] = set()

    @property
    def unreadable(self) -> int:
        return len(self._unreadable)

    def collected(self) -> dict[tuple[str, int], Snapshot]:
        return {(s.model, s.odoo_id): s for s in self._last.values()}

    def add(self, event: RecordedEvent) -> None:
        if event.type not in MODEL_BY_EVENT_TYPE:
            return
        stream = f"{event.stream_type}/{event.stream_id}"
        try:
            version, data = self._upcasters.upcast(event.type, event.schema_version, event.data)
            if version != event.schema_version:
                event = replace(event, schema_version=version, data=data)
            snapshot = snapshot_from_event(event)
        except (PulseError, ValueError, TypeError, KeyError):
            self._last.pop(stream, None)
            self._unreadable.add(stream)
            return
        if snapshot is not None:
            self._last[stream] = snapshot
            self._unreadable.discard(stream)

    async def write(self, db: AsyncDatabase[Any]) -> int:
        """Fill in the snapshot of every record that has none; return how many went in."""
        store = MongoSnapshotStore(db)
        await store.ensure_indexes()
        return await store.fill_missing(list(self._last.values()))


async def has_snapshots(db: AsyncDatabase[Any]) -> bool:
    for name in (LATEST, LEGACY_LATEST):  # the old layout counts until it is converted
        if await db[name].find_one({}, {"_id": 1}) is not None:
            return True
    return False
