"""Fixtures: the Mongo event store on the per-test database, and fast runner settings."""

from __future__ import annotations

from typing import Any

import pytest

from infrastructure.eventstore.mongo import MongoEventStore
from projections.framework import RunnerConfig, invalidate_active

FAST = RunnerConfig(
    batch_size=40,
    poll_interval=0.05,
    retries=2,
    backoff_initial=0.01,
    backoff_max=0.05,
    lease_seconds=1.0,
    rebuild_batch_size=100,
    rebuild_flush_every=150,
    drop_grace=0.0,
)


@pytest.fixture
async def store(mongo_db: Any) -> MongoEventStore:
    event_store = MongoEventStore(mongo_db)
    await event_store.ensure_indexes()
    invalidate_active()
    return event_store


@pytest.fixture
def fast() -> RunnerConfig:
    return FAST
