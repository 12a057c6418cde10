"""Shared fixtures: a real embedded store (nx-27017) per test session, one database per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from infrastructure.mongo.client import create_client
from infrastructure.mongo.embedded import EmbeddedStore

ROOT = Path(__file__).resolve().parents[1]

# A timeout that asyncio cannot swallow, reporting where every task waits.
pytest_plugins = ["tests.support.timeouts"]


@pytest.fixture(scope="session")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pulse-store")


@pytest.fixture(scope="session")
def mongo_url(store_dir: Path) -> Iterator[str]:
    """A real nx-27017 on a free loopback port, file-backed in a temporary data dir."""
    store = EmbeddedStore(store_dir)
    url = store.start()
    yield url
    store.stop()


@pytest.fixture(scope="session")
async def mongo_client(mongo_url: str) -> AsyncIterator[AsyncMongoClient[Any]]:
    client = create_client(mongo_url)
    yield client
    await client.close()


@pytest.fixture
async def mongo_db(mongo_client: AsyncMongoClient[Any]) -> AsyncIterator[Any]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    yield mongo_client[name]
    await mongo_client.drop_database(name)
