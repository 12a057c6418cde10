"""Accepting webhooks: group-committed on the real embedded store, each delivery answered by
its own write (a replay fails only itself), nothing written twice, nothing lost."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from infrastructure.webhooks.inbox import INBOX, PENDING, ReplayedDelivery, WebhookInbox

pytestmark = pytest.mark.integration


class CountingInbox(WebhookInbox):
    """The real inbox, counting the store writes its accepts take."""

    def __init__(self, db: Any) -> None:
        super().__init__(db)
        self.writes: list[int] = []

    async def _insert_batch(self, docs: list[dict[str, Any]]) -> dict[int, Exception]:
        self.writes.append(len(docs))
        return await super()._insert_batch(docs)


async def accept(inbox: WebhookInbox, delivery: str, odoo_id: int) -> str:
    body = {"_model": "crm.lead", "_id": odoo_id}
    try:
        await inbox.accept(delivery, "crm.lead", odoo_id, body, delivery.startswith("sig:"))
    except ReplayedDelivery:
        return "replayed"
    return "accepted"


async def test_a_burst_is_written_in_few_round_trips_each_answered_alone(mongo_db: Any) -> None:
    inbox = CountingInbox(mongo_db)
    await inbox.ensure_indexes()
    await accept(inbox, "sig:old", 1)  # accepted earlier: its replay must be refused
    assert inbox.writes == [1]

    deliveries = [f"wh:{n}" for n in range(60)]
    deliveries[10] = deliveries[40] = "sig:twice"  # the same signed delivery twice at once
    deliveries[25] = "sig:old"
    outcomes = await asyncio.gather(*(accept(inbox, d, n) for n, d in enumerate(deliveries)))

    replayed = [n for n, outcome in enumerate(outcomes) if outcome == "replayed"]
    assert 25 in replayed and len(replayed) == 2  # sig:old and one of the two sig:twice
    assert {10, 40} & set(replayed)
    # The first delivery went alone; the rest queued behind it and went together.
    assert sum(inbox.writes) == 61 and len(inbox.writes) <= 3, inbox.writes
    stored = await mongo_db[INBOX].find({}, {"_id": 1, "status": 1, "odoo_id": 1}).to_list()
    assert len(stored) == 59  # 57 wh: + sig:twice + sig:old: each once
    assert {d["status"] for d in stored} == {PENDING}
    by_id = {d["_id"]: d["odoo_id"] for d in stored}
    assert by_id["sig:old"] == 1  # the replay did not overwrite the original
    assert all(by_id[f"wh:{n}"] == n for n, d in enumerate(deliveries) if d.startswith("wh:"))


async def test_a_store_failure_fails_its_deliveries_and_the_next_ones_are_written(
    mongo_db: Any,
) -> None:
    inbox = CountingInbox(mongo_db)
    failing = True
    real = WebhookInbox._insert_batch

    async def flaky(self: WebhookInbox, docs: list[dict[str, Any]]) -> dict[int, Exception]:
        if failing:
            raise ConnectionError("store down")
        return await real(self, docs)

    inbox._insert_batch = flaky.__get__(inbox)  # type: ignore[method-assign]
    results = await asyncio.gather(
        *(accept(inbox, f"wh:a{n}", n) for n in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results)
    assert await mongo_db[INBOX].count_documents({}) == 0  # nothing answered 202, none kept
    failing = False
    assert await accept(inbox, "wh:b", 9) == "accepted"
    assert await mongo_db[INBOX].count_documents({}) == 1


async def test_a_caller_that_gives_up_does_not_lose_the_write(mongo_db: Any) -> None:
    inbox = WebhookInbox(mongo_db)
    waiting = [asyncio.create_task(accept(inbox, f"wh:c{n}", n)) for n in range(20)]
    await asyncio.sleep(0)  # queued, not written yet
    waiting[5].cancel()
    outcomes = await asyncio.gather(*waiting, return_exceptions=True)
    assert isinstance(outcomes[5], asyncio.CancelledError)
    assert outcomes.count("accepted") == 19
    for _ in range(100):  # the cancelled caller's write still lands
        if await mongo_db[INBOX].count_documents({}) == 20:
            break
        await asyncio.sleep(0.02)
    assert await mongo_db[INBOX].count_documents({}) == 20
