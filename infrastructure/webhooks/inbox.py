"""The durable webhook inbox (MongoDB).

A delivery is stored here BEFORE Pulse answers 202, so an accepted webhook survives a crash
or an Odoo outage. Signed deliveries use ``sig:<signature>`` as the document id: the insert
itself is the replay check (a replayed signature is refused by the ``_id`` index), so
accepting and remembering the signature are one atomic write.

Accepts are group-committed: deliveries arriving while an insert is in flight are written
together by the next ``insert_many`` (unordered, so one replay fails only itself), each
answered when its own write is known. Nothing waits on a timer: alone, a delivery is
written at once; under a burst, one store round trip carries many. It saves store round
trips, not much time: with 1,000 subscribers and 200 posts/s offered, accepts went from
73/s to 78/s (docs/RELIABILITY.md "Load": that ceiling turned out to be the load
harness's own HTTP client).
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import bson
from bson import Binary
from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, WriteError

from domain.tasks import consume_outcome

INBOX = "webhook_inbox"
PENDING, PROCESSING, DONE = "pending", "processing", "done"
CLAIM_LEASE_MS = 120_000
CLAIM_ROUNDS = 5  # looks for due deliveries per claim_batch while other drainers win them all
CLAIM_FIELDS = {"model": 1, "odoo_id": 1, "attempts": 1, "due": 1}
MAX_BODY_DEPTH = 100  # MongoDB refuses documents nested deeper than 100 levels
MAX_ACCEPT_BATCH = 256  # deliveries per group commit (a 1 MiB body each at most)
DUPLICATE_KEY = 11000


def now_ms() -> int:
    """Epoch milliseconds. ``due`` is a number, not a BSON date: nx-27017 stores a date
    written by ``$set`` as a string, which then never compares as due."""
    return int(time.time() * 1000)


class ReplayedDelivery(Exception):
    pass


def stored_body(body: dict[str, Any], raw: bytes) -> dict[str, Any]:
    """The delivery's body as the inbox keeps it (for audit: processing re-reads the record
    from Odoo and needs only the model and id).

    Valid JSON can hold what a BSON document cannot: a NUL in a key, an integer beyond 64
    bits, a lone surrogate, nesting deeper than 100 levels, and NaN/Infinity (which Python's
    json, Odoo's included, writes; MongoDB stores them but the embedded store keeps JSON
    text). Such a delivery is still accepted (it names a record that changed), with its
    exact bytes kept instead, so nothing accepted is lost and the insert cannot fail on it.
    """
    if _storable(body):
        return {"body": body}
    return {"body": None, "body_raw": Binary(raw)}


def _storable(value: Any) -> bool:
    if not _finite(value, depth=0):  # first: it also bounds the nesting bson.encode walks
        return False
    try:
        bson.encode({"body": value})
    except (bson.InvalidDocument, OverflowError, UnicodeError, RecursionError, ValueError):
        return False
    return True


def _finite(value: Any, depth: int) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if depth > MAX_BODY_DEPTH:
        return False
    if isinstance(value, dict):
        return all(_finite(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v, depth + 1) for v in value)
    return True


@dataclass(frozen=True, slots=True)
class InboxEntry:
    id: str
    model: str
    odoo_id: int
    attempts: int


class WebhookInbox:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self._inbox = db[INBOX]
        self._accepting: list[tuple[dict[str, Any], asyncio.Future[None]]] = []
        self._committer: asyncio.Task[None] | None = None

    async def ensure_indexes(self) -> None:
        await self._inbox.create_indexes(
            [IndexModel([("status", ASCENDING), ("due", ASCENDING)], name="status_due")]
        )

    async def accept(
        self,
        delivery_id: str,
        model: str,
        odoo_id: int,
        body: dict[str, Any],
        signed: bool,
        raw: bytes = b"",
    ) -> None:
        doc = {
            "_id": delivery_id,
            "model": model,
            "odoo_id": odoo_id,
            **stored_body(body, raw),
            "signed": signed,
            "received_at": datetime.now(UTC),
            "status": PENDING,
            "due": now_ms(),
            "attempts": 0,
            "last_error": None,
        }
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._accepting.append((doc, written))
        if self._committer is None or self._committer.done():
            self._committer = asyncio.create_task(self._commit_accepts())
        try:
            await asyncio.shield(written)
        except asyncio.CancelledError:
            # A caller that gives up (client gone) leaves the write to finish: it is
            # durable, just never answered, as when a connection drops after an insert.
            written.add_done_callback(consume_outcome)
            raise

    async def _commit_accepts(self) -> None:
        """Write queued accepts, a batch per round trip, until none are left."""
        while self._accepting:
            batch = self._accepting[:MAX_ACCEPT_BATCH]
            del self._accepting[:MAX_ACCEPT_BATCH]
            try:
                failures = await self._insert_batch([doc for doc, _ in batch])
            except Exception as exc:  # the store failed: this batch fails, the next may not
                failures = dict.fromkeys(range(len(batch)), exc)
            except BaseException:  # cancelled (shutting down): nothing queued is written
                batch += self._accepting
                self._accepting.clear()
                for _, written in batch:
                    if not written.done():
                        written.set_exception(RuntimeError("shutting down"))
                raise
            for index, (_, written) in enumerate(batch):
                if not written.done():
                    failure = failures.get(index)
                    if failure is None:
                        written.set_result(None)
                    else:
                        written.set_exception(failure)

    async def _insert_batch(self, docs: list[dict[str, Any]]) -> dict[int, Exception]:
        """Insert ``docs``; the failure of each one that was not written, by index."""
        if len(docs) == 1:
            try:
                await self._inbox.insert_one(docs[0])
            except DuplicateKeyError:
                return {0: ReplayedDelivery()}
            return {}
        try:
            await self._inbox.insert_many(docs, ordered=False)
        except BulkWriteError as err:
            if err.details.get("writeConcernErrors"):
                raise  # written, maybe, but not as durably as asked: fail them all
            failures: dict[int, Exception] = {}
            for error in err.details.get("writeErrors", []):
                code = error.get("code")
                failures[int(error["index"])] = (
                    ReplayedDelivery()
                    if code == DUPLICATE_KEY
                    else WriteError(str(error.get("errmsg", "write failed")), code, error)
                )
            return failures
        return {}

    async def claim_batch(self, limit: int) -> list[InboxEntry]:
        """Take up to ``limit`` due deliveries for processing, oldest due first: pending ones
        whose time has come and processing ones whose claimant's lease ran out (it died).

        Each document is claimed atomically: the update re-checks that it is still due and
        stamps a fresh claim token, so two drainers (in two processes) never both hold one
        while its lease runs. Store round trips: two finds (sent together, answered by the
        ``status_due`` index), one ``update_many`` (by ``_id``), and a read-back only when
        another drainer took some of the candidates first.

        Each status is queried apart with ``$eq``: nx-27017 turns a plain equality (and
        ``$in``) into SQL that also matches arrays, which no index serves, so the old
        one-at-a-time claim scanned the whole inbox (done deliveries included, kept for
        audit) and sorted every due one: ~20 ms per claim with a 12,000 backlog, ~40 ms
        with nothing due behind 30,000 done. With ``$eq`` on the index's first key the
        index answers both the filter and the order by ``due``: ~1 ms either way, and
        ~10 ms for a whole claim of 64 (the update writes 64 documents). So the order
        stays exactly oldest due first. Real MongoDB reads ``$eq`` as plain equality.
        """
        if limit < 1:
            return []
        for _ in range(CLAIM_ROUNDS):
            candidates = await self._due(limit)
            if not candidates:
                return []
            claimed = await self._claim(candidates)
            if claimed:
                return claimed
            # Another drainer took every one of them first; they are no longer due, so the
            # next look finds the ones after them (an empty answer should mean none are due).
        return []

    async def _due(self, limit: int) -> list[dict[str, Any]]:
        now = now_ms()
        pending, expired = await asyncio.gather(
            *(
                self._inbox.find({"status": {"$eq": status}, "due": {"$lte": now}}, CLAIM_FIELDS)
                .sort("due", ASCENDING)
                .limit(limit)
                .to_list()
                for status in (PENDING, PROCESSING)
            )
        )
        # Stable: equal due times keep the index's order (the order they were accepted in).
        return sorted([*pending, *expired], key=lambda d: d["due"])[:limit]

    async def _claim(self, candidates: list[dict[str, Any]]) -> list[InboxEntry]:
        ids = [d["_id"] for d in candidates]
        token = uuid.uuid4().hex
        now = now_ms()
        claimed = await self._inbox.update_many(
            {"_id": {"$in": ids}, "status": {"$in": [PENDING, PROCESSING]}, "due": {"$lte": now}},
            {"$set": {"status": PROCESSING, "due": now + CLAIM_LEASE_MS, "claim": token}},
        )
        if claimed.modified_count < len(ids):  # another drainer won some: which are ours?
            cursor = self._inbox.find({"_id": {"$in": ids}, "claim": token}, {"_id": 1})
            mine = {d["_id"] async for d in cursor}
            candidates = [d for d in candidates if d["_id"] in mine]
        return [
            InboxEntry(d["_id"], d["model"], int(d["odoo_id"]), int(d["attempts"]))
            for d in candidates
        ]

    async def done_many(self, results: Mapping[str, dict[str, Any]]) -> None:
        """Mark deliveries processed, each with its own result, in one round trip."""
        if not results:
            return
        at = now_ms()
        await self._inbox.bulk_write(
            [
                UpdateOne(
                    {"_id": delivery_id},
                    {
                        "$set": {
                            "status": DONE,
                            "processed_at_ms": at,
                            "result": result,
                            "last_error": None,
                        }
                    },
                )
                for delivery_id, result in results.items()
            ],
            ordered=False,
        )

    async def retry_later(self, entry: InboxEntry, error: str, delay: float) -> None:
        await self.retry_many([(entry, error, delay)])

    async def retry_many(self, failures: Sequence[tuple[InboxEntry, str, float]]) -> None:
        """Put deliveries back for another attempt, each after its own delay (attempts
        differ), in one round trip."""
        if not failures:
            return
        at = now_ms()
        await self._inbox.bulk_write(
            [
                UpdateOne(
                    {"_id": entry.id},
                    {
                        "$set": {
                            "status": PENDING,
                            "last_error": error,
                            "due": at + int(delay * 1000),
                        },
                        "$inc": {"attempts": 1},
                    },
                )
                for entry, error, delay in failures
            ],
            ordered=False,
        )

    async def counts(self) -> dict[str, int]:
        out = {PENDING: 0, PROCESSING: 0, DONE: 0}
        for status in out:
            out[status] = await self._inbox.count_documents({"status": status})
        return out

    async def get(self, delivery_id: str) -> dict[str, Any] | None:
        return await self._inbox.find_one({"_id": delivery_id})
