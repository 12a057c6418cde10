"""The webhook inbox drained in batches, on the real embedded store with the built-in Odoo
over HTTP: claiming (two claimers, expired leases, not yet due), a burst processed by one
drain with one Odoo read per model, Odoo down for one model, a poison record."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from domain.catalog import stream_for
from domain.event_store import AppendOutcome, AppendRequest
from domain.ingestion import Ingestor
from domain.normalize import LEAD, STAGE, USER
from domain.sync import SyncHandler, SyncMode, SyncOdoo, SyncStatus
from domain.webhooks import WebhookProcessor
from infrastructure.bootstrap import SystemClock
from infrastructure.eventstore.mongo import COMMITS, MongoEventStore
from infrastructure.ingestion.runs import MongoSyncRunRepository
from infrastructure.ingestion.snapshots import MongoSnapshotStore
from infrastructure.mongo.client import create_client
from infrastructure.odoo import OdooClient
from infrastructure.odoo_fake import FakeOdoo
from infrastructure.webhooks.inbox import INBOX, WebhookInbox, now_ms
from infrastructure.webhooks.processor import InboxDrainer

pytestmark = pytest.mark.integration


class CountingClient(OdooClient):
    """The real client, counting its ``read`` calls by model."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads: list[tuple[str, list[int]]] = []

    async def read(self, model: str, ids: list[int], fields: list[str]) -> list[dict[str, Any]]:
        self.reads.append((model, list(ids)))
        return await super().read(model, ids, fields)


class PoisonedEvents(MongoEventStore):
    """Fails every append that includes one stream: a record that cannot be ingested."""

    poisoned: str | None = None

    async def append_batch(self, requests: Sequence[AppendRequest]) -> list[AppendOutcome]:
        if any(r.stream.key == self.poisoned for r in requests):
            raise RuntimeError("poisoned record")
        return await super().append_batch(requests)


@dataclass
class Stack:
    odoo: FakeOdoo
    client: CountingClient
    db: Any
    events: PoisonedEvents
    inbox: WebhookInbox
    sync: SyncHandler
    processor: WebhookProcessor
    drainer: InboxDrainer

    async def deliver(self, model: str, odoo_id: int) -> str:
        delivery = f"d-{uuid.uuid4().hex[:12]}"
        await self.inbox.accept(delivery, model, odoo_id, {"_model": model, "_id": odoo_id}, False)
        return delivery

    async def doc(self, delivery: str) -> dict[str, Any]:
        found = await self.inbox.get(delivery)
        assert found is not None
        return found

    async def last_commit(self, model: str, odoo_id: int) -> dict[str, Any] | None:
        key = stream_for(model, odoo_id).key
        docs = await self.db[COMMITS].find({"stream": key}).sort("ver", -1).limit(1).to_list()
        return docs[0] if docs else None


@pytest.fixture
async def stack(odoo19: FakeOdoo, mongo_db: Any) -> AsyncIterator[Stack]:
    client = CountingClient(
        odoo19.url,
        odoo19.db,
        odoo19.login,
        odoo19.api_key,
        protocol="json2",
        backoff_base=0.01,
        backoff_max=0.05,
        max_retries=1,
        timeout=5,
    )
    events = PoisonedEvents(mongo_db)
    snapshots, runs = MongoSnapshotStore(mongo_db), MongoSyncRunRepository(mongo_db)
    inbox = WebhookInbox(mongo_db)
    for part in (events, snapshots, runs, inbox):
        await part.ensure_indexes()
    ingestor = Ingestor(events, snapshots, SystemClock())
    processor = WebhookProcessor(client, ingestor)
    # Retries due 0.5 s after a first failure: with 0.01 s (due after 20 ms) a slow machine
    # reached the retry within the same drain_once (two attempts where the tests expect one).
    drainer = InboxDrainer(inbox, processor, retry_base=0.25)
    sync = SyncHandler(client, ingestor, runs, SystemClock())
    yield Stack(odoo19, client, mongo_db, events, inbox, sync, processor, drainer)
    await client.aclose()


async def test_a_burst_is_one_drain_with_one_read_per_model_and_each_its_own_result(
    stack: Stack,
) -> None:
    odoo, demo = stack.odoo, stack.odoo.demo
    assert demo is not None
    first = await stack.sync(SyncOdoo(SyncMode.FULL, "test"))
    assert first.status is SyncStatus.SUCCEEDED, first.error
    leads = sorted(demo.leads.values())
    changed, again, gone, untouched = leads[:30], leads[30], leads[31], leads[32:34]
    stage, user = demo.stages["Proposition"], demo.users["alice"]
    odoo.clock.advance(60)
    odoo.write(LEAD, [*changed, again], {"expected_revenue": 4242.0})
    odoo.unlink(LEAD, [gone])
    odoo.write(STAGE, [stage], {"name": "Proposal sent"})
    odoo.write(USER, [user], {"name": "Alice Renamed"})
    named: list[tuple[str, str, int]] = []  # (delivery, model, odoo id), in arrival order
    for model, odoo_id in [
        *((LEAD, i) for i in changed),
        *((LEAD, again) for _ in range(5)),
        (LEAD, gone),
        *((LEAD, i) for i in untouched),
        (STAGE, stage),
        (USER, user),
    ]:
        named.append((await stack.deliver(model, odoo_id), model, odoo_id))
    assert len(named) == 40
    stack.client.reads.clear()

    assert await stack.drainer.drain_once() == 40
    assert sorted(m for m, _ in stack.client.reads) == [LEAD, STAGE, USER]
    lead_ids = dict(stack.client.reads)[LEAD]
    assert lead_ids == sorted({*changed, again, gone, *untouched})

    naming: dict[tuple[str, int], set[str]] = {}
    for delivery, model, odoo_id in named:
        naming.setdefault((model, odoo_id), set()).add(delivery)
    for delivery, model, odoo_id in named:
        doc = await stack.doc(delivery)
        assert doc["status"] == "done", doc
        result = doc["result"]
        commit = await stack.last_commit(model, odoo_id)
        assert commit is not None
        if odoo_id in untouched:
            assert result["unchanged"] == 1 and result["eventsAppended"] == 0
            assert result["lastPosition"] == 0
            continue
        kind = "deleted" if odoo_id == gone else "updated"
        assert result[kind] == 1 and result["fetched"] == (0 if odoo_id == gone else 1), result
        assert result["eventsAppended"] == len(commit["events"]) >= 1
        assert result["lastPosition"] == commit["end"]
        # The record's events carry one delivery that named it.
        (corr,) = {e["corr"] for e in commit["events"]}
        assert corr in naming[(model, odoo_id)]
    types = [e["type"] for e in (await stack.last_commit(LEAD, again) or {})["events"]]
    assert types == ["OpportunityRevenueChanged"]

    # What the deliveries recorded is what a sync would: a full sync finds nothing to add.
    head = await stack.events.head_position()
    after = await stack.sync(SyncOdoo(SyncMode.FULL, "test"))
    assert after.status is SyncStatus.SUCCEEDED, after.error
    assert after.stats.events_appended == 0
    assert await stack.events.head_position() == head


async def test_claim_batch_two_claimers_leases_and_due(stack: Stack, mongo_url: str) -> None:
    ids = [await stack.deliver(LEAD, 1) for _ in range(120)]
    later = await stack.deliver(LEAD, 2)
    await stack.db[INBOX].update_one({"_id": later}, {"$set": {"due": now_ms() + 60_000}})
    other_client = create_client(mongo_url)
    try:
        other = WebhookInbox(other_client[stack.db.name])
        await other_client[stack.db.name][INBOX].find_one({})  # connected before the race
        claimed: list[list[str]] = [[], []]

        async def claim_all(inbox: WebhookInbox, into: list[str]) -> None:
            while batch := await inbox.claim_batch(4):
                into.extend(e.id for e in batch)

        await asyncio.gather(claim_all(stack.inbox, claimed[0]), claim_all(other, claimed[1]))
        assert not set(claimed[0]) & set(claimed[1])
        assert sorted(claimed[0] + claimed[1]) == sorted(ids)  # each once, the later one not
        assert claimed[0] and claimed[1], "both claimers took part"
        assert await stack.inbox.claim_batch(16) == []
        # A claimant died: its lease runs out and another claims the entry again.
        dead = ids[:5]
        await stack.db[INBOX].update_many({"_id": {"$in": dead}}, {"$set": {"due": now_ms() - 1}})
        again = await other.claim_batch(16)
        assert sorted(e.id for e in again) == sorted(dead)
        assert {e.attempts for e in again} == {0}
        assert await stack.inbox.claim_batch(16) == []  # held again
    finally:
        await other_client.close()


async def test_claim_batch_takes_the_oldest_due_first(stack: Stack) -> None:
    ids = [await stack.deliver(LEAD, i) for i in range(1, 11)]
    now = now_ms()
    # Due times in reverse of arrival; one expired lease among them.
    for n, delivery in enumerate(ids):
        status = "processing" if n == 4 else "pending"
        await stack.db[INBOX].update_one(
            {"_id": delivery}, {"$set": {"due": now - 1000 * n, "status": status}}
        )
    batch = await stack.inbox.claim_batch(3)
    assert [e.id for e in batch] == [ids[9], ids[8], ids[7]]
    batch = await stack.inbox.claim_batch(100)
    assert [e.id for e in batch] == list(reversed(ids[:7]))


async def test_odoo_down_for_one_model_retries_only_its_deliveries(stack: Stack) -> None:
    demo = stack.odoo.demo
    assert demo is not None
    lead, stage = sorted(demo.leads.values())[0], demo.stages["Won"]
    deliveries = [await stack.deliver(LEAD, lead), await stack.deliver(STAGE, stage)]
    stack.odoo.fail_next(100, status=503, path=f"/json/2/{STAGE}/")
    assert await stack.drainer.drain_once() == 1
    done, waiting = [await stack.doc(d) for d in deliveries]
    assert done["status"] == "done" and done["result"]["created"] == 1
    assert waiting["status"] == "pending" and waiting["attempts"] == 1
    assert waiting["last_error"] and "503" in waiting["last_error"]
    stack.odoo.faults.clear()
    await asyncio.sleep(0.55)  # the retry delay (retry_base 0.25 s: 0.5 s after one attempt)
    assert await stack.drainer.drain_once() == 1
    waiting = await stack.doc(deliveries[1])
    assert waiting["status"] == "done" and waiting["result"]["created"] == 1


async def test_a_poison_record_does_not_hold_back_the_rest_of_its_batch(stack: Stack) -> None:
    demo = stack.odoo.demo
    assert demo is not None
    leads = sorted(demo.leads.values())[:6]
    poison = leads[2]
    stack.events.poisoned = stream_for(LEAD, poison).key
    deliveries = {odoo_id: await stack.deliver(LEAD, odoo_id) for odoo_id in leads}
    assert await stack.drainer.drain_once() == 5
    for odoo_id, delivery in deliveries.items():
        doc = await stack.doc(delivery)
        if odoo_id == poison:
            assert doc["status"] == "pending" and doc["attempts"] == 1
            assert doc["last_error"] == "internal error (RuntimeError); see the server log"
        else:
            assert doc["status"] == "done" and doc["result"]["created"] == 1
            commit = await stack.last_commit(LEAD, odoo_id)
            assert commit is not None and doc["result"]["lastPosition"] == commit["end"]
    assert await stack.last_commit(LEAD, poison) is None
    stack.events.poisoned = None  # fixed: the next attempt goes through
    await asyncio.sleep(0.55)  # the retry delay
    assert await stack.drainer.drain_once() == 1
    assert (await stack.doc(deliveries[poison]))["status"] == "done"


async def test_same_record_in_two_batches_at_once_is_safe(stack: Stack) -> None:
    """Two drainers, each with its own batch naming the same records: every delivery ends
    done and each record has one appearance (the loser of the append race re-evaluates)."""
    demo = stack.odoo.demo
    assert demo is not None
    leads = sorted(demo.leads.values())[:8]
    for _ in range(2):
        for odoo_id in leads:
            await stack.deliver(LEAD, odoo_id)
    # Another process: its own event store (own caches) and snapshot store.
    ingestor = Ingestor(MongoEventStore(stack.db), MongoSnapshotStore(stack.db), SystemClock())
    other = InboxDrainer(stack.inbox, WebhookProcessor(stack.client, ingestor), batch_size=8)
    mine = InboxDrainer(stack.inbox, stack.processor, batch_size=8)
    counts = await asyncio.gather(mine.drain_once(), other.drain_once())
    assert sum(counts) == 16
    for odoo_id in leads:
        key = stream_for(LEAD, odoo_id).key
        types = [
            e["type"]
            async for doc in stack.db[COMMITS].find({"stream": key})
            for e in doc["events"]
        ]
        assert types == ["OpportunityAppeared"]
