"""Built-in Odoo servers and a Pulse ingestion stack over the real embedded store."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from domain.ingestion import Ingestor
from domain.sync import SyncHandler
from infrastructure.bootstrap import SystemClock
from infrastructure.eventstore.mongo import MongoEventStore
from infrastructure.ingestion.runs import MongoSyncRunRepository
from infrastructure.ingestion.snapshots import MongoSnapshotStore
from infrastructure.odoo import OdooClient
from infrastructure.odoo_fake import FakeOdoo
from tests.integration.odoo.conftest import (  # noqa: F401  (fixtures)
    fake17_server,
    fake19_server,
    odoo17,
    odoo19,
    target,
)


@dataclass
class Stack:
    odoo: FakeOdoo
    client: OdooClient
    events: MongoEventStore
    snapshots: MongoSnapshotStore
    runs: MongoSyncRunRepository
    sync: SyncHandler


@pytest.fixture
async def stack(
    target: tuple[FakeOdoo, str],  # noqa: F811  (the imported fixture, by name)
    mongo_db: Any,
) -> AsyncIterator[Stack]:
    fake, protocol = target
    client = OdooClient(
        fake.url,
        fake.db,
        fake.login,
        fake.api_key,
        protocol=protocol,
        backoff_base=0.01,
        backoff_max=0.05,
        timeout=5,
    )
    events, snapshots, runs = (
        MongoEventStore(mongo_db),
        MongoSnapshotStore(mongo_db),
        MongoSyncRunRepository(mongo_db),
    )
    for part in (events, snapshots, runs):
        await part.ensure_indexes()
    ingestor = Ingestor(events, snapshots, SystemClock())
    yield Stack(
        fake, client, events, snapshots, runs, SyncHandler(client, ingestor, runs, SystemClock())
    )
    await client.aclose()
