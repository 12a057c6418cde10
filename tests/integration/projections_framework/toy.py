"""A toy projection for the framework tests, and the reference fold it must equal.

Per stream: a running ``sum`` and ``count`` of ``Added`` amounts (``Cleared`` deletes the
stream's document); per stream type: a ``count``. Plain ``+=`` arithmetic on purpose: any
event applied twice, or lost, shows up in the numbers.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from pymongo import IndexModel

from domain.event_store import EventStore
from domain.events import NewEvent, RecordedEvent, StreamRef
from projections.framework import (
    CollectionSpec,
    DocumentTable,
    Notification,
    Projection,
    ProjectionContext,
    active_collection,
)

FlushHook = Callable[["Toy", ProjectionContext], Awaitable[None]]


class Toy(Projection):
    def __init__(
        self,
        name: str = "toy",
        *,
        poison_ok: Callable[[], bool] = lambda: False,
        between_writes: FlushHook | None = None,
    ) -> None:
        self.name = name
        self.collections = (
            CollectionSpec(f"{name}_totals", (IndexModel([("sum", 1)], name="sum"),)),
            CollectionSpec(f"{name}_types"),
        )
        self.totals = DocumentTable(f"{name}_totals")
        self.types = DocumentTable(f"{name}_types")
        self._poison_ok = poison_ok
        self._between_writes = between_writes
        self.flushes = 0

    def handlers(self) -> Mapping[str, Callable[[RecordedEvent], None]]:
        return {"Added": self._added, "Cleared": self._cleared}

    async def load(self, ctx: ProjectionContext) -> None:
        await self.totals.load(ctx)
        await self.types.load(ctx)

    def _added(self, event: RecordedEvent) -> None:
        if event.data.get("poison") and not self._poison_ok():
            raise ValueError(f"poison event {event.position}")
        doc = self.totals.edit(event.stream_id, event)
        if doc is not None:
            doc["sum"] = doc.get("sum", 0) + event.data["amount"]
            doc["count"] = doc.get("count", 0) + 1
        per_type = self.types.edit(event.stream_type, event)
        if per_type is not None:
            per_type["count"] = per_type.get("count", 0) + 1

    def _cleared(self, event: RecordedEvent) -> None:
        self.totals.delete(event.stream_id, event)

    async def flush(self, ctx: ProjectionContext) -> list[Notification]:
        self.flushes += 1
        changes = await self.totals.flush(ctx)
        if self._between_writes is not None:
            await self._between_writes(self, ctx)
        await self.types.flush(ctx)
        if ctx.rebuilding:
            return []
        return [Notification(f"{self.name}.totals", {"stream": c.key}) for c in changes]


# ---------------------------------------------------------------- reference fold
View = tuple[dict[str, dict[str, int]], dict[str, int]]


def fold(events: Iterable[RecordedEvent], skipped: Iterable[int] = ()) -> View:
    skip = set(skipped)
    totals: dict[str, dict[str, int]] = {}
    types: dict[str, int] = {}
    for event in events:
        if event.position in skip:
            continue
        if event.type == "Added":
            doc = totals.setdefault(event.stream_id, {"sum": 0, "count": 0})
            doc["sum"] += event.data["amount"]
            doc["count"] += 1
            types[event.stream_type] = types.get(event.stream_type, 0) + 1
        elif event.type == "Cleared":
            totals.pop(event.stream_id, None)
    return totals, types


async def all_events(store: EventStore) -> list[RecordedEvent]:
    return [e async for batch in store.read_all(0, 5000) for e in batch]


async def expected(store: EventStore, skipped: Iterable[int] = ()) -> View:
    return fold(await all_events(store), skipped)


async def read_generation(db: Any, name: str, generation: int) -> View:
    totals = {
        d["_id"]: {"sum": d["sum"], "count": d["count"]}
        async for d in db[f"{name}_totals__g{generation}"].find({})
    }
    types = {d["_id"]: d["count"] async for d in db[f"{name}_types__g{generation}"].find({})}
    return totals, types


async def read_view(db: Any, name: str = "toy") -> View:
    """What a reader sees: the active generation, resolved like the app's readers do."""
    totals_coll = await active_collection(db, name, f"{name}_totals")
    types_coll = await active_collection(db, name, f"{name}_types")
    totals = {d["_id"]: {"sum": d["sum"], "count": d["count"]} async for d in totals_coll.find({})}
    types = {d["_id"]: d["count"] async for d in types_coll.find({})}
    return totals, types


async def append_random(
    store: EventStore, commits: int, seed: int = 0, *, clears: bool = True, noise: bool = True
) -> int:
    """Append ``commits`` commits of 1-3 events over a few streams; return the head."""
    rng = random.Random(seed)
    head = 0
    for _ in range(commits):
        stream = StreamRef(rng.choice(["deal", "lead", "task"]), str(rng.randrange(12)))
        events = []
        for _ in range(rng.randint(1, 3)):
            roll = rng.random()
            if noise and roll < 0.15:
                events.append(NewEvent("Noise", {"x": rng.random()}))
            elif clears and roll < 0.2:
                events.append(NewEvent("Cleared", {}))
            else:
                events.append(NewEvent("Added", {"amount": rng.randint(1, 100)}))
        head = (await store.append(stream, events)).last_position
    return head


async def append_one(store: EventStore, stream: str, event_type: str, **data: Any) -> int:
    kind, _, ident = stream.partition("/")
    result = await store.append(StreamRef(kind, ident), [NewEvent(event_type, data)])
    return result.last_position
