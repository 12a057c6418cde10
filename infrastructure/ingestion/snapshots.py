"""Raw snapshot store on MongoDB.

Every version of every record received is kept, never modified, with its content hash:

* ``odoo_snapshot_buckets`` holds the latest version of every record as received, its hash
  and stream version (change detection compares with its normalized form), in buckets of
  16 consecutive ids of one model (``snapshot_buckets`` says why and how);
* ``odoo_raw_versions`` holds every *superseded* version (write-once, keyed by content hash),
  copied there just before the latest is replaced.

So each version exists exactly once, and a first sync writes one snapshot document per 16
records (the embedded store writes documents one core at a time).

The layout before buckets (``odoo_snapshots``, one document per record) is converted when
a process opens the store (``ensure_indexes``): each old document goes into its bucket
unless the bucket holds the same or a newer version, and is deleted once the bucket is
written, only if it is still the version converted. A crash midway leaves the rest to the
next start; two processes converting at once merge like any two writers. Stop processes of
the code before buckets before starting this one (deploy/README.md): a snapshot they write
into the old collection is only converted at the next start.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DeleteOne, IndexModel, ReplaceOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from domain.errors import PulseError
from domain.ingestion import RawVersion, Snapshot
from infrastructure.ingestion.snapshot_buckets import (
    Entry,
    Policy,
    StoredBucket,
    bucket_key,
    decode,
    encode,
    entry_of,
    from_ms,
    group,
    legacy_entry,
    merge,
    snapshot_of,
)

LATEST = "odoo_snapshot_buckets"
LEGACY_LATEST = "odoo_snapshots"  # one document per record: the layout before buckets
RAW = "odoo_raw_versions"
DUPLICATE_KEY = 11000
MAX_ATTEMPTS = 20  # compare-and-swap rounds of one save before giving up
CONVERT_BATCH = 1000
# Buckets remembered between a read and the save that follows it (a save takes its own out):
# the pages of a sync in flight, up to a bucket per record of a page when ids are scattered
# (an incremental sync). Kept as the stored documents (their entries as text, ~24 KB a
# bucket of leads), not as parsed entries, which are several times larger; the oldest go
# first, and a read of more buckets than this is not remembered at all.
SEEN_LIMIT = 1536

Pending = dict[str, tuple[str, dict[int, Entry]]]  # bucket key -> (model, entries by id)


class SnapshotContention(PulseError):
    """Other writers kept changing the same buckets through every attempt of one save."""

    def __init__(self, keys: Sequence[str]) -> None:
        shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        super().__init__(
            f"ingestion snapshots {shown} kept changing through {MAX_ATTEMPTS} attempts to "
            "save them (other writers of the same records); retry the sync"
        )
        self.keys = list(keys)


def _version_doc(model: str, odoo_id: int, entry: Entry) -> dict[str, Any]:
    return {
        "_id": f"{model}:{odoo_id}:{entry['hash']}",
        "model": model,
        "odoo_id": odoo_id,
        "hash": entry["hash"],
        "raw": entry["raw"],
        "received_at": from_ms(int(entry["at"])),
        "source": entry.get("source"),
    }


class MongoSnapshotStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._db = db
        self._latest: AsyncCollection[Any] = db[LATEST]
        self._raw: AsyncCollection[Any] = db[RAW]
        # Buckets as ``latest`` last read them (None: not stored), so that the save which
        # usually follows (Ingestor._apply) starts from them instead of reading them again.
        # Only a starting point: a bucket that moved on since fails its compare and swap
        # (or its insert) and is read again.
        self._seen: dict[str, dict[str, Any] | None] = {}

    async def ensure_indexes(self) -> None:
        await self._latest.create_indexes([IndexModel([("model", ASCENDING)], name="model")])
        await self._raw.create_indexes(
            [IndexModel([("model", ASCENDING), ("odoo_id", ASCENDING)], name="model_id")]
        )
        await self._convert_legacy()

    # ------------------------------------------------------------------- reads
    async def _buckets(
        self, keys: Sequence[str], remember: bool = False
    ) -> dict[str, StoredBucket]:
        """The stored buckets among ``keys``; ``remember``: for the save that follows."""
        if not keys:
            return {}
        found = {}
        docs: dict[str, dict[str, Any] | None] = dict.fromkeys(keys)
        async for doc in self._latest.find({"_id": {"$in": list(keys)}}):
            bucket = decode(doc)
            found[bucket.key] = bucket
            docs[bucket.key] = doc
        if remember and len(docs) <= SEEN_LIMIT:
            for key in docs:
                self._seen.pop(key, None)  # re-inserted below: the newest last
            self._seen.update(docs)
            while len(self._seen) > SEEN_LIMIT:  # read and never saved (unchanged records)
                del self._seen[next(iter(self._seen))]
        return found

    async def _entries(
        self, model: str, ids: Sequence[int], remember: bool = False
    ) -> dict[int, Entry]:
        """The stored entries of these records (those that have one)."""
        buckets = await self._buckets(sorted({bucket_key(model, i) for i in ids}), remember)
        found: dict[int, Entry] = {}
        for odoo_id in ids:
            bucket = buckets.get(bucket_key(model, odoo_id))
            if bucket is not None and odoo_id in bucket.entries:
                found[odoo_id] = bucket.entries[odoo_id]
        return found

    async def _each_entry(self, flt: dict[str, Any]) -> AsyncIterator[Snapshot]:
        async for doc in self._latest.find(flt):
            bucket = decode(doc)
            for odoo_id, entry in sorted(bucket.entries.items()):
                yield snapshot_of(bucket.model, odoo_id, entry)

    async def latest(self, model: str, ids: Sequence[int]) -> dict[int, Snapshot]:
        if not ids:
            return {}
        entries = await self._entries(model, ids, remember=True)
        return {i: snapshot_of(model, i, entry) for i, entry in entries.items()}

    async def live_ids(self, model: str) -> set[int]:
        cursor = self._latest.find({"model": {"$eq": model}}, {"live": 1})
        return {int(i) async for doc in cursor for i in doc.get("live", [])}

    async def all_live(self, model: str) -> list[Snapshot]:
        # $eq: nx-27017 turns a plain equality into SQL that also matches arrays, which the
        # index cannot answer (see the webhook batches' won stages). Real MongoDB reads both
        # the same.
        return [s async for s in self._each_entry({"model": {"$eq": model}}) if not s.deleted]

    def every(self) -> AsyncIterator[Snapshot]:
        """Every record's latest snapshot, deleted ones included (checks, tests)."""
        return self._each_entry({})

    async def known_versions(self, model: str, ids: Sequence[int]) -> set[tuple[int, str]]:
        if not ids:
            return set()
        known: set[tuple[int, str]] = set()
        flt = {"model": model, "odoo_id": {"$in": list(ids)}}
        async for doc in self._raw.find(flt, {"odoo_id": 1, "hash": 1}):
            known.add((int(doc["odoo_id"]), doc["hash"]))
        for odoo_id, entry in (await self._entries(model, ids)).items():
            if entry.get("raw") is not None:
                known.add((odoo_id, entry["hash"]))
        return known

    async def raw_versions(self, model: str, odoo_id: int) -> list[dict[str, Any]]:
        """Every version received of one record, oldest first (the latest last)."""
        flt = {"model": {"$eq": model}, "odoo_id": {"$eq": odoo_id}}  # $eq: the model_id index
        older = self._raw.find(flt).sort("received_at", 1)
        versions = [doc async for doc in older]
        entry = (await self._entries(model, [odoo_id])).get(odoo_id)
        if entry is not None and entry.get("raw") is not None:
            versions.append(_version_doc(model, odoo_id, entry))
        return versions

    # ------------------------------------------------------------------ writes
    async def save(
        self,
        snapshots: Sequence[Snapshot],
        raw: Sequence[RawVersion],
    ) -> None:
        # A bucket that does not exist yet is inserted, one that does is replaced (_write).
        raw_by_key = {(r.model, r.odoo_id): r for r in raw}
        pending = group(
            (s.model, s.odoo_id, entry_of(s, raw_by_key.get((s.model, s.odoo_id))))
            for s in snapshots
        )
        await self._write(pending, Policy.NEWER_OR_EQUAL)

    async def fill_missing(self, snapshots: Sequence[Snapshot]) -> int:
        """Add snapshots rebuilt from the event log for records that have none; return how
        many went in. A snapshot already present came from Odoo (with its raw version) and
        is at least as recent, so it is kept."""
        pending = group((s.model, s.odoo_id, entry_of(s, None)) for s in snapshots)
        placed = 0
        keys = sorted(pending)
        for start in range(0, len(keys), CONVERT_BATCH):
            chunk = {k: pending[k] for k in keys[start : start + CONVERT_BATCH]}
            placed += await self._write(chunk, Policy.MISSING)
        return placed

    async def _write(self, pending: Pending, policy: Policy) -> int:
        """Merge ``pending`` into the stored buckets under ``policy``; return how many of
        its entries are now the latest. Each bucket is written by compare and swap on its
        ``rev``; a bucket another writer changed meanwhile is read and merged again."""
        placed = 0
        seen = {key: self._seen.pop(key) for key in pending if key in self._seen}
        for _ in range(MAX_ATTEMPTS):
            if not pending:
                return placed
            unseen = sorted(key for key in pending if key not in seen)
            stored = {key: decode(doc) for key, doc in seen.items() if doc is not None}
            stored.update(await self._buckets(unseen))
            seen = {}  # a retry reads every bucket it still has to write
            token = uuid.uuid4().hex
            inserts: list[dict[str, Any]] = []
            replaces: list[tuple[int, dict[str, Any]]] = []
            superseded: list[dict[str, Any]] = []
            counted: dict[str, int] = {}
            for key, (model, entries) in pending.items():
                bucket = stored.get(key)
                merged = merge(bucket.entries if bucket else {}, entries, policy)
                counted[key] = merged.placed
                superseded.extend(_version_doc(model, i, e) for i, e in merged.superseded)
                if not merged.changed:
                    continue
                if bucket is None:
                    inserts.append(encode(key, model, 1, token, merged.entries))
                else:
                    doc = encode(key, model, bucket.rev + 1, token, merged.entries)
                    replaces.append((bucket.rev, doc))
            # Copy the versions about to be superseded first: a crash after this leaves a
            # version kept twice at worst, never lost.
            await self._keep(superseded)
            lost = await self._insert(inserts) | await self._replace(replaces, token)
            placed += sum(n for key, n in counted.items() if key not in lost)
            pending = {key: pending[key] for key in lost}
        if pending:
            raise SnapshotContention(sorted(pending))
        return placed

    async def _keep(self, versions: list[dict[str, Any]]) -> None:
        """Write-once copies of superseded versions (one already kept is exactly this)."""
        if not versions:
            return
        try:
            await self._raw.insert_many(versions, ordered=False)
        except BulkWriteError as err:
            if any(e.get("code") != DUPLICATE_KEY for e in err.details.get("writeErrors", [])):
                raise

    async def _insert(self, docs: list[dict[str, Any]]) -> set[str]:
        """Insert new buckets; return the keys another writer created first."""
        if not docs:
            return set()
        try:
            await self._latest.insert_many(docs, ordered=False)
        except BulkWriteError as err:
            errors = err.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return {docs[e["index"]]["_id"] for e in errors}
        return set()

    async def _replace(self, writes: list[tuple[int, dict[str, Any]]], token: str) -> set[str]:
        """Replace buckets still at the revision read; return the keys that had moved on."""
        if not writes:
            return set()
        result = await self._latest.bulk_write(
            [ReplaceOne({"_id": doc["_id"], "rev": {"$eq": rev}}, doc) for rev, doc in writes],
            ordered=False,
        )
        if result.matched_count == len(writes):
            return set()
        keys = [doc["_id"] for _, doc in writes]
        ours = self._latest.find({"_id": {"$in": keys}, "w": {"$eq": token}}, {"_id": 1})
        written = {doc["_id"] async for doc in ours}
        return set(keys) - written

    # --------------------------------------------------- the layout before buckets
    async def _convert_legacy(self) -> None:
        if LEGACY_LATEST not in await self._db.list_collection_names():
            return
        legacy = self._db[LEGACY_LATEST]
        while True:
            docs = await legacy.find({}).sort("_id", ASCENDING).limit(CONVERT_BATCH).to_list()
            if not docs:
                break
            convertible = [d for d in docs if _is_legacy_snapshot(d)]
            if len(convertible) < len(docs):
                odd = next(d["_id"] for d in docs if not _is_legacy_snapshot(d))
                raise ValueError(
                    f"{LEGACY_LATEST} holds {odd!r}, which is not a snapshot of the layout "
                    "before buckets; nothing was converted past it"
                )
            await self._write(
                group((d["model"], int(d["odoo_id"]), legacy_entry(d)) for d in convertible),
                Policy.NEWER,
            )
            # Only the version converted: one written meanwhile is converted next round.
            await legacy.bulk_write([_delete_if_unchanged(d) for d in convertible], ordered=False)
        await legacy.drop()


def _delete_if_unchanged(doc: dict[str, Any]) -> DeleteOne:
    version, content = doc["version"], doc["hash"]
    return DeleteOne({"_id": doc["_id"], "version": {"$eq": version}, "hash": {"$eq": content}})


def _is_legacy_snapshot(doc: dict[str, Any]) -> bool:
    return (
        isinstance(doc.get("model"), str)
        and isinstance(doc.get("odoo_id"), int)
        and isinstance(doc.get("hash"), str)
        and isinstance(doc.get("version"), int)
        and isinstance(doc.get("received_at"), datetime | int)
    )


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
            current = self.snapshots.get((s.model, s.odoo_id))
            # As the Mongo store: a record's latest only moves to a higher (or the same)
            # stream version; a writer that lost a race cannot put an older one back.
            if current is None or s.stream_version >= current.stream_version:
                self.snapshots[(s.model, s.odoo_id)] = s
