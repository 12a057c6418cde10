"""The embedded store's WAL checkpoints run in a thread of their own
(``infrastructure.mongo.wal_checkpoints``): on neosqlite in this process, and in a real
store process started by ``EmbeddedStore``."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from neosqlite import Connection

from infrastructure.mongo.client import create_client
from infrastructure.mongo.embedded import EmbeddedStore
from infrastructure.mongo.wal_checkpoints import WalCheckpointer

pytestmark = pytest.mark.integration

PAGE = 4096


@pytest.fixture
def checkpointer() -> Iterator[WalCheckpointer]:
    hooked = WalCheckpointer(interval=60.0, fallback_pages=16_000)
    uninstall = hooked.install()
    try:
        yield hooked
    finally:
        uninstall()


def fill(conn: Connection, rows: int, tag: str) -> None:
    conn["things"].insert_many([{"tag": tag, "n": i, "pad": "x" * 2000} for i in range(rows)])


def test_a_connection_neosqlite_opens_is_adopted_and_checkpointed_by_the_thread(
    tmp_path: Path, checkpointer: WalCheckpointer
) -> None:
    path = tmp_path / "a.db"
    conn = Connection(str(path))
    try:
        # SQLite's own checkpoint in the commit only far past its default of 1,000 pages.
        assert conn.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 16_000
        fill(conn, 2500, "one")  # ~5 MB: past SQLite's default threshold, not ours
        assert os.path.getsize(f"{path}-wal") > 1_000 * PAGE  # all of it still in the WAL
        assert path.stat().st_size < 1_000_000
        checkpointer.run_once()
        assert checkpointer.checkpoints == 1
        assert path.stat().st_size > 4_000_000  # copied into the database
        assert conn["things"].count_documents({"tag": "one"}) == 2500
    finally:
        conn.close()


def test_a_database_dropped_and_created_again_is_followed(
    tmp_path: Path, checkpointer: WalCheckpointer
) -> None:
    path = tmp_path / "b.db"
    conn = Connection(str(path))
    fill(conn, 50, "old")
    checkpointer.run_once()
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    checkpointer.run_once()  # gone: forgotten, no error
    conn = Connection(str(path))  # the same name, another file
    try:
        fill(conn, 600, "new")
        size_before = path.stat().st_size
        checkpointer.run_once()
        assert path.stat().st_size > size_before + 1_000_000
        assert conn["things"].count_documents({}) == 600
    finally:
        conn.close()


def test_a_connection_in_memory_is_left_alone(checkpointer: WalCheckpointer) -> None:
    conn = Connection(":memory:")
    try:
        fill(conn, 5, "m")
        checkpointer.run_once()
        assert checkpointer.checkpoints == 0
    finally:
        conn.close()


async def test_the_embedded_store_checkpoints_in_the_background(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "data")
    url = store.start()
    client = create_client(url)
    try:
        db = client["walcheck"]
        docs = [{"n": i, "pad": "y" * 2000} for i in range(100)]
        await db["things"].insert_many(docs)
        path = store.store_dir / "walcheck.db"
        # ~600 WAL frames, below SQLite's own threshold of 1,000: only the thread copies
        # them into the database file (without it, the file stays at its first page).
        deadline = time.monotonic() + 10
        while path.stat().st_size < 200_000:
            assert time.monotonic() < deadline, "the WAL was never checkpointed"
            await asyncio.sleep(0.1)
        assert await db["things"].count_documents({}) == 100
    finally:
        await client.close()
        store.stop()
