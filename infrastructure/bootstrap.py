"""The one place that wires Pulse together: settings -> store -> adapters -> services.

Nothing connects at import time. ``StoreHandle`` resolves where MongoDB is (the configured
URL, or the embedded store it starts); ``Container`` owns the open clients and is created in
the Starlette lifespan or by a CLI command, and closed by the same owner.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from domain.upcasting import UpcasterRegistry
from infrastructure.eventstore.mongo import MongoEventStore
from infrastructure.mongo.client import create_client
from infrastructure.mongo.embedded import EmbeddedStore
from infrastructure.settings import Settings

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


def build_upcasters() -> UpcasterRegistry:
    registry = UpcasterRegistry()
    registry.validate()  # a gap in a chain fails here, at start-up
    return registry


@dataclass
class Container:
    settings: Settings
    store: StoreHandle
    client: AsyncMongoClient[Any]
    db: AsyncDatabase[Any]
    event_store: MongoEventStore
    extras: dict[str, Any] = field(default_factory=dict)

    async def ping(self, limit_seconds: float = 2.0) -> bool:
        try:
            await self.client.admin.command("ping", maxTimeMS=int(limit_seconds * 1000))
            return True
        except Exception:  # any failure means "not reachable" for readiness
            return False

    async def aclose(self) -> None:
        await self.client.close()


async def open_container(settings: Settings, store: StoreHandle) -> Container:
    client = create_client(store.url)
    db = client[settings.mongodb_db]
    event_store = MongoEventStore(db, build_upcasters())
    await event_store.ensure_indexes()
    return Container(settings, store, client, db, event_store)
