"""State that only a projection's own ``load`` reads may be left for later in a LIVE batch
(``ProjectionContext.later``, ``RunnerConfig.records_later``): a reload after a failed
batch folds again the events since it was last stored. Real embedded store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest

from domain.events import RecordedEvent
from infrastructure.eventstore.mongo import MongoEventStore
from projections.framework import (
    CollectionSpec,
    Notification,
    ProjectionContext,
    ProjectionRunner,
    ProjectionState,
    RunnerConfig,
    active_collection,
)
from projections.framework.documents import guarded_bulk_write, guarded_write
from tests.integration.projections_framework.test_failures import wait_for_state
from tests.integration.projections_framework.toy import Toy, append_one

pytestmark = pytest.mark.integration


class Counting(Toy):
    """The toy, plus what it has seen per stream (``kept``): stored only for its own load,
    and copied into each changed total (``seen``), as the real projections derive their
    documents from their records."""

    def __init__(self, fail_once_at: set[int], poison_at: int = 0) -> None:
        super().__init__("counting")
        self.collections = (*self.collections, CollectionSpec("counting_kept"))
        self.kept: dict[str, int] = {}
        self.kept_at: dict[str, int] = {}
        self._dirty: set[str] = set()
        self._stored: set[str] = set()
        self._fail_once_at = fail_once_at
        self._poison_at = poison_at

    def handlers(self) -> Mapping[str, Any]:
        return {**super().handlers(), "Added": self._counted}

    async def load(self, ctx: ProjectionContext) -> None:
        await super().load(ctx)
        async for doc in ctx.collection("counting_kept").find({}):
            self.kept[doc["_id"]], self.kept_at[doc["_id"]] = doc["n"], doc["_pos"]
            self._stored.add(doc["_id"])

    def _counted(self, event: RecordedEvent) -> None:
        if event.position in self._fail_once_at:
            self._fail_once_at.discard(event.position)
            raise ValueError(f"fails once at {event.position}")
        if event.position == self._poison_at:
            raise ValueError(f"poison at {event.position}")
        stream = event.stream_id
        if self.kept_at.get(stream, 0) < event.position:
            self.kept[stream] = self.kept.get(stream, 0) + 1
            self.kept_at[stream] = event.position
            self._dirty.add(stream)
        doc = self.totals.edit(stream, event)
        if doc is not None:
            doc["sum"] = doc.get("sum", 0) + event.data["amount"]
            doc["count"] = doc.get("count", 0) + 1
            doc["seen"] = self.kept[stream]

    def unsaved(self) -> int:
        return len(self._dirty)

    async def save(self, ctx: ProjectionContext) -> None:
        writes = [
            guarded_write(s, self.kept_at[s], {"n": self.kept[s]}, stored=s in self._stored)
            for s in sorted(self._dirty)
        ]
        await guarded_bulk_write(ctx.collection("counting_kept"), writes)
        self._stored |= self._dirty
        self._dirty.clear()

    async def flush(self, ctx: ProjectionContext) -> list[Notification]:
        notes = await super().flush(ctx)
        if not ctx.later:
            await self.save(ctx)
        return notes


async def totals(db: Any) -> dict[str, dict[str, Any]]:
    collection = await active_collection(db, "counting", "counting_totals")
    return {d["_id"]: d async for d in collection.find({})}


async def kept(db: Any) -> dict[str, int]:
    collection = await active_collection(db, "counting", "counting_kept")
    return {d["_id"]: d["n"] async for d in collection.find({})}


@pytest.mark.parametrize("later", [True, False])
async def test_a_reload_after_a_failed_batch_folds_again_what_was_left_for_later(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig, later: bool
) -> None:
    config = replace(
        fast, idle_checkpoint_delay=30.0, idle_checkpoint_max_age=60.0, records_later=later
    )
    fail_once: set[int] = set()
    async with ProjectionRunner(
        mongo_db, store, [lambda: Counting(fail_once)], config=config
    ) as runner:
        head = await append_one(store, "deal/1", "Added", amount=1)
        assert await runner.wait_until(head, timeout=20)
        await wait_for_state(runner, "counting", ProjectionState.LIVE)
        # LIVE: this one's count is left for later (or not, without records_later).
        second = await append_one(store, "deal/1", "Added", amount=2)
        runner.notify()
        assert await runner.wait_until(second, timeout=20)
        assert (await kept(mongo_db))["1"] == (1 if later else 2)
        # The next batch fails once: the instance is dropped and loaded again from the store,
        # which lacks the second count; it must be folded again, not lost.
        third = second + 1
        fail_once.add(third)
        assert await append_one(store, "deal/1", "Added", amount=4) == third
        runner.notify()
        assert await runner.wait_until(third, timeout=20)
        assert not fail_once, "the batch never failed"
        doc = (await totals(mongo_db))["1"]
        assert (doc["count"], doc["sum"], doc["seen"]) == (3, 7, 3)


async def test_an_event_skipped_by_the_operator_stays_skipped_when_folded_again(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    config = replace(fast, idle_checkpoint_delay=30.0, idle_checkpoint_max_age=60.0)
    poison = 3
    async with ProjectionRunner(
        mongo_db, store, [lambda: Counting(set(), poison_at=poison)], config=config
    ) as runner:
        head = await append_one(store, "deal/1", "Added", amount=1)
        assert await runner.wait_until(head, timeout=20)
        await wait_for_state(runner, "counting", ProjectionState.LIVE)
        second = await append_one(store, "deal/1", "Added", amount=2)  # left for later
        runner.notify()
        assert await runner.wait_until(second, timeout=20)
        assert await append_one(store, "deal/1", "Added", amount=4) == poison
        runner.notify()
        await wait_for_state(runner, "counting", ProjectionState.PAUSED)
        # Skipped: the reload folds the second event again, and not the poison.
        assert await runner.skip("counting")
        last = await append_one(store, "deal/1", "Added", amount=8)
        runner.notify()
        assert await runner.wait_until(last, timeout=20)
        doc = (await totals(mongo_db))["1"]
        assert (doc["count"], doc["sum"], doc["seen"]) == (3, 11, 3)
        (status,) = await runner.status()
        assert status.state is ProjectionState.LIVE


async def test_records_left_for_later_go_with_a_batch_once_enough_wait(
    mongo_db: Any, store: MongoEventStore, fast: RunnerConfig
) -> None:
    config = replace(
        fast, idle_checkpoint_delay=30.0, idle_checkpoint_max_age=60.0, records_later_max=2
    )
    async with ProjectionRunner(
        mongo_db, store, [lambda: Counting(set())], config=config
    ) as runner:
        head = await append_one(store, "deal/0", "Added", amount=1)
        assert await runner.wait_until(head, timeout=20)
        await wait_for_state(runner, "counting", ProjectionState.LIVE)
        stored = []
        for n in range(1, 5):  # one batch each
            position = await append_one(store, f"deal/{n}", "Added", amount=n)
            runner.notify()
            assert await runner.wait_until(position, timeout=20)
            stored.append(sorted(await kept(mongo_db)))
        # One left for later; with the second, two would wait: written with that batch.
        assert stored == [["0"], ["0", "1", "2"], ["0", "1", "2"], ["0", "1", "2", "3", "4"]]
