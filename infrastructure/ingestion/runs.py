"""Sync runs and the single-run lock on MongoDB (and an in-memory twin for unit tests).

The lock is a lease: a run holds it while it heartbeats; a run whose process died lets it
expire, so a crash never blocks syncing for ever.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from domain.ingestion import IngestStats
from domain.sync import SyncMode, SyncRun, SyncStatus

RUNS = "sync_runs"
STATE = "sync_state"
LEASE = timedelta(seconds=60)
STAT_FIELDS = (
    "fetched",
    "created",
    "updated",
    "unchanged",
    "archived",
    "deleted",
    "rejected",
    "events_appended",
    "last_position",
)


def run_to_doc(run: SyncRun) -> dict[str, Any]:
    return {
        "_id": run.id,
        "mode": run.mode.value,
        "trigger": run.trigger,
        "status": run.status.value,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "stats": {name: getattr(run.stats, name) for name in STAT_FIELDS},
        "error": run.error,
        "cursors": run.cursors,
    }


def run_from_doc(doc: dict[str, Any]) -> SyncRun:
    stats = IngestStats()
    for name, value in (doc.get("stats") or {}).items():
        if name in STAT_FIELDS:
            setattr(stats, name, int(value))
    return SyncRun(
        id=doc["_id"],
        mode=SyncMode(doc["mode"]),
        trigger=doc["trigger"],
        status=SyncStatus(doc["status"]),
        started_at=doc["started_at"],
        finished_at=doc.get("finished_at"),
        stats=stats,
        error=doc.get("error"),
        cursors=dict(doc.get("cursors") or {}),
    )


class MongoSyncRunRepository:
    def __init__(self, db: AsyncDatabase[Any], lease: timedelta = LEASE) -> None:
        self._runs = db[RUNS]
        self._state = db[STATE]
        self._lease = lease

    async def ensure_indexes(self) -> None:
        await self._runs.create_index([("started_at", DESCENDING)], name="started_at")

    def _expiry(self) -> int:
        # Epoch milliseconds, not a BSON date: nx-27017 turns a date written by ``$set`` into
        # a string, which would then never compare as expired. Numbers behave the same in
        # MongoDB and nx-27017.
        return int((datetime.now(UTC) + self._lease).timestamp() * 1000)

    async def try_start(self, run: SyncRun) -> bool:
        now = datetime.now(UTC)
        now_ms = int(now.timestamp() * 1000)
        try:
            lock = await self._state.find_one_and_update(
                # $and, not a top-level $or beside _id: nx-27017 then ignores the _id and
                # could take the cursors document for the lock (MongoDB means the same).
                {
                    "$and": [
                        {"_id": "lock"},
                        {"$or": [{"run_id": None}, {"expires": {"$lt": now_ms}}]},
                    ]
                },
                {"$set": {"run_id": run.id, "expires": self._expiry()}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # MongoDB: the lock document exists and is held
            return False
        if lock is None or lock.get("run_id") != run.id:  # nx-27017 answers None instead
            return False
        # Runs left RUNNING by a process that died are marked failed (whole-document
        # replaces: see _expiry on why dates are never written with $set).
        async for doc in self._runs.find({"status": SyncStatus.RUNNING.value}):
            if doc["_id"] == run.id:
                continue
            stale = run_from_doc(doc)
            stale.status, stale.finished_at = SyncStatus.FAILED, now
            stale.error = "interrupted: the process running it stopped"
            await self._runs.replace_one({"_id": stale.id}, run_to_doc(stale))
        await self._runs.insert_one(run_to_doc(run))
        return True

    async def heartbeat(self, run: SyncRun) -> None:
        await self._state.update_one(
            {"_id": "lock", "run_id": run.id}, {"$set": {"expires": self._expiry()}}
        )
        await self._runs.replace_one({"_id": run.id}, run_to_doc(run))

    async def finish(self, run: SyncRun) -> None:
        await self._runs.replace_one({"_id": run.id}, run_to_doc(run), upsert=True)
        await self._state.update_one(
            {"_id": "lock", "run_id": run.id}, {"$set": {"run_id": None, "expires": None}}
        )

    async def cursors(self) -> dict[str, str]:
        doc = await self._state.find_one({"_id": "cursors"})
        return dict(doc["values"]) if doc else {}

    async def set_cursors(self, cursors: dict[str, str]) -> None:
        await self._state.replace_one(
            {"_id": "cursors"}, {"_id": "cursors", "values": cursors}, upsert=True
        )

    async def recent(self, last: int) -> list[SyncRun]:
        cursor = self._runs.find({}).sort("started_at", DESCENDING).limit(max(last, 0))
        return [run_from_doc(doc) async for doc in cursor]

    async def get(self, run_id: str) -> SyncRun | None:
        doc = await self._runs.find_one({"_id": run_id})
        return run_from_doc(doc) if doc else None


class InMemorySyncRunRepository:
    def __init__(self) -> None:
        self.runs: dict[str, SyncRun] = {}
        self.holder: str | None = None
        self._cursors: dict[str, str] = {}

    async def try_start(self, run: SyncRun) -> bool:
        if self.holder is not None:
            return False
        self.holder = run.id
        self.runs[run.id] = dataclasses.replace(run)
        return True

    async def heartbeat(self, run: SyncRun) -> None:
        self.runs[run.id] = dataclasses.replace(run)

    async def finish(self, run: SyncRun) -> None:
        self.runs[run.id] = dataclasses.replace(run)
        if self.holder == run.id:
            self.holder = None

    async def cursors(self) -> dict[str, str]:
        return dict(self._cursors)

    async def set_cursors(self, cursors: dict[str, str]) -> None:
        self._cursors = dict(cursors)

    async def recent(self, last: int) -> list[SyncRun]:
        runs = sorted(self.runs.values(), key=lambda r: r.started_at, reverse=True)
        return runs[:last]
