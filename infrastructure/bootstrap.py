"""The one place that wires Pulse together: settings -> store -> adapters -> services.

Nothing connects at import time. ``StoreHandle`` resolves where MongoDB is (the configured
URL, or the embedded store it starts); ``Container`` owns the open clients and is created in
the Starlette lifespan or by a CLI command, and closed by the same owner.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from domain.catalog import EVENT_TYPES
from domain.errors import PulseError
from domain.ingestion import Ingestor
from domain.odoo_gateway import OdooGateway
from domain.sync import SyncHandler
from domain.upcasting import UpcasterRegistry
from infrastructure.broadcast import ChannelHub, create_hub
from infrastructure.eventstore.mongo import MongoEventStore
from infrastructure.heap import settle_heap
from infrastructure.ingestion.runs import MongoSyncRunRepository
from infrastructure.ingestion.snapshots import MongoSnapshotStore
from infrastructure.mongo.client import create_client
from infrastructure.mongo.embedded import EmbeddedStore
from infrastructure.settings import Settings
from infrastructure.webhooks.inbox import WebhookInbox
from projections.catalog import PROJECTIONS
from projections.framework import Notification, ProjectionRunner

log = logging.getLogger("pulse.bootstrap")


@dataclass
class StoreHandle:
    """Where the MongoDB server is, and the embedded store if Pulse runs one."""

    url: str
    embedded: EmbeddedStore | None = None

    @classmethod
    def resolve(cls, settings: Settings) -> StoreHandle:
        if settings.mongodb_url is not None:
            return cls(settings.mongodb_url.get_secret_value())
        store = EmbeddedStore(settings.data_dir)
        return cls(store.start(), store)

    def close(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()

    async def supervise(self, interval: float = 1.0) -> None:
        """Embedded mode: if the store process dies (crash, kill -9), start it again on the
        same port and data, so that the open clients reconnect without a Pulse restart.
        Meanwhile requests fail with clear errors and /readyz says unavailable."""
        if self.embedded is None:
            return
        embedded = self.embedded
        while True:
            await asyncio.sleep(interval)
            if embedded.process_alive():
                continue
            log.warning("the embedded store stopped; starting it again")
            try:
                await asyncio.to_thread(embedded.ensure_running)
                log.info("the embedded store is back at %s", embedded.url)
            except Exception:
                log.exception("could not restart the embedded store; will retry")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def build_upcasters() -> UpcasterRegistry:
    registry = UpcasterRegistry(EVENT_TYPES)
    # Upcasters for old schema versions are registered here, e.g.
    # registry.register("OpportunityStageChanged", 1, upcast_stage_changed_v1)
    registry.validate()  # a gap in a chain fails here, at start-up
    return registry


def build_odoo_client(settings: Settings) -> OdooGateway | None:
    if not settings.odoo_configured:
        return None
    from infrastructure.odoo import OdooClient

    assert settings.odoo_url and settings.odoo_db and settings.odoo_login
    assert settings.odoo_api_key is not None
    return OdooClient(
        settings.odoo_url,
        settings.odoo_db,
        settings.odoo_login,
        settings.odoo_api_key,
        protocol=settings.odoo_protocol,
    )


@dataclass
class Container:
    settings: Settings
    store: StoreHandle
    client: AsyncMongoClient[Any]
    db: AsyncDatabase[Any]
    event_store: MongoEventStore
    snapshots: MongoSnapshotStore
    sync_runs: MongoSyncRunRepository
    ingestor: Ingestor
    inbox: WebhookInbox
    hub: ChannelHub
    runner: ProjectionRunner
    odoo: OdooGateway | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def sync_handler(self) -> SyncHandler:
        if self.odoo is None:
            raise OdooNotConfigured
        return SyncHandler(self.odoo, self.ingestor, self.sync_runs, SystemClock())

    async def ping(self, limit_seconds: float = 2.0) -> bool:
        try:
            await self.client.admin.command("ping", maxTimeMS=int(limit_seconds * 1000))
            return True
        except Exception:  # any failure means "not reachable" for readiness
            return False

    async def start_background(self, *, projections: bool = True) -> None:
        """Connect the broadcast hub and start the projection runner (serve, worker); an
        API-only replica (``projections=False``) only connects the hub: it still reads
        statuses and waits for positions through the checkpoints other processes write."""
        await self.hub.connect()
        if projections:
            await self.runner.start()

    async def stop_background(self) -> None:
        await self.runner.stop()  # nothing to stop when it never started
        await self.hub.disconnect()

    async def aclose(self) -> None:
        closer = getattr(self.odoo, "aclose", None)
        if closer is not None:
            await closer()
        await self.client.close()


class OdooNotConfigured(PulseError):
    def __init__(self) -> None:
        super().__init__(
            "Odoo is not configured: set PULSE_ODOO_URL, PULSE_ODOO_DB, PULSE_ODOO_LOGIN "
            "and PULSE_ODOO_API_KEY"
        )


async def open_container(
    settings: Settings,
    store: StoreHandle,
    odoo: OdooGateway | None = None,
    *,
    settle: bool = False,
) -> Container:
    """``settle``: a long-running process (``pulse serve``, ``pulse worker``, ``pulse demo``)
    moves its steady state out of the garbage collector's full passes once its projections
    are live (``infrastructure.heap``); not for tests and one-shot commands."""
    client = create_client(store.url)
    db = client[settings.mongodb_db]
    event_store = MongoEventStore(db, build_upcasters())
    snapshots = MongoSnapshotStore(db)
    runs = MongoSyncRunRepository(db, lease=timedelta(seconds=settings.sync_lease))
    inbox = WebhookInbox(db)
    for part in (event_store, snapshots, runs, inbox):
        await part.ensure_indexes()
    hub = create_hub(settings.redis_url)

    async def publish(notifications: Sequence[Notification]) -> None:
        for note in notifications:
            await hub.publish(note.channel, dict(note.payload))

    runner = ProjectionRunner(
        db, event_store, PROJECTIONS, publish=publish, on_settled=settle_heap if settle else None
    )
    ingestor = Ingestor(event_store, snapshots, SystemClock(), after_append=runner.notify)
    return Container(
        settings,
        store,
        client,
        db,
        event_store,
        snapshots,
        runs,
        ingestor,
        inbox,
        hub,
        runner,
        odoo=odoo if odoo is not None else build_odoo_client(settings),
    )
