"""The embedded store's WAL checkpoints, moved off its request thread.

nx-27017 keeps each logical database in a SQLite file in WAL mode (``synchronous=NORMAL``).
SQLite then checkpoints the WAL into the database file from inside a commit, every 1,000
pages by default: the request whose commit crossed the line copies the pages and waits
for ``fdatasync`` of both files before it is answered, and every request queued behind it
on the one-request-at-a-time store waits too. Traced with ``strace`` during the bench's
"one opportunity change -> dashboard" probe: a checkpoint every few changes, one
``fdatasync`` of 95 ms, and the changes behind it took 100-190 ms instead of ~15.

Here the commits' own checkpoints are raised to a high fallback (``FALLBACK_PAGES``, so the
WAL stays bounded if this thread falls behind), and a thread of the store's process runs
``PRAGMA wal_checkpoint(PASSIVE)`` on its own connection to each file every ``INTERVAL``
seconds. SQLite lets a checkpoint run beside readers and a writer (it copies only frames
nobody still needs, and never waits for a lock: PASSIVE), and Python's ``sqlite3`` releases
the GIL while SQLite works, so the copying and syncing happen on the other core while the
store goes on answering. Durability is SQLite's, unchanged: the same checkpoints happen,
only in another thread and earlier.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("pulse.store.wal")

INTERVAL = float(os.environ.get("PULSE_STORE_CHECKPOINT_INTERVAL", "0.25"))
"""Seconds between two rounds of checkpoints; 0 leaves them to SQLite's commits (its
default), e.g. to compare the two."""
# SQLite's own checkpoint in the commit only past this many WAL pages (4 KiB each): ~64 MB,
# reached only if the background checkpoints cannot keep up (or this thread died).
FALLBACK_PAGES = 16_000


class WalCheckpointer:
    """Checkpoints the WAL of every SQLite file the store opens, from a thread of its own."""

    def __init__(self, interval: float = INTERVAL, fallback_pages: int = FALLBACK_PAGES) -> None:
        self.interval = interval
        self.fallback_pages = fallback_pages
        self._paths: set[str] = set()
        self._lock = threading.Lock()
        self._mine: dict[str, tuple[sqlite3.Connection, int]] = {}  # path -> (conn, inode)
        self.checkpoints = 0
        """Checkpoints run (for tests)."""

    # ------------------------------------------------------------------ registration
    def adopt(self, db: sqlite3.Connection) -> None:
        """Called for each connection the store opens: raise its commit-time checkpoint and
        remember its file for the background thread."""
        path = _main_file(db)
        if path is None:  # in memory: no WAL
            return
        db.execute(f"PRAGMA wal_autocheckpoint={int(self.fallback_pages)}")
        with self._lock:
            self._paths.add(path)

    def install(self) -> Callable[[], None]:
        """Hook into neosqlite (nx-27017's SQLite layer) so that every connection it
        configures is adopted. Must run before the store opens its first database. Returns
        what undoes the hook (tests)."""
        from neosqlite.connection import Connection

        original: Callable[[Any], None] = Connection._configure_connection
        checkpointer = self

        def configure(conn: Any) -> None:
            original(conn)
            try:
                checkpointer.adopt(conn.db)
            except Exception:  # never stop the store from opening a database
                log.warning("cannot move this database's checkpoints off the request thread")

        Connection._configure_connection = configure

        def uninstall() -> None:
            Connection._configure_connection = original

        return uninstall

    # ------------------------------------------------------------------ the thread
    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="wal-checkpoints", daemon=True)
        thread.start()
        return thread

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            self.run_once()

    def run_once(self) -> None:
        with self._lock:
            paths = sorted(self._paths)
        for path in paths:
            try:
                self._checkpoint(path)
            except Exception as err:  # a busy or vanished file: the next round tries again
                log.debug("checkpoint of %s skipped: %s", path, err)
                self._forget(path)

    def _checkpoint(self, path: str) -> None:
        try:
            inode = os.stat(path).st_ino
        except FileNotFoundError:  # dropped: stop holding the old file open
            self._forget(path)
            with self._lock:
                self._paths.discard(path)
            return
        held = self._mine.get(path)
        if held is not None and held[1] != inode:  # dropped and created again
            self._forget(path)
            held = None
        if held is None:
            # Autocommit, and never a write of its own: it only checkpoints.
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            held = (conn, inode)
            self._mine[path] = held
        held[0].execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        self.checkpoints += 1

    def _forget(self, path: str) -> None:
        held = self._mine.pop(path, None)
        if held is not None:
            with contextlib.suppress(Exception):
                held[0].close()


def _main_file(db: sqlite3.Connection) -> str | None:
    for _seq, name, file in db.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return str(file) if file else None
    return None
