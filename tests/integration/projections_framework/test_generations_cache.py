"""The readers' generation cache: one query refreshes every projection, an entry never
outlives the TTL counted from when it was asked, and a server's refresher keeps entries
fresh so that requests do not look them up themselves."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pymongo import monitoring

from domain.tasks import stop_task
from infrastructure.mongo.client import create_client
from projections.framework.checkpoints import STATE_COLLECTION
from projections.framework.generations import ActiveGenerations, keep_active_fresh

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class StateReads(monitoring.CommandListener):
    """Counts the find commands on ``projection_state`` of one database: the refresher's
    (every projection at once, ``$in``) and readers' own lookups (one ``_id``)."""

    def __init__(self, db_name: str) -> None:
        self.db_name = db_name
        self.count = 0
        self.lookups = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if (
            event.command_name == "find"
            and event.database_name == self.db_name
            and event.command.get("find") == STATE_COLLECTION
        ):
            one = not isinstance(event.command.get("filter", {}).get("_id"), dict)
            self.count += 1
            self.lookups += one

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def set_generation(db: Any, name: str, generation: int) -> None:
    await db[STATE_COLLECTION].update_one(
        {"_id": name}, {"$set": {"generation": generation}}, upsert=True
    )


async def test_one_refresh_reads_every_projection_and_expires_from_the_question(
    mongo_db: Any,
) -> None:
    clock = Clock()
    cache = ActiveGenerations(ttl=1.0, clock=clock)
    await set_generation(mongo_db, "a", 3)
    await set_generation(mongo_db, "b", 7)
    await cache.refresh(mongo_db, ["a", "b", "never_started"])
    await mongo_db[STATE_COLLECTION].delete_many({})  # answers from now on come from the cache
    assert [await cache.generation(mongo_db, n) for n in ("a", "b", "never_started")] == [
        3,
        7,
        1,
    ]
    clock.now += 0.99
    assert await cache.generation(mongo_db, "b") == 7
    clock.now += 0.02  # a full TTL after the refresh was asked: looked up again
    assert await cache.generation(mongo_db, "b") == 1


async def test_the_refresher_keeps_entries_fresh_and_follows_a_switch(
    mongo_url: str, mongo_db: Any
) -> None:
    reads = StateReads(mongo_db.name)
    client = create_client(mongo_url, event_listeners=[reads])
    db = client[mongo_db.name]
    cache = ActiveGenerations(ttl=0.2)
    await set_generation(db, "a", 1)
    task = asyncio.create_task(keep_active_fresh(db, ["a", "b"], cache))
    try:
        await asyncio.sleep(0.05)
        before = reads.count
        assert before >= 1
        # Readers over three TTLs: every answer from the cache, none of them a lookup...
        seen = set()
        for _ in range(30):
            seen.add(await cache.generation(db, "a"))
            await asyncio.sleep(0.02)
        refreshes = reads.count - before
        # ...while the refresher asked about once per half TTL, for both projections at once.
        assert reads.lookups == 0
        assert 3 <= refreshes <= 8, refreshes
        assert seen == {1}
        await set_generation(db, "a", 2)  # a rebuild's switch
        await asyncio.sleep(0.25)
        assert await cache.generation(db, "a") == 2
    finally:
        await stop_task(task)
        await client.close()
    assert task.cancelled()
