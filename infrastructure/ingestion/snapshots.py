"""Raw snapshot store on MongoDB.

``odoo_raw_versions`` keeps every distinct version of every record as received (write-once,
keyed by content hash: an identical version received again is recognised, not stored twice).
``odoo_snapshots`` holds the latest snapshot per record, which change detection compares with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, IndexModel, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from domain.ingestion import RawVersion, Snapshot
from domain.normalize import RECORD_TYPE_BY_MODEL

LATEST = "odoo_snapshots"
RAW = "odoo_raw_versions"
DUPLICATE_KEY = 11000


def _to_doc(s: Snapshot) -> dict[str, Any]:
    return {
        "_id": f"{s.model}:{s.odoo_id}",
        "model": s.model,
        "odoo_id": s.odoo_id,
        "hash": s.content_hash,
        "record": s.record.to_dict() if s.record is not None else None,
        "live": s.record is not None,
        "version": s.stream_version,
        "received_at": s.received_at,
        "write_date": s.write_date,
    }


def _from_doc(doc: dict[str, Any]) -> Snapshot:
    model = doc["model"]
    data = doc.get("record")
    record = RECORD_TYPE_BY_MODEL[model].from_dict(data) if data else None
    return Snapshot(
        model,
        int(doc["odoo_id"]),
        doc["hash"],
        record,
        int(doc["version"]),
        doc["received_at"],
        doc.get("write_date"),
    )


class MongoSnapshotStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._latest = db[LATEST]
        self._raw = db[RAW]

    async def ensure_indexes(self) -> None:
        await self._latest.create_indexes(
            [
                IndexModel(
                    [("model", ASCENDING), ("live", ASCENDING), ("odoo_id", ASCENDING)],
                    name="model_live_id",
                )
            ]
        )
        await self._raw.create_indexes(
            [IndexModel([("model", ASCENDING), ("odoo_id", ASCENDING)], name="model_id")]
        )

    async def latest(self, model: str, ids: Sequence[int]) -> dict[int, Snapshot]:
        if not ids:
            return {}
        keys = [f"{model}:{i}" for i in ids]
        found: dict[int, Snapshot] = {}
        async for doc in self._latest.find({"_id": {"$in": keys}}):
            snap = _from_doc(doc)
            found[snap.odoo_id] = snap
        return found

    async def live_ids(self, model: str) -> set[int]:
        cursor = self._latest.find({"model": model, "live": True}, {"odoo_id": 1})
        return {int(doc["odoo_id"]) async for doc in cursor}

    async def all_live(self, model: str) -> list[Snapshot]:
        return [_from_doc(d) async for d in self._latest.find({"model": model, "live": True})]

    async def save(self, snapshots: Sequence[Snapshot], raw: Sequence[RawVersion]) -> None:
        if raw:
            docs = [
                {
                    "_id": f"{r.model}:{r.odoo_id}:{r.content_hash}",
                    "model": r.model,
                    "odoo_id": r.odoo_id,
                    "hash": r.content_hash,
                    "raw": dict(r.raw),
                    "received_at": r.received_at,
                    "source": r.source,
                }
                for r in raw
            ]
            try:
                await self._raw.insert_many(docs, ordered=False)
            except BulkWriteError as err:
                # A version already kept is exactly what we would write: write-once.
                if any(e.get("code") != DUPLICATE_KEY for e in err.details.get("writeErrors", [])):
                    raise
        if snapshots:
            await self._latest.bulk_write(
                [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in map(_to_doc, snapshots)],
                ordered=False,
            )

    async def known_versions(self, model: str, ids: Sequence[int]) -> set[tuple[int, str]]:
        if not ids:
            return set()
        cursor = self._raw.find(
            {"model": model, "odoo_id": {"$in": list(ids)}}, {"odoo_id": 1, "hash": 1}
        )
        return {(int(doc["odoo_id"]), doc["hash"]) async for doc in cursor}

    async def raw_versions(self, model: str, odoo_id: int) -> list[dict[str, Any]]:
        cursor = self._raw.find({"model": model, "odoo_id": odoo_id}).sort("received_at", 1)
        return [doc async for doc in cursor]


class InMemorySnapshotStore:
    def __init__(self) -> None:
        self.snapshots: dict[tuple[str, int], Snapshot] = {}
        self.raw: dict[str, RawVersion] = {}

    async def latest(self, model: str, ids: Sequence[int]) -> dict[int, Snapshot]:
        return {i: self.snapshots[(model, i)] for i in ids if (model, i) in self.snapshots}

    async def live_ids(self, model: str) -> set[int]:
        return {i for (m, i), s in self.snapshots.items() if m == model and not s.deleted}

    async def all_live(self, model: str) -> list[Snapshot]:
        return [s for (m, _), s in self.snapshots.items() if m == model and not s.deleted]

    async def known_versions(self, model: str, ids: Sequence[int]) -> set[tuple[int, str]]:
        wanted = set(ids)
        return {
            (r.odoo_id, r.content_hash)
            for r in self.raw.values()
            if r.model == model and r.odoo_id in wanted
        }

    async def save(self, snapshots: Sequence[Snapshot], raw: Sequence[RawVersion]) -> None:
        for r in raw:
            self.raw.setdefault(f"{r.model}:{r.odoo_id}:{r.content_hash}", r)
        for s in snapshots:
            self.snapshots[(s.model, s.odoo_id)] = s
