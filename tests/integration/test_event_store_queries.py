"""Every filtered query the event store sends is answered through an index on the real
embedded store.

nx-27017 answers a plain equality on a field other than ``_id`` (and ``$in``) by scanning
the whole collection, where MongoDB uses the index; ``$eq`` is indexed on both. A scan of
``event_commits`` grows with the log and blocks the one-request-at-a-time store: a stream
lookup took ~210 ms among 24,655 commits. This records the commands of appends (new,
cached, uncached and conflicting streams, batches, idempotent replays) and reads, and asks
the store's planner about each ``find``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import monitoring

from domain.event_store import AppendRequest, ExpectedVersion
from domain.events import NewEvent, StreamRef
from infrastructure.eventstore.mongo import COMMITS, MongoEventStore
from infrastructure.mongo.client import create_client

pytestmark = pytest.mark.integration


class Finds(monitoring.CommandListener):
    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find" and event.command.get("find") == COMMITS:
            self.commands.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
async def recorded(mongo_url: str) -> AsyncIterator[tuple[Any, Finds]]:
    finds = Finds()
    client: Any = create_client(mongo_url, event_listeners=[finds])
    name = f"t_{uuid.uuid4().hex[:12]}"
    try:
        yield client[name], finds
    finally:
        await client.drop_database(name)
        await client.close()


def ev(n: int) -> NewEvent:
    return NewEvent(type="Something", data={"n": n})


async def test_the_event_stores_filtered_queries_use_an_index(
    recorded: tuple[Any, Finds],
) -> None:
    db, finds = recorded
    writer = MongoEventStore(db)
    await writer.ensure_indexes()
    streams = [StreamRef("opportunity", str(i)) for i in range(6)]
    for stream in streams:
        await writer.append(stream, [ev(1), ev(2)], ExpectedVersion.NO_STREAM)

    # A second instance knows no stream head: every kind of lookup happens here.
    cold = MongoEventStore(db)
    await cold.append(streams[0], [ev(3)], 2)
    await cold.append(streams[1], [ev(3)], ExpectedVersion.ANY)
    await cold.append_batch([AppendRequest(s, [ev(4)], ExpectedVersion.ANY) for s in streams[2:5]])
    await writer.append(streams[5], [ev(3)], 2)  # moves on behind cold's back
    with pytest.raises(Exception):  # noqa: B017 - a conflict of any kind; the plan matters
        await cold.append(streams[5], [ev(9)], 2)
    await cold.append(streams[5], [ev(4)], ExpectedVersion.ANY, idempotency_key="k-1")
    await cold.append(streams[5], [ev(4)], ExpectedVersion.ANY, idempotency_key="k-1")
    assert [e.version for e in await cold.read_stream(streams[5], from_version=2)] == [2, 3, 4]
    assert await cold.stream_version(streams[0]) == 3

    filtered = [c for c in finds.commands if c.get("filter")]
    assert len({str(sorted(c["filter"])) for c in filtered}) >= 3  # stream, stream+ver, idem
    for command in filtered:
        explain = {k: command[k] for k in ("find", "filter", "sort", "limit") if k in command}
        plan = (await db.command("explain", explain))["queryPlanner"]["winningPlan"]
        details = [step.get("detail", "") for step in plan]
        assert not any(d == f"SCAN {COMMITS}" for d in details), (command["filter"], details)
        assert any("USING INDEX" in d for d in details), (command["filter"], details)


async def test_an_append_after_reading_its_stream_looks_up_no_head(
    recorded: tuple[Any, Finds],
) -> None:
    """Read the stream, then append with the version read (an aggregate's load and save):
    the read already told the store where the stream stands. The head it noted is only a
    lower bound: a writer that moved the stream on since is still refused."""
    db, finds = recorded
    writer = MongoEventStore(db)
    await writer.ensure_indexes()
    stream, other = StreamRef("opportunity", "1"), StreamRef("opportunity", "2")
    await writer.append(stream, [ev(1), ev(2)], ExpectedVersion.NO_STREAM)
    await writer.append(other, [ev(1)], ExpectedVersion.NO_STREAM)

    reader = MongoEventStore(db)
    history = await reader.read_stream(stream)
    finds.commands.clear()
    result = await reader.append(stream, [ev(3)], history[-1].version)
    assert result.first_version == 3
    assert [c for c in finds.commands if c.get("filter")] == []  # no stream lookup

    # Cut short by a limit, what was read still bounds the head from below.
    assert [e.version for e in await reader.read_stream(other, limit=1)] == [1]
    await writer.append(other, [ev(2)], 1)  # behind the reader's back
    with pytest.raises(Exception, match="expected"):
        await reader.append(other, [ev(9)], 1)
    assert [e.version for e in await writer.read_stream(other)] == [1, 2]
