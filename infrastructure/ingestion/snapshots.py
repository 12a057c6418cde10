"""Raw snapshot store on MongoDB.

Every version of every record received is kept, never modified, with its content hash:

* ``odoo_snapshots`` holds one document per record: the latest version as received, its
  hash and stream version (change detection compares with its normalized form);
* ``odoo_raw_versions`` holds every *superseded* version (write-once, keyed by content hash),
  moved there just before the latest document is replaced.

So each version exists exactly once, and a first sync writes one snapshot document per
record rather than two (the embedded store writes documents one core at a time).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, IndexModel, ReplaceOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from domain.ingestion import RawVersion, Snapshot
from domain.model import Record
from domain.normalize import RECORD_TYPE_BY_MODEL, normalize

LATEST = "odoo_snapshots"
RAW = "odoo_raw_versions"
DUPLICATE_KEY = 11000


def _to_doc(s: Snapshot, raw: RawVersion | None) -> dict[str, Any]:
    return {
        "_id": f"{s.model}:{s.odoo_id}",
        "model": s.model,
        "odoo_id": s.odoo_id,
        "hash": s.content_hash,
        "live": s.record is not None,
        "version": s.stream_version,
        "received_at": s.received_at,
        "write_date": s.write_date,
        "raw": dict(raw.raw) if raw is not None else None,
        "source": raw.source if raw is not None else None,
    }


def _from_doc(doc: dict[str, Any]) -> Snapshot:
    model = doc["model"]
    raw = doc.get("raw")
    # The normalized record is not stored: normalizing the raw version again is cheaper
    # (tens of microseconds) than writing and reading it twice. A snapshot rebuilt from the
    # event log has no raw version and keeps the normalized record instead.
    record: Record | None = None
    if doc.get("live"):
        if raw is not None:
            record = normalize(model, raw)
        elif doc.get("record") is not None:
            record = RECORD_TYPE_BY_MODEL[model].from_dict(dict(doc["record"]))
    return Snapshot(
        model,
        int(doc["odoo_id"]),
        doc["hash"],
        record,
        int(doc["version"]),
        doc["received_at"],
        doc.get("write_date"),
    )


def _version_doc(
    model: str, odoo_id: int, content_hash: str, raw: Any, at: datetime, source: str | None
) -> dict[str, Any]:
    return {
        "_id": f"{model}:{odoo_id}:{content_hash}",
        "model": model,
        "odoo_id": odoo_id,
        "hash": content_hash,
        "raw": raw,
        "received_at": at,
        "source": source,
    }


def _live(model: str) -> dict[str, Any]:
    """The filter of a model's live records. ``$eq``, not a plain value: nx-27017 turns a
    plain equality into SQL that also matches arrays, which the ``model_live_id`` index
    cannot answer, so every snapshot was scanned (~28 ms for the 6 stages among 20,000
    deals, once per webhook batch for the won stages); with ``$eq`` the index answers
    (~0.4 ms). Real MongoDB reads both the same."""
    return {"model": {"$eq": model}, "live": {"$eq": True}}


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
        cursor = self._latest.find(_live(model), {"odoo_id": 1})
        return {int(doc["odoo_id"]) async for doc in cursor}

    async def all_live(self, model: str) -> list[Snapshot]:
        cursor = self._latest.find(_live(model))
        return [_from_doc(d) async for d in cursor]

    async def save(
        self,
        snapshots: Sequence[Snapshot],
        raw: Sequence[RawVersion],
        new_keys: frozenset[tuple[str, int]] = frozenset(),
    ) -> None:
        raw_by_key = {(r.model, r.odoo_id): r for r in raw}
        docs = {
            (s.model, s.odoo_id): _to_doc(s, raw_by_key.get((s.model, s.odoo_id)))
            for s in snapshots
        }
        inserts = [d for key, d in docs.items() if key in new_keys]
        replaces = [d for key, d in docs.items() if key not in new_keys]
        if replaces:
            await self._keep_superseded([d["_id"] for d in replaces])
        if inserts:
            # First sightings: a plain insert is several times cheaper than an upsert. If a
            # concurrent writer got there first, keep its version and replace it like any other.
            try:
                await self._latest.insert_many(inserts, ordered=False)
            except BulkWriteError as err:
                errors = err.details.get("writeErrors", [])
                if any(e.get("code") != DUPLICATE_KEY for e in errors):
                    raise
                late = [inserts[e["index"]] for e in errors]
                await self._keep_superseded([d["_id"] for d in late])
                replaces.extend(late)
        if replaces:
            await self._latest.bulk_write(
                [ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in replaces], ordered=False
            )

    async def fill_missing(self, snapshots: Sequence[Snapshot]) -> int:
        """Insert snapshots rebuilt from the event log for records that have none; return
        how many went in. A snapshot already present came from Odoo (with its raw version)
        and is at least as recent, so it is kept."""
        docs = [
            {**_to_doc(s, None), "record": s.record.to_dict() if s.record is not None else None}
            for s in snapshots
        ]
        inserted = 0
        for start in range(0, len(docs), 1000):
            chunk = docs[start : start + 1000]
            try:
                await self._latest.insert_many(chunk, ordered=False)
                inserted += len(chunk)
            except BulkWriteError as err:
                errors = err.details.get("writeErrors", [])
                if any(e.get("code") != DUPLICATE_KEY for e in errors):
                    raise
                inserted += len(chunk) - len(errors)
        return inserted

    async def _keep_superseded(self, keys: list[str]) -> None:
        """Copy the versions about to be replaced into the write-once versions collection."""
        versions = [
            _version_doc(
                doc["model"],
                int(doc["odoo_id"]),
                doc["hash"],
                doc["raw"],
                doc["received_at"],
                doc.get("source"),
            )
            async for doc in self._latest.find({"_id": {"$in": keys}, "raw": {"$ne": None}})
        ]
        if not versions:
            return
        try:
            await self._raw.insert_many(versions, ordered=False)
        except BulkWriteError as err:
            # A version already kept is exactly what we would write: write-once.
            if any(e.get("code") != DUPLICATE_KEY for e in err.details.get("writeErrors", [])):
                raise

    async def known_versions(self, model: str, ids: Sequence[int]) -> set[tuple[int, str]]:
        if not ids:
            return set()
        known: set[tuple[int, str]] = set()
        flt = {"model": model, "odoo_id": {"$in": list(ids)}}
        async for doc in self._raw.find(flt, {"odoo_id": 1, "hash": 1}):
            known.add((int(doc["odoo_id"]), doc["hash"]))
        keys = [f"{model}:{i}" for i in ids]
        async for doc in self._latest.find(
            {"_id": {"$in": keys}, "raw": {"$ne": None}}, {"odoo_id": 1, "hash": 1}
        ):
            known.add((int(doc["odoo_id"]), doc["hash"]))
        return known

    async def raw_versions(self, model: str, odoo_id: int) -> list[dict[str, Any]]:
        """Every version received of one record, oldest first (the latest last)."""
        flt = {"model": {"$eq": model}, "odoo_id": {"$eq": odoo_id}}  # $eq: the model_id index
        older = self._raw.find(flt).sort("received_at", 1)
        versions = [doc async for doc in older]
        current = await self._latest.find_one({"_id": f"{model}:{odoo_id}", "raw": {"$ne": None}})
        if current is not None:
            versions.append(
                _version_doc(
                    model,
                    odoo_id,
                    current["hash"],
                    current["raw"],
                    current["received_at"],
                    current.get("source"),
                )
            )
        return versions


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

    async def save(
        self,
        snapshots: Sequence[Snapshot],
        raw: Sequence[RawVersion],
        new_keys: frozenset[tuple[str, int]] = frozenset(),
    ) -> None:
        for r in raw:
            self.raw.setdefault(f"{r.model}:{r.odoo_id}:{r.content_hash}", r)
        for s in snapshots:
            self.snapshots[(s.model, s.odoo_id)] = s
