"""A separate OS process that appends to the shared event store (used by the tailing test).

Usage: python -m tests.integration.append_worker URL DB WORKER_ID COMMITS
Prints one JSON line: {"worker": id, "event_ids": [...]} with the ids it appended.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys

from domain.event_store import ExpectedVersion
from domain.events import NewEvent, StreamRef
from infrastructure.eventstore.mongo import MongoEventStore
from infrastructure.mongo.client import create_client


async def run(url: str, db_name: str, worker: int, commits: int) -> None:
    client = create_client(url)
    store = MongoEventStore(client[db_name])
    rng = random.Random(worker)
    ids: list[str] = []
    for n in range(commits):
        # Mix shared streams (contended versions) and private ones, 1-3 events per commit.
        stream = (
            StreamRef("shared", str(rng.randrange(5)))
            if n % 2
            else StreamRef("private", f"{worker}-{n % 7}")
        )
        events = [
            NewEvent(type="Appended", data={"w": worker, "n": n, "k": k})
            for k in range(rng.randint(1, 3))
        ]
        await store.append(stream, events, ExpectedVersion.ANY)
        ids.extend(e.id for e in events)
    await client.close()
    print(json.dumps({"worker": worker, "event_ids": ids}))


if __name__ == "__main__":
    asyncio.run(run(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
