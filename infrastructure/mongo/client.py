"""PyMongo async client factory (Beanie 2 and the event store share one client)."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from pymongo import AsyncMongoClient

from infrastructure import cancellation

# Before any client exists: see the module (a task cancelled while PyMongo connects).
cancellation.install()


def create_client(url: str, **options: Any) -> AsyncMongoClient[Any]:
    # tz_aware: every datetime Pulse reads back is UTC-aware, like the ones it writes.
    return AsyncMongoClient(
        url,
        tz_aware=True,
        tzinfo=UTC,
        uuidRepresentation="standard",
        serverSelectionTimeoutMS=options.pop("serverSelectionTimeoutMS", 5000),
        appname="pulse",
        **options,
    )
