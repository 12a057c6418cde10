"""Generations: each projection's collections exist once per generation (``name__g3``).

Readers resolve the active generation from ``projection_state`` with
:func:`active_collection`, cached in-process for ``ttl`` seconds. A rebuild switches the
generation and then waits longer than that TTL before it drops the old collections, so a
reader holding a stale cache entry reads the old (complete, briefly stale) data, never an
empty collection.

A server keeps its entries fresh in the background (:func:`keep_active_fresh`: one query
for every projection each half TTL) instead of letting a request find them expired: a
``dashboard`` request after a second of quiet otherwise paid one extra round trip per
read model it touched (three, before its own reads), a third of its latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from projections.framework.checkpoints import STATE_COLLECTION
from projections.framework.projection import Projection, parse_physical_name, physical_name

DEFAULT_TTL = 1.0

Stamp = tuple[int, int, str]
"""A projection's generation, content position and checkpoint incarnation: while all three
stand still, so do its documents (for a projection that records a content position)."""

log = logging.getLogger("pulse.projections")


async def create_generation(
    db: AsyncDatabase[Any], projection: Projection, generation: int
) -> None:
    for spec in projection.collections:
        collection = db[physical_name(spec.base_name, generation)]
        if spec.indexes:
            await collection.create_indexes(list(spec.indexes))


async def drop_generations(
    db: AsyncDatabase[Any], projection: Projection, which: Callable[[int], bool]
) -> list[str]:
    """Drop the projection's collections of every generation for which ``which`` is true."""
    bases = {spec.base_name for spec in projection.collections}
    dropped: list[str] = []
    for name in await db.list_collection_names():
        parsed = parse_physical_name(name)
        if parsed is not None and parsed[0] in bases and which(parsed[1]):
            await db.drop_collection(name)
            dropped.append(name)
    return dropped


async def drop_generations_before(
    db: AsyncDatabase[Any], projection: Projection, generation: int
) -> list[str]:
    """Only older ones: a newer generation may be a rebuild that another process has just
    started, and only the holder of the rebuild lease may discard it."""
    return await drop_generations(db, projection, lambda g: g < generation)


_background: set[asyncio.Task[None]] = set()


def drop_older_later(
    db: AsyncDatabase[Any], projection: Projection, generation: int, delay: float
) -> None:
    """``drop_generations_before`` in the background after ``delay`` (best effort)."""

    async def drop() -> None:
        await asyncio.sleep(delay)
        with contextlib.suppress(Exception):
            await drop_generations_before(db, projection, generation)

    task = asyncio.create_task(drop())
    _background.add(task)  # keep a reference until done, or the task may be collected
    task.add_done_callback(_background.discard)


class ActiveGenerations:
    """A short-lived cache of each projection's active generation, per database."""

    def __init__(self, ttl: float = DEFAULT_TTL, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self._clock = clock
        # (db, projection) -> (generation, the last refresh's (generation, content_position,
        # incarnation) or None when only the generation was looked up, expiry).
        self._entries: dict[tuple[str, str], tuple[int, Stamp | None, float]] = {}

    async def generation(self, db: AsyncDatabase[Any], projection: str) -> int:
        key = (db.name, projection)
        hit = self._entries.get(key)
        now = self._clock()
        if hit is not None and hit[2] > now:
            return hit[0]
        doc = await db[STATE_COLLECTION].find_one({"_id": projection}, {"generation": 1})
        # No state yet: the runner will create generation 1, so that is what readers read.
        generation = int(doc.get("generation", 1)) if doc else 1
        self._entries[key] = (generation, None, now + self.ttl)
        return generation

    async def refresh(self, db: AsyncDatabase[Any], projections: Iterable[str]) -> None:
        """Re-read the generation of every one of ``projections`` in one query."""
        names = sorted(set(projections))
        # Valid for ttl from when the question was asked, not answered (as in generation()):
        # an answer older than the switch must expire before the old collections are dropped.
        expires = self._clock() + self.ttl
        fields = {"generation": 1, "content_position": 1, "incarnation": 1}
        found = {
            doc["_id"]: (
                int(doc.get("generation", 1)),
                int(doc.get("content_position", 0)),
                str(doc.get("incarnation", "")),
            )
            async for doc in db[STATE_COLLECTION].find({"_id": {"$in": names}}, fields)
        }
        for name in names:
            stamp = found.get(name, (1, 0, ""))
            self._entries[(db.name, name)] = (stamp[0], stamp, expires)

    def stamp(self, db: AsyncDatabase[Any], projection: str) -> Stamp | None:
        """The projection's (generation, content_position, incarnation) as a refresh at most
        ``ttl`` ago saw them; None when there was none (no refresher, or it fails): then
        nobody should keep documents on the strength of it."""
        hit = self._entries.get((db.name, projection))
        if hit is None or hit[2] <= self._clock():
            return None
        return hit[1]

    def invalidate(self, projections: Iterable[str] | None = None) -> None:
        if projections is None:
            self._entries.clear()
            return
        names = set(projections)
        for key in [k for k in self._entries if k[1] in names]:
            del self._entries[key]


_default = ActiveGenerations()


async def keep_active_fresh(
    db: AsyncDatabase[Any],
    projections: Iterable[str],
    cache: ActiveGenerations | None = None,
    interval: float | None = None,
) -> None:
    """Refresh the cached generations of ``projections`` every ``interval`` (half the TTL by
    default) until cancelled. A failed refresh is retried at the next tick; meanwhile the
    entries expire as usual and readers resolve for themselves."""
    cache = cache or _default
    names = list(projections)
    pause = cache.ttl / 2 if interval is None else interval
    while True:
        try:
            await cache.refresh(db, names)
        except Exception as err:  # the readers' own lookups report an outage
            log.debug("generation refresh failed: %r", err)
        await asyncio.sleep(pause)


async def active_collection(
    db: AsyncDatabase[Any], projection: str, base_name: str
) -> AsyncCollection[Any]:
    """The collection readers should query for ``base_name`` of ``projection`` right now."""
    return db[await active_name(db, projection, base_name)]


async def active_name(db: AsyncDatabase[Any], projection: str, base_name: str) -> str:
    return physical_name(base_name, await _default.generation(db, projection))


def content_stamp(db: AsyncDatabase[Any], projection: str) -> Stamp | None:
    """``ActiveGenerations.stamp`` of the process-wide cache (kept by ``keep_active_fresh``)."""
    return _default.stamp(db, projection)


def invalidate_active(projections: Iterable[str] | None = None) -> None:
    """Forget cached generations (all, or those of ``projections``); the next read re-resolves."""
    _default.invalidate(projections)
