"""``pulse events import FILE``: restore an exported event log into an empty store.

Order of work, so that a bad file or a wrong target never leaves half an import behind:

1. validate the whole file (``validation.validate_file``); any problem: write nothing;
2. check the target: its event store must be empty and nothing derived from another log
   may be there (projection checkpoints past 0, ingestion snapshots, read models...). The
   one exception is a store holding exactly a prefix of this same file, commit for commit:
   an import that was interrupted, which the same command then completes;
3. append the commits in file order through the store's own append path, each with the
   exact expected version and its original idempotency key, checking that every commit
   lands at its original position and version.

Re-running a finished import writes nothing and says so: every commit is already there.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from domain.errors import ConcurrencyError
from domain.event_store import AppendRequest, AppendResult
from domain.events import StreamRef
from infrastructure.bootstrap import build_upcasters
from infrastructure.events_io.commits import (
    RestoringEventStore,
    new_events,
    recorded_event,
    stored_commits,
)
from infrastructure.events_io.lines import EventLine
from infrastructure.events_io.validation import ValidationReport, commits_in, validate_file
from infrastructure.eventstore.mongo import COMMITS
from infrastructure.ingestion.snapshot_restore import SnapshotCollector, has_snapshots
from projections.framework.checkpoints import STATE_COLLECTION
from projections.framework.leases import LEASE_COLLECTION

BATCH_COMMITS = 500
# Collections a Pulse process creates on an empty database before any event exists:
# checkpoints at position 0 and leases say nothing about a log.
_HARMLESS = frozenset({STATE_COLLECTION, LEASE_COLLECTION, COMMITS})

Progress = Callable[[int, int], None]  # (events done, events in the file)


class ImportRefused(Exception):
    """The file or the target is not fit for an import; nothing was written."""


class ImportConflict(Exception):
    """The store changed under the import (another writer): stop at once."""


@dataclass
class ImportReport:
    validation: ValidationReport
    events_imported: int = 0
    commits_imported: int = 0
    events_present: int = 0
    commits_present: int = 0
    head: int = 0
    snapshots_restored: int = 0
    snapshots_unreadable: int = 0  # record streams whose last event this code cannot read

    def summary(self) -> str:
        v = self.validation
        return (
            f"{v.lines} lines, {v.events} events in {v.commits} commits ({v.streams} streams): "
            f"imported {self.events_imported} events in {self.commits_imported} commits, "
            f"{self.events_present} events in {self.commits_present} commits were already "
            f"there; head position {self.head}; {self.snapshots_restored} ingestion snapshots "
            "rebuilt from the log"
            + (
                f" ({self.snapshots_unreadable} records left without one: their last event "
                "could not be read by this version of Pulse)"
                if self.snapshots_unreadable
                else ""
            )
        )


async def require_empty(db: AsyncDatabase[Any]) -> None:
    """Refuse a database that holds anything derived from some event log."""
    for name in sorted(await db.list_collection_names()):
        if name.startswith("system."):
            continue
        if name == STATE_COLLECTION:
            if await db[name].count_documents({"position": {"$gt": 0}}) > 0:
                raise ImportRefused(
                    f"database {db.name!r} is not empty: {name} holds projection checkpoints "
                    "of another event log"
                )
            continue
        if name in _HARMLESS:
            continue
        count = await db[name].count_documents({})
        if count:
            raise ImportRefused(
                f"database {db.name!r} is not empty: {name} holds {count} document(s); "
                "import into a new database (PULSE_MONGODB_DB) or drop this one first"
            )


def _same(stored: Sequence[EventLine], wanted: Sequence[EventLine]) -> bool:
    def key(line: EventLine) -> tuple[object, ...]:
        return (line.position, line.id, line.stream_key, line.version, line.idempotency_key)

    return [key(x) for x in stored] == [key(x) for x in wanted]


class _Importer:
    def __init__(self, db: AsyncDatabase[Any], report: ImportReport, progress: Progress) -> None:
        self._store = RestoringEventStore(db)
        self._db = db
        self._report = report
        self._progress = progress
        self.snapshots = SnapshotCollector(build_upcasters())

    async def run(self, path: Path, batch_commits: int) -> None:
        head = await self._store.head_position()
        total = self._report.validation.events
        if head > total:
            raise ImportRefused(
                f"the event store already holds {head} events, more than this file's {total}"
            )
        if head == 0:
            await require_empty(self._db)
        await self._store.ensure_indexes()  # only once the target is accepted: no trace else
        stored = stored_commits(self._db, head)
        pending: list[list[EventLine]] = []
        try:
            for commit in commits_in(path):
                for line in commit:
                    self.snapshots.add(recorded_event(line))
                if commit[0].position <= head:
                    await self._match_stored(stored, commit, head)
                    continue
                pending.append(commit)
                if len(pending) >= batch_commits:
                    await self._write(pending)
                    pending = []
            await self._write(pending)
        finally:
            await stored.aclose()
        self._report.head = await self._store.head_position()

    async def _match_stored(
        self, stored: AsyncGenerator[list[EventLine], None], commit: list[EventLine], head: int
    ) -> None:
        there = await anext(stored, None)
        if there is None or commit[-1].position > head or not _same(there, commit):
            raise ImportRefused(
                f"the event store is not empty and does not hold this file's events "
                f"(first difference at position {commit[0].position}); import into an "
                "empty database"
            )
        self._report.events_present += len(commit)
        self._report.commits_present += 1

    async def _write(self, commits: list[list[EventLine]]) -> None:
        if not commits:
            return
        requests = [
            AppendRequest(
                StreamRef(c[0].stream_type, c[0].stream_id),
                new_events(c),
                c[0].version - 1,  # exact: the store refuses anything but the original place
                idempotency_key=c[0].idempotency_key,
            )
            for c in commits
        ]
        self._store.remember(commits)
        outcomes = await self._store.append_batch(requests)
        for commit, outcome in zip(commits, outcomes, strict=True):
            where = commit[0].position
            if isinstance(outcome, ConcurrencyError):
                raise ImportConflict(f"position {where}: {outcome}; is another writer running?")
            assert isinstance(outcome, AppendResult)
            if (outcome.first_position, outcome.first_version) != (where, commit[0].version):
                raise ImportConflict(
                    f"the commit of position {where} landed at position "
                    f"{outcome.first_position}: is another writer running?"
                )
            if outcome.duplicate:
                self._report.events_present += len(commit)
                self._report.commits_present += 1
            else:
                self._report.events_imported += len(commit)
                self._report.commits_imported += 1
        done = self._report.events_imported + self._report.events_present
        self._progress(done, self._report.validation.events)


def _no_progress(done: int, total: int) -> None:
    return None


async def import_events(
    db: AsyncDatabase[Any],
    path: Path,
    *,
    batch_commits: int = BATCH_COMMITS,
    progress: Progress = _no_progress,
) -> ImportReport:
    """Validate ``path``, then import it into ``db``'s event store, then rebuild from the
    log the ingestion snapshots of records that have none (so syncing can continue).

    Raises ``ImportRefused`` (invalid file: see ``report.validation``; or a target that is
    not empty) before writing anything, and ``ImportConflict`` if the store changes under
    the import (the events written so far are a prefix of the file: re-run to complete)."""
    report = ImportReport(validate_file(path))
    if not report.validation.valid:
        raise InvalidFile(report)
    importer = _Importer(db, report, progress)
    await importer.run(path, max(batch_commits, 1))
    if report.events_imported or not await has_snapshots(db):
        # The log alone is a complete backup: give the next sync what it compares with.
        report.snapshots_restored = await importer.snapshots.write(db)
        report.snapshots_unreadable = importer.snapshots.unreadable
    return report


class InvalidFile(ImportRefused):
    def __init__(self, report: ImportReport) -> None:
        count = report.validation.problem_count
        super().__init__(f"{count} invalid line(s); nothing was imported")
        self.report = report
