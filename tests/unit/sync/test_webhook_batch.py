"""A batch of webhook deliveries on in-memory adapters: each delivery's own result, one Odoo
read per model, the same events as one delivery at a time, narrow failures."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from domain.catalog import stream_for
from domain.event_store import AppendOutcome, AppendRequest
from domain.ingestion import Ingestor, IngestStats
from domain.normalize import EMPLOYEE, LEAD, STAGE, USER
from domain.odoo_gateway import OdooUnavailableError
from domain.webhooks import ProcessWebhook, WebhookOutcome, WebhookProcessor
from infrastructure.eventstore.memory import InMemoryEventStore
from infrastructure.ingestion.snapshots import InMemorySnapshotStore
from tests.unit.sync.fakes import FakeClock, MemoryGateway, lead, stage, user


class CountingGateway(MemoryGateway):
    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[str, list[int]]] = []

    async def read(self, model: str, ids: list[int], fields: list[str]) -> list[dict[str, Any]]:
        self.reads.append((model, list(ids)))
        return await super().read(model, ids, fields)


class PoisonedEvents(InMemoryEventStore):
    """Refuses every append that includes one stream (a record that cannot be ingested)."""

    def __init__(self, poisoned: str) -> None:
        super().__init__()
        self.poisoned = poisoned

    async def append_batch(self, requests: Sequence[AppendRequest]) -> list[AppendOutcome]:
        if any(r.stream.key == self.poisoned for r in requests):
            raise RuntimeError("poison")
        return await super().append_batch(requests)


class World:
    def __init__(self, events: InMemoryEventStore | None = None) -> None:
        self.odoo = CountingGateway()
        self.odoo.put(STAGE, stage(1, "New", 1))
        self.odoo.put(STAGE, stage(2, "Won", 9, is_won=True))
        self.odoo.put(USER, user(7, "rep@x.example"))
        for i in range(1, 11):
            self.odoo.put(LEAD, lead(i))
        self.events = events or InMemoryEventStore()
        self.snapshots = InMemorySnapshotStore()
        self.ingestor = Ingestor(self.events, self.snapshots, FakeClock())
        self.processor = WebhookProcessor(self.odoo, self.ingestor)

    async def seed(self, model: str, ids: list[int]) -> None:
        rows = [self.odoo.rows[model][i] for i in ids]
        await self.ingestor.ingest_rows(model, rows, source="sync")

    async def log(self) -> list[tuple[str, str, int, str, Any, str | None]]:
        """Every stream's events in order (the order across streams is the batch's own)."""
        return sorted(
            (e.stream_type, e.stream_id, e.version, e.type, e.data, e.correlation_id)
            for e in await self.events.read_after(0)
        )


def ok(outcomes: Mapping[str, WebhookOutcome], delivery_id: str) -> IngestStats:
    outcome = outcomes[delivery_id]
    assert isinstance(outcome, IngestStats), (delivery_id, outcome)
    return outcome


def burst() -> list[ProcessWebhook]:
    commands = [ProcessWebhook(f"d-lead-{i}", LEAD, i) for i in range(1, 9)]
    commands += [ProcessWebhook(f"d-lead-3-again-{n}", LEAD, 3) for n in range(2)]
    commands += [
        ProcessWebhook("d-stage", STAGE, 2),
        ProcessWebhook("d-user", USER, 7),
        ProcessWebhook("d-deleted", LEAD, 10),
        ProcessWebhook("d-never-seen", LEAD, 99),
        ProcessWebhook("d-employee", "hr.employee.public", 5),
    ]
    return commands


async def prepare(world: World) -> None:
    await world.seed(STAGE, [1, 2])
    await world.seed(LEAD, [1, 2, 10])
    world.odoo.delete(LEAD, 10)
    world.odoo.put(LEAD, lead(2, expected_revenue=4242.0, write_date="2026-01-01 10:00:00"))
    world.odoo.put(STAGE, stage(2, "Won!", 9, is_won=True))


async def test_a_batch_ends_in_the_events_one_delivery_at_a_time_would_record() -> None:
    batch, alone = World(), World()
    for world in (batch, alone):
        await prepare(world)
    commands = burst()
    outcomes = await batch.processor.process_batch(commands)
    single: dict[str, IngestStats] = {}
    for command in commands:
        single[command.delivery_id] = await alone.processor(command)
    assert await batch.log() == await alone.log()
    assert set(outcomes) == {c.delivery_id for c in commands}
    # The first delivery of each record has the result it has alone; a second one of the same
    # record in the batch shares that record's result (alone it found nothing left to do).
    for command in commands:
        outcome = outcomes[command.delivery_id]
        assert isinstance(outcome, IngestStats), outcome
        if "again" in command.delivery_id:
            assert outcome.as_dict() == single["d-lead-3"].as_dict()
        else:
            assert outcome.as_dict() == single[command.delivery_id].as_dict(), command
        # Positions differ (the batch appends stages first); each is checked in the next test.
        assert bool(outcome.last_position) == bool(outcome.events_appended)
    assert ok(outcomes, "d-lead-1").unchanged == 1
    assert ok(outcomes, "d-deleted").deleted == 1
    assert ok(outcomes, "d-never-seen").as_dict() == IngestStats().as_dict()


async def test_one_odoo_read_per_model_and_each_delivery_has_its_own_record() -> None:
    world = World()
    await prepare(world)
    outcomes = await world.processor.process_batch(burst())
    assert sorted(m for m, _ in world.odoo.reads) == sorted([STAGE, USER, EMPLOYEE, LEAD])
    assert dict(world.odoo.reads)[LEAD] == [1, 2, 3, 4, 5, 6, 7, 8, 10, 99]
    last = {e.stream: e for e in await world.events.read_after(0)}
    first: dict[tuple[str, int], str] = {}
    for command in burst():
        model = "hr.employee" if command.model == "hr.employee.public" else command.model
        first.setdefault((model, command.odoo_id), command.delivery_id)
    for command in burst():
        outcome = outcomes[command.delivery_id]
        assert isinstance(outcome, IngestStats)
        model = "hr.employee" if command.model == "hr.employee.public" else command.model
        event = last.get(stream_for(model, command.odoo_id))
        if outcome.events_appended:
            assert event is not None and outcome.last_position == event.position
            # The record's events carry the first delivery that named it.
            assert event.correlation_id == first[(model, command.odoo_id)]
        else:
            assert outcome.last_position == 0


async def test_an_odoo_failure_fails_only_that_models_deliveries() -> None:
    world = World()
    world.odoo.fail_on = STAGE
    outcomes = await world.processor.process_batch(burst())
    assert isinstance(outcomes["d-stage"], OdooUnavailableError)
    others = {k: v for k, v in outcomes.items() if k != "d-stage"}
    assert all(isinstance(v, IngestStats) for v in others.values()), others
    assert ok(outcomes, "d-lead-4").created == 1


async def test_a_poison_record_does_not_hold_back_the_rest_of_its_batch() -> None:
    world = World(PoisonedEvents(stream_for(LEAD, 4).key))
    outcomes = await world.processor.process_batch(burst())
    assert isinstance(outcomes["d-lead-4"], RuntimeError)
    for delivery in ("d-lead-1", "d-lead-3", "d-lead-3-again-0", "d-stage", "d-user"):
        outcome = outcomes[delivery]
        assert isinstance(outcome, IngestStats) and outcome.created == 1, (delivery, outcome)
    ids = {e.stream_id for e in await world.events.read_after(0) if e.stream_type == "opportunity"}
    assert ids == {"1", "2", "3", "5", "6", "7", "8", "10"}


@pytest.mark.parametrize("with_by_record", [True, False])
async def test_ingest_rows_per_record_counts_and_correlation_ids(with_by_record: bool) -> None:
    world = World()
    await world.seed(LEAD, [1])
    rows = [
        lead(1),  # unchanged
        lead(2),  # created
        {"id": 3, "name": None},  # rejected
    ]
    by_record: dict[int, IngestStats] | None = {} if with_by_record else None
    stats = await world.ingestor.ingest_rows(
        LEAD,
        rows,
        source="webhook",
        correlation_id="fallback",
        correlation_ids={2: "delivery-2"},
        by_record=by_record,
    )
    assert (stats.fetched, stats.unchanged, stats.created, stats.rejected) == (3, 1, 1, 1)
    created = [e for e in await world.events.read_after(0) if e.stream_id == "2"]
    assert [e.correlation_id for e in created] == ["delivery-2"]
    if by_record is not None:
        assert by_record[1].as_dict() == IngestStats(fetched=1, unchanged=1).as_dict()
        assert (
            by_record[2].as_dict() == IngestStats(fetched=1, created=1, events_appended=1).as_dict()
        )
        assert by_record[2].last_position == created[0].position
        assert by_record[3].rejected == 1 and by_record[3].fetched == 1
        assert by_record[3].rejections == stats.rejections


async def test_ingest_missing_many_deletes_only_live_records() -> None:
    world = World()
    await world.seed(LEAD, [1, 2])
    await world.ingestor.ingest_missing(LEAD, 2, source="webhook")  # already deleted below
    by_record: dict[int, IngestStats] = {}
    stats = await world.ingestor.ingest_missing_many(
        LEAD, [1, 2, 99], source="webhook", correlation_ids={1: "d1"}, by_record=by_record
    )
    assert (stats.deleted, stats.events_appended) == (1, 1)
    assert set(by_record) == {1} and by_record[1].deleted == 1
    deleted = [e for e in await world.events.read_after(0) if e.stream_id == "1"][-1]
    assert deleted.type == "OpportunityDeleted" and deleted.correlation_id == "d1"
