"""Leases: one writer per projection (and one rebuild per projection) across processes.

``projection_leases`` holds ``{_id: key, owner, expires}`` (epoch seconds). ``acquire``
renews the document if it is ours, else takes it with a conditional upsert if it has
expired. When someone else holds it, that filter matches nothing and the upsert collides on
``_id``: MongoDB raises DuplicateKeyError, the embedded store returns None; both mean "not
acquired".

The lease is for efficiency (no two processes doing the same work), not for correctness:
writes are guarded by positions, so a holder that lost its lease without noticing can only
rewrite what the new holder writes too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

LEASE_COLLECTION = "projection_leases"

log = logging.getLogger("pulse.projections")


def rebuild_key(name: str) -> str:
    return f"{name}#rebuild"


class Leases:
    def __init__(
        self,
        db: AsyncDatabase[Any],
        owner: str,
        duration: float,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._leases = db[LEASE_COLLECTION]
        self.owner = owner
        self.duration = duration
        self._clock = clock
        self._monotonic = monotonic
        self._valid_until: dict[str, float] = {}

    async def acquire(self, key: str) -> bool:
        """Take or renew ``key`` for ``duration`` seconds; False when another owner holds it."""
        started = self._monotonic()
        now = self._clock()
        expires = {"$set": {"owner": self.owner, "expires": now + self.duration}}
        # Two single-condition updates rather than one ``$or``: the embedded store ignores
        # ``_id`` in an update filter that has a top-level ``$or`` (it renewed other keys).
        doc = await self._leases.find_one_and_update(
            {"_id": key, "owner": self.owner}, expires, return_document=ReturnDocument.AFTER
        )
        if doc is None:
            try:
                doc = await self._leases.find_one_and_update(
                    {"_id": key, "expires": {"$lt": now}},
                    expires,
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                doc = None
        if doc is None or doc.get("owner") != self.owner:
            self._valid_until.pop(key, None)
            return False
        # Trust the lease locally for a little less than its term, counted from before the
        # request: clock skew and a slow round trip must not make us overstay it.
        self._valid_until[key] = started + self.duration * 0.8
        return True

    async def keep(self, key: str, on_lost: Callable[[], None]) -> None:
        """Renew ``key`` every third of its term until cancelled; call ``on_lost`` and
        return once another owner has it. A failed renewal is retried: the lease simply
        stops being ``valid`` locally if renewals keep failing until it runs out."""
        while True:
            await asyncio.sleep(self.duration / 3)
            try:
                if not await self.acquire(key):
                    on_lost()
                    return
            except Exception:
                log.warning("lease %s: renewal failed", key, exc_info=True)

    def valid(self, key: str) -> bool:
        return self._monotonic() < self._valid_until.get(key, 0.0)

    def remaining(self, key: str) -> float:
        """Seconds this process may still trust ``key`` (<= 0: not held)."""
        return self._valid_until.get(key, 0.0) - self._monotonic()

    async def renew_if_due(self, key: str) -> bool:
        """Renew ``key`` now if ``keep`` is late; False once the lease is not ours.

        For holders that run long CPU-bound stretches (a rebuild's fold): ``keep`` is a task
        on the same event loop and may get its turn too late, so they call this between
        batches. ``keep`` renews every third of the term, leaving ~0.47 of it; below 0.4 it
        is overdue. An expired lease is not silently re-taken: someone else may have it."""
        left = self.remaining(key)
        if left <= 0:
            return False
        if left >= self.duration * 0.4:
            return True
        try:
            return await self.acquire(key)
        except Exception:  # the store may be briefly unavailable: the term still counts
            log.warning("lease %s: renewal failed", key, exc_info=True)
            return self.valid(key)

    async def release(self, key: str) -> None:
        self._valid_until.pop(key, None)
        await self._leases.update_one({"_id": key, "owner": self.owner}, {"$set": {"expires": 0.0}})

    async def holders(self) -> dict[str, str]:
        """Unexpired leases: key -> owner."""
        now = self._clock()
        cursor = self._leases.find({"expires": {"$gte": now}})
        return {doc["_id"]: doc["owner"] async for doc in cursor}


class LeaseLost(Exception):
    """The lease expired or was taken over: stop writing, go back to acquiring."""
