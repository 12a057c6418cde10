"""The durable webhook inbox (MongoDB).

A delivery is stored here BEFORE Pulse answers 202, so an accepted webhook survives a crash
or an Odoo outage. Signed deliveries use ``sig:<signature>`` as the document id: the insert
itself is the replay check (a replayed signature is refused by the ``_id`` index), so
accepting and remembering the signature are one atomic write.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import bson
from bson import Binary
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

INBOX = "webhook_inbox"
PENDING, PROCESSING, DONE = "pending", "processing", "done"
CLAIM_LEASE_MS = 120_000
MAX_BODY_DEPTH = 100  # MongoDB refuses documents nested deeper than 100 levels


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
        try:
            await self._inbox.insert_one(doc)
        except DuplicateKeyError as err:
            raise ReplayedDelivery from err

    async def claim(self) -> InboxEntry | None:
        """Take the oldest due delivery (or one whose claimant died) for processing."""
        now = now_ms()
        doc = await self._inbox.find_one_and_update(
            {"status": {"$in": [PENDING, PROCESSING]}, "due": {"$lte": now}},
            {"$set": {"status": PROCESSING, "due": now + CLAIM_LEASE_MS}},
            sort=[("due", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        return InboxEntry(doc["_id"], doc["model"], int(doc["odoo_id"]), int(doc["attempts"]))

    async def done(self, entry: InboxEntry, result: dict[str, Any]) -> None:
        await self._inbox.update_one(
            {"_id": entry.id},
            {
                "$set": {
                    "status": DONE,
                    "processed_at_ms": now_ms(),
                    "result": result,
                    "last_error": None,
                }
            },
        )

    async def retry_later(self, entry: InboxEntry, error: str, delay: float) -> None:
        await self._inbox.update_one(
            {"_id": entry.id},
            {
                "$set": {
                    "status": PENDING,
                    "last_error": error,
                    "due": now_ms() + int(delay * 1000),
                },
                "$inc": {"attempts": 1},
            },
        )

    async def counts(self) -> dict[str, int]:
        out = {PENDING: 0, PROCESSING: 0, DONE: 0}
        for status in out:
            out[status] = await self._inbox.count_documents({"status": status})
        return out

    async def get(self, delivery_id: str) -> dict[str, Any] | None:
        return await self._inbox.find_one({"_id": delivery_id})
