"""One contract for every EventStore adapter: in-memory and MongoDB (on the real embedded store)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from domain.errors import ConcurrencyError, UpcastChainError
from domain.event_store import AppendRequest, AppendResult, EventQuery, EventStore, ExpectedVersion
from domain.events import NewEvent, StreamRef
from domain.upcasting import UpcasterRegistry
from infrastructure.eventstore.memory import InMemoryEventStore
from infrastructure.eventstore.mongo import MongoEventStore

Factory = Callable[[UpcasterRegistry | None], Any]


@pytest.fixture(params=["memory", "mongo"])
async def make_store(
    request: pytest.FixtureRequest, mongo_client: AsyncMongoClient[Any]
) -> AsyncIterator[Factory]:
    """Builds stores over ONE shared backing log, so two instances act like two processes."""
    if request.param == "memory":
        shared: dict[str, InMemoryEventStore] = {}

        def memory(upcasters: UpcasterRegistry | None = None) -> InMemoryEventStore:
            if "store" not in shared:
                shared["store"] = InMemoryEventStore(upcasters)
            return shared["store"]

        yield memory
    else:
        name = f"t_{uuid.uuid4().hex[:12]}"
        db = mongo_client[name]
        first = MongoEventStore(db)
        await first.ensure_indexes()

        def mongo(upcasters: UpcasterRegistry | None = None) -> MongoEventStore:
            return MongoEventStore(db, upcasters)

        yield mongo
        await mongo_client.drop_database(name)


@pytest.fixture
def store(make_store: Factory) -> EventStore:
    return make_store(None)  # type: ignore[no-any-return]


def ev(kind: str = "Something", **data: Any) -> NewEvent:
    return NewEvent(type=kind, data=data)


OPP = StreamRef("opportunity", "1")
OTHER = StreamRef("opportunity", "2")


async def test_append_assigns_versions_and_positions(store: EventStore) -> None:
    first = await store.append(OPP, [ev(n=1), ev(n=2)], ExpectedVersion.NO_STREAM)
    second = await store.append(OTHER, [ev(n=3)], ExpectedVersion.NO_STREAM)
    third = await store.append(OPP, [ev(n=4)], 2)
    assert (first.first_version, first.last_version) == (1, 2)
    assert (first.first_position, first.last_position) == (1, 2)
    assert (second.first_version, second.first_position) == (1, 3)
    assert (third.first_version, third.first_position) == (3, 4)
    events = await store.read_stream(OPP)
    assert [e.data["n"] for e in events] == [1, 2, 4]
    assert [e.version for e in events] == [1, 2, 3]
    assert [e.position for e in events] == [1, 2, 4]
    assert await store.stream_version(OPP) == 3
    assert await store.stream_version(StreamRef("opportunity", "404")) == 0
    assert await store.head_position() == 4


async def test_every_recorded_event_carries_the_full_envelope(store: EventStore) -> None:
    occurred = datetime(2026, 3, 1, 12, 30, 15, 123000, tzinfo=UTC)
    new = NewEvent(
        type="OpportunityStageChanged",
        data={"from": 1, "to": 2, "nested": {"list": [1, "a", None], "ok": True}},
        schema_version=1,
        occurred_at=occurred,
        correlation_id="corr-1",
        causation_id="cause-1",
        source="webhook",
    )
    before = datetime.now(UTC) - timedelta(seconds=1)
    await store.append(OPP, [new])
    (got,) = await store.read_stream(OPP)
    assert got.id == new.id
    assert got.type == "OpportunityStageChanged"
    assert got.schema_version == 1
    assert (got.stream_type, got.stream_id) == ("opportunity", "1")
    assert (got.version, got.position) == (1, 1)
    assert got.occurred_at == occurred
    assert before <= got.recorded_at <= datetime.now(UTC) + timedelta(seconds=1)
    assert got.recorded_at.tzinfo is not None
    assert (got.correlation_id, got.causation_id, got.source) == ("corr-1", "cause-1", "webhook")
    assert got.data == {"from": 1, "to": 2, "nested": {"list": [1, "a", None], "ok": True}}


async def test_no_stream_expectation_conflicts_with_an_existing_stream(store: EventStore) -> None:
    await store.append(OPP, [ev()], ExpectedVersion.NO_STREAM)
    with pytest.raises(ConcurrencyError) as err:
        await store.append(OPP, [ev()], ExpectedVersion.NO_STREAM)
    assert err.value.actual == 1
    with pytest.raises(ConcurrencyError):
        await store.append(OPP, [ev()], 0)


@pytest.mark.parametrize("wrong", [0, 1, 3, 7])
async def test_exact_expectation_must_equal_the_stream_version(
    store: EventStore, wrong: int
) -> None:
    await store.append(OPP, [ev(), ev()], ExpectedVersion.NO_STREAM)  # versions 1-2
    with pytest.raises(ConcurrencyError):
        await store.append(OPP, [ev(lost=True)], wrong)
    result = await store.append(OPP, [ev()], 2)
    assert result.first_version == 3
    assert all(not e.data.get("lost") for e in await store.read_stream(OPP))


async def test_any_expectation_appends_at_the_end(store: EventStore) -> None:
    await store.append(OPP, [ev()], ExpectedVersion.ANY)
    result = await store.append(OPP, [ev(), ev()], ExpectedVersion.ANY)
    assert (result.first_version, result.last_version) == (2, 3)


async def test_a_refused_commit_stores_none_of_its_events(store: EventStore) -> None:
    await store.append(OPP, [ev()], ExpectedVersion.NO_STREAM)
    with pytest.raises(ConcurrencyError):
        await store.append(OPP, [ev(bad=1), ev(bad=2), ev(bad=3)], 0)
    assert await store.head_position() == 1
    assert [e.data for e in await store.read_after(0)] == [{}]


async def test_concurrent_writers_with_the_same_expectation_one_wins(store: EventStore) -> None:
    await store.append(OPP, [ev()], ExpectedVersion.NO_STREAM)
    results = await asyncio.gather(
        *(store.append(OPP, [ev(w=i)], 1) for i in range(8)), return_exceptions=True
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, ConcurrencyError)]
    assert len(wins) == 1 and len(losses) == 7
    assert await store.stream_version(OPP) == 2


async def test_two_instances_with_stale_caches_never_corrupt_the_log(make_store: Factory) -> None:
    a, b = make_store(None), make_store(None)
    await a.append(OPP, [ev(w="a")])
    await b.append(OPP, [ev(w="b")])  # b has never seen a's commit
    await a.append(OTHER, [ev(w="a")])  # a's cached head is stale
    await a.append(OPP, [ev(w="a")])  # a's cached stream version is stale
    events = await b.read_after(0)
    assert [e.position for e in events] == [1, 2, 3, 4]
    assert [e.version for e in await a.read_stream(OPP)] == [1, 2, 3]
    with pytest.raises(ConcurrencyError):
        await b.append(OPP, [ev()], 2)


async def test_idempotency_key_stores_once_and_returns_the_first_result(store: EventStore) -> None:
    first = await store.append(OPP, [ev(n=1)], idempotency_key="webhook:abc")
    again = await store.append(OPP, [ev(n=2)], idempotency_key="webhook:abc")
    other = await store.append(OPP, [ev(n=3)], idempotency_key="webhook:def")
    assert not first.duplicate and again.duplicate and not other.duplicate
    assert (again.first_position, again.last_version) == (first.first_position, first.last_version)
    assert [e.data["n"] for e in await store.read_stream(OPP)] == [1, 3]


async def test_idempotency_holds_across_instances(make_store: Factory) -> None:
    a, b = make_store(None), make_store(None)
    first = await a.append(OPP, [ev(n=1)], idempotency_key="sync:1")
    again = await b.append(OTHER, [ev(n=2)], idempotency_key="sync:1")
    assert again.duplicate and again.first_position == first.first_position
    assert await b.head_position() == 1


async def test_a_replay_is_a_duplicate_even_after_the_stream_moved_on(
    make_store: Factory,
) -> None:
    """A process killed after its append but before it noted the result replays the same
    commit with its old expected version: the key answers, not a ConcurrencyError."""
    a = make_store(None)
    await a.append(OPP, [ev(n=1)], 0, idempotency_key="k1")
    second = await a.append(OPP, [ev(n=2)], 1, idempotency_key="k2")
    await a.append(OPP, [ev(n=3)], 2, idempotency_key="k3")
    replayed = await make_store(None).append(OPP, [ev(n=2)], 1, idempotency_key="k2")
    assert replayed.duplicate and replayed.first_position == second.first_position
    with pytest.raises(ConcurrencyError):  # without the key it is a real conflict
        await make_store(None).append(OPP, [ev(n=2)], 1, idempotency_key="k-new")
    assert [e.data["n"] for e in await a.read_stream(OPP)] == [1, 2, 3]


async def test_read_after_returns_whole_ordered_batches(store: EventStore) -> None:
    for i in range(10):
        await store.append(StreamRef("s", str(i % 3)), [ev(i=i, j=0), ev(i=i, j=1)])
    everything = await store.read_after(0, limit=1000)
    assert [e.position for e in everything] == list(range(1, 21))
    assert [e.position for e in await store.read_after(5, limit=4)][:4] == [6, 7, 8, 9]
    assert await store.read_after(20) == []
    batches = [batch async for batch in store.read_all(after=3, batch_size=4)]
    flat = [e.position for batch in batches for e in batch]
    assert flat == list(range(4, 21))
    assert all(1 <= len(batch) <= 5 for batch in batches)


async def test_what_an_instance_appended_is_handed_over_as_a_read_returns_it(
    make_store: Factory,
) -> None:
    """``recently_appended``: what the live tail uses instead of reading back this
    process's own commits. Equal to ``read_after`` (types included: lists, not the tuples a
    record's data may hold before it is stored), whole commits, None past what it holds."""
    await make_store(None).append(OTHER, [ev(i=0)])  # for Mongo: another instance's commit
    store = make_store(None)
    head = await store.head_position()
    await store.append(OPP, [ev(i=1, tags=("a", "b")), ev(i=2)])
    await store.append(OTHER, [ev(i=3, nested={"deep": (1, 2)})])
    handed = store.recently_appended(head, 100)
    assert handed == await store.read_after(head, 100)
    assert [e.position for e in handed] == [head + 1, head + 2, head + 3]
    assert [e.position for e in store.recently_appended(head, 1)][:1] == [head + 1]
    assert store.recently_appended(head + 3, 100) is None  # nothing after the head
    assert store.recently_appended(-5, 100) is None
    if isinstance(store, MongoEventStore):
        assert handed[0].data["tags"] == ["a", "b"]  # as stored (BSON has no tuples)
        # Another instance (another process) did not append them: it must read them.
        assert make_store(None).recently_appended(head, 100) is None
        # A commit that starts past the position asked for is not handed over: the event
        # in between was written by someone else.
        assert store.recently_appended(head - 1, 100) is None


async def test_query_filters_and_paginates(store: EventStore) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(12):
        stream = StreamRef("opportunity" if i % 2 else "user", str(i % 4))
        kind = "Won" if i % 3 == 0 else "Changed"
        await store.append(
            stream, [NewEvent(type=kind, data={"i": i}, occurred_at=t0 + timedelta(hours=i))]
        )
    page = await store.query(EventQuery(stream_type="opportunity"), limit=4)
    assert [e.data["i"] for e in page.events] == [1, 3, 5, 7]
    assert page.next_after is not None
    rest = await store.query(EventQuery(stream_type="opportunity"), page.next_after, limit=4)
    assert [e.data["i"] for e in rest.events] == [9, 11] and rest.next_after is None
    by_id = await store.query(EventQuery(stream_type="opportunity", stream_id="1"))
    assert [e.data["i"] for e in by_id.events] == [1, 5, 9]
    by_type = await store.query(EventQuery(types=["Won"]))
    assert [e.data["i"] for e in by_type.events] == [0, 3, 6, 9]
    window = EventQuery(time_from=t0 + timedelta(hours=2), time_to=t0 + timedelta(hours=5))
    assert [e.data["i"] for e in (await store.query(window)).events] == [2, 3, 4]


async def test_old_schema_versions_are_upcast_on_read(make_store: Factory) -> None:
    writer = make_store(None)
    old = NewEvent(type="RevenueChanged", data={"amount": 5}, schema_version=1)
    await writer.append(OPP, [old])
    registry = UpcasterRegistry({"RevenueChanged": 3})
    registry.register("RevenueChanged", 1, lambda d: {"revenue": d["amount"]})
    registry.register("RevenueChanged", 2, lambda d: {**d, "currency": "EUR"})
    registry.validate()
    reader = make_store(registry) if not isinstance(writer, InMemoryEventStore) else writer
    if isinstance(writer, InMemoryEventStore):
        reader._upcasters = registry  # same log, new code version
    (event,) = await reader.read_stream(OPP)
    assert event.schema_version == 3
    assert event.data == {"revenue": 5, "currency": "EUR"}
    (tailed,) = await reader.read_after(0)
    assert tailed.data == event.data


def test_a_gap_in_an_upcaster_chain_fails_at_start_up() -> None:
    registry = UpcasterRegistry({"RevenueChanged": 3})
    registry.register("RevenueChanged", 1, lambda d: d)
    with pytest.raises(UpcastChainError, match="v2->v3"):
        registry.validate()


def test_stores_offer_no_way_to_change_history() -> None:
    for adapter in (InMemoryEventStore, MongoEventStore):
        names = {n for n in dir(adapter) if not n.startswith("_")}
        assert not {n for n in names if any(w in n for w in ("update", "delete", "remove"))}


async def test_empty_and_invalid_appends_are_refused(store: EventStore) -> None:
    with pytest.raises(ValueError, match="at least one event"):
        await store.append(OPP, [])
    with pytest.raises(ValueError, match=">= 0"):
        await store.append(OPP, [ev()], -3)
    assert await store.head_position() == 0


async def test_append_batch_records_each_request_on_its_own(make_store: Factory) -> None:
    store, other = make_store(None), make_store(None)
    await store.append(OPP, [ev(n=0)], ExpectedVersion.NO_STREAM)
    await store.append(OTHER, [ev(n=0)], idempotency_key="seen")
    await other.append(StreamRef("x", "1"), [ev()])  # moves the head behind store's back
    outcomes = await store.append_batch(
        [
            AppendRequest(StreamRef("new", "1"), [ev(n=1), ev(n=2)], ExpectedVersion.NO_STREAM),
            AppendRequest(OPP, [ev(n=3)], 5),  # wrong expectation
            AppendRequest(OTHER, [ev(n=4)], idempotency_key="seen"),  # already stored
            AppendRequest(OPP, [ev(n=5)], 1),
            AppendRequest(OPP, [ev(n=6)], ExpectedVersion.ANY),  # after the previous one
            AppendRequest(StreamRef("new", "1"), [ev(n=7)], ExpectedVersion.NO_STREAM),
        ]
    )
    first, wrong, dup, exact, anyv, conflict = outcomes
    assert isinstance(wrong, ConcurrencyError) and isinstance(conflict, ConcurrencyError)
    assert isinstance(dup, AppendResult) and dup.duplicate and dup.first_position == 2
    assert isinstance(first, AppendResult) and (first.first_position, first.last_position) == (4, 5)
    assert isinstance(exact, AppendResult) and (exact.first_version, exact.first_position) == (2, 6)
    assert isinstance(anyv, AppendResult) and (anyv.first_version, anyv.first_position) == (3, 7)
    assert [e.data.get("n") for e in await other.read_after(3)] == [1, 2, 5, 6]
    assert await other.head_position() == 7


async def test_append_batch_of_many_new_streams(store: EventStore) -> None:
    requests = [
        AppendRequest(StreamRef("opportunity", str(i)), [ev(i=i)], ExpectedVersion.NO_STREAM)
        for i in range(250)
    ]
    outcomes = await store.append_batch(requests)
    assert all(isinstance(o, AppendResult) for o in outcomes)
    assert [o.first_position for o in outcomes if isinstance(o, AppendResult)] == list(
        range(1, 251)
    )
    assert [e.data["i"] for e in await store.read_after(0, limit=1000)] == list(range(250))
