"""MongoDB event store: one document per commit, tailable by a gap-free global position.

Design (the part that must never be wrong)
-----------------------------------------
Each commit document holds all events of one ``append`` and is written by ONE ``insert_one``,
so a commit is stored whole or not at all without multi-document transactions.

Global positions: a commit covering events ``pos..end`` may only be inserted at
``pos = end of a commit that the writer has already seen + 1`` (or 1 for the first commit),
and a unique index on ``pos`` lets exactly one writer claim each start. By induction the
commits form one contiguous chain 1..head, and a commit at ``pos`` is only written after the
commit ending at ``pos - 1`` was visible to its writer. A reader that asks for
``end > p`` therefore can never see a commit while an earlier one is still missing, which is
precisely the failure mode (a lower position landing after a higher one was read) that made
Marten, Commanded and others skip events. There is no counter document and no reserved but
unwritten position, so a writer that crashes leaves no gap for readers to wait on. Writers
that lose the race for a start (DuplicateKeyError on ``pos``) re-read the head and retry.
Readers still verify contiguity and stop at any hole, so even a broken writer could only
delay a reader, never make it skip.

Stream versions use the same chain: a commit starts at ``version = an existing commit end of
that stream + 1`` and a unique index on ``(stream, ver)`` detects concurrent writers. An
exact expected version is accepted only if it is the end of an existing commit of the
stream (or 0); the race itself is decided by the unique index, not by the read.

Idempotency: every commit has a unique ``idem`` value, the caller's key or a per-commit
value, so the same key twice is refused by the index and the first result is returned.

Writers cache the head position and each stream's last version they saw; a cache is only
ever a lower bound of the truth, so a stale cache costs one retry and never a wrong write.

Filters name their values with ``$eq`` (``{"stream": {"$eq": key}}``), never as plain
equality: the two mean the same on MongoDB, but the embedded store (nx-27017) answers a
plain equality on a field other than ``_id`` by scanning the whole collection (it also
matches arrays there), and ``$in`` likewise. With 24,655 commits a stream lookup took
~210 ms that way and ~1 ms through the ``stream_ver`` index, and every append to a stream
whose head this process had not cached yet (each webhook's record after a restart) paid it
while the one-request-at-a-time store served nobody else.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import bson
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from domain.errors import ConcurrencyError
from domain.event_store import (
    AppendOutcome,
    AppendRequest,
    AppendResult,
    EventPage,
    EventQuery,
    Expected,
    ExpectedVersion,
)
from domain.events import NewEvent, RecordedEvent, StreamRef, new_id
from domain.tasks import stop_task
from domain.upcasting import UpcasterRegistry
from infrastructure.eventstore.common import as_utc, check_expected, matches, validate_append

log = logging.getLogger("pulse.eventstore")

COMMITS = "event_commits"
MAX_ATTEMPTS = 10_000
DUPLICATE_KEY = 11000
QUERY_COMMITS = 2000  # commits per read query in read_all
PRIME_CONCURRENCY = 8  # stream-head lookups in flight when a batch names unknown streams
RECENT_COMMITS = 256
"""Commits this object appended last, kept for ``recently_appended`` (as inserted; decoded
only when asked for, so a bulk import pays nothing for them)."""


def _ms(moment: datetime) -> datetime:
    """BSON dates hold milliseconds; truncate up front so what we return equals what we read."""
    moment = as_utc(moment)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class MongoEventStore:
    def __init__(self, db: AsyncDatabase[Any], upcasters: UpcasterRegistry | None = None) -> None:
        self._commits: AsyncCollection[Any] = db[COMMITS]
        self._upcasters = upcasters or UpcasterRegistry()
        self._next_position: int | None = None
        self._stream_heads: dict[str, int] = {}
        # first position -> [the commit as inserted, its events once decoded]
        self._recent: OrderedDict[int, list[Any]] = OrderedDict()

    async def ensure_indexes(self) -> None:
        await self._commits.create_indexes(
            [
                IndexModel([("pos", ASCENDING)], unique=True, name="pos_unique"),
                IndexModel([("end", ASCENDING)], name="end"),
                IndexModel(
                    [("stream", ASCENDING), ("ver", ASCENDING)], unique=True, name="stream_ver"
                ),
                IndexModel([("idem", ASCENDING)], unique=True, name="idem_unique"),
                IndexModel([("st", ASCENDING), ("pos", ASCENDING)], name="stream_type_pos"),
            ]
        )

    # ------------------------------------------------------------------ append
    async def append(
        self,
        stream: StreamRef,
        events: Sequence[NewEvent],
        expected_version: Expected = ExpectedVersion.ANY,
        *,
        idempotency_key: str | None = None,
    ) -> AppendResult:
        request = AppendRequest(stream, events, expected_version, idempotency_key)
        (outcome,) = await self.append_batch([request])
        if isinstance(outcome, ConcurrencyError):
            raise outcome
        return outcome

    async def append_batch(self, requests: Sequence[AppendRequest]) -> list[AppendOutcome]:
        for request in requests:
            validate_append(request.events, request.expected_version)
        outcomes: dict[int, AppendOutcome] = {}
        await self._prime_stream_heads(requests)
        pending = list(range(len(requests)))
        for _ in range(MAX_ATTEMPTS):
            if not pending:
                return [outcomes[i] for i in range(len(requests))]
            if self._next_position is None:
                self._next_position = await self.head_position() + 1
            docs, planned = await self._plan(requests, pending, outcomes)
            if not docs:
                pending = []
                continue
            inserted, failed = await self._insert(docs)
            for k in range(inserted):
                doc = docs[k]
                outcomes[planned[k]] = self._result_of(doc)
                self._stream_heads[doc["stream"]] = doc["vend"]
                self._remember(doc)
            if inserted:
                self._next_position = docs[inserted - 1]["end"] + 1
            if failed is None:
                pending = []
                continue
            index, request = planned[failed], requests[planned[failed]]
            resolved: AppendOutcome | None
            try:
                resolved = await self._resolve_conflict(
                    request.stream,
                    request.expected_version,
                    docs[failed]["ver"],
                    request.idempotency_key,
                )
            except ConcurrencyError as err:
                resolved = err
            if resolved is None:  # lost a race for the position or an ANY version: retry
                pending = planned[failed:]
            else:
                outcomes[index] = resolved
                pending = planned[failed + 1 :]
        raise RuntimeError(f"append gave up after {MAX_ATTEMPTS} contended attempts")

    async def _insert(self, docs: list[dict[str, Any]]) -> tuple[int, int | None]:
        """Insert in order; return (how many went in, index of the refused one or None)."""
        try:
            if len(docs) == 1:
                await self._commits.insert_one(docs[0])
            else:
                await self._commits.insert_many(docs, ordered=True)
            return len(docs), None
        except DuplicateKeyError:
            return 0, 0
        except BulkWriteError as err:
            errors = err.details.get("writeErrors") or []
            if not errors or errors[0].get("code") != DUPLICATE_KEY:
                raise
            index = int(errors[0]["index"])
            return index, index

    async def _prime_stream_heads(self, requests: Sequence[AppendRequest]) -> None:
        """Learn the head of every stream whose start version we cannot derive from the
        request or the cache."""
        unknown = {
            r.stream.key
            for r in requests
            if r.expected_version is not ExpectedVersion.NO_STREAM
            and r.expected_version != 0
            and r.stream.key not in self._stream_heads
        }
        if not unknown:
            return
        # One indexed lookup per stream, a few at a time, rather than one ``$in`` query:
        # the embedded store scans the collection for ``$in`` (64 streams among 24,655
        # commits: 224 ms as one $in, 43 ms as lookups).
        limit = asyncio.Semaphore(PRIME_CONCURRENCY)

        async def head_of(key: str) -> None:
            async with limit:
                await self._stream_version_of(key)
            self._stream_heads.setdefault(key, 0)  # a new stream: known to start at 1

        await asyncio.gather(*(head_of(key) for key in sorted(unknown)))

    async def _plan(
        self,
        requests: Sequence[AppendRequest],
        pending: list[int],
        outcomes: dict[int, AppendOutcome],
    ) -> tuple[list[dict[str, Any]], list[int]]:
        """Commit documents for the pending requests at consecutive positions."""
        docs: list[dict[str, Any]] = []
        planned: list[int] = []
        heads: dict[str, int] = {}
        assert self._next_position is not None
        position = self._next_position
        for i in pending:
            request = requests[i]
            start = await self._start_version(request, heads)
            if isinstance(start, ConcurrencyError):
                # A replay of a commit that went in before a crash finds the stream moved
                # on: its key, not its stale expected version, says what happened.
                outcomes[i] = await self._already_committed(request) or start
                continue
            doc = self._commit_doc(
                request.stream, request.events, new_id(), start, position, request.idempotency_key
            )
            position = doc["end"] + 1
            heads[request.stream.key] = doc["vend"]
            docs.append(doc)
            planned.append(i)
        return docs, planned

    async def _start_version(
        self, request: AppendRequest, batch_heads: dict[str, int]
    ) -> int | ConcurrencyError:
        """The first version of the request's commit, or why it cannot be written.

        Caches only lower the cost: the unique (stream, ver) index decides every race."""
        key, expected = request.stream.key, request.expected_version
        if key in batch_heads:  # an earlier commit of this batch extends the same stream
            head = batch_heads[key]
        elif expected is ExpectedVersion.NO_STREAM or expected == 0:
            return 1  # if the stream exists, the unique (stream, ver) index refuses the insert
        else:
            if key not in self._stream_heads:
                await self.stream_version(request.stream)
            head = self._stream_heads.get(key, 0)
        if expected is ExpectedVersion.ANY:
            return head + 1
        wanted = 0 if expected is ExpectedVersion.NO_STREAM else int(expected)
        if head < wanted:
            # The cache is a lower bound: look again before calling the stream behind.
            head = await self.stream_version(request.stream)
        if head != wanted:
            return ConcurrencyError(key, expected, head)
        return wanted + 1

    async def _already_committed(self, request: AppendRequest) -> AppendResult | None:
        if request.idempotency_key is None:
            return None
        first = await self._commits.find_one({"idem": {"$eq": request.idempotency_key}})
        return None if first is None else self._result_of(first, duplicate=True)

    async def _resolve_conflict(
        self, stream: StreamRef, expected: Expected, start_version: int, idem: str | None
    ) -> AppendResult | None:
        """Work out which unique index refused the insert. None means: retry."""
        if idem is not None:
            first = await self._commits.find_one({"idem": {"$eq": idem}})
            if first is not None:
                return self._result_of(first, duplicate=True)
        taken = await self._commits.find_one(
            {"stream": {"$eq": stream.key}, "ver": {"$eq": start_version}}, {"vend": 1}
        )
        if taken is not None:
            self._stream_heads.pop(stream.key, None)
            if expected is ExpectedVersion.ANY:
                return None
            current = await self.stream_version(stream)
            check_expected(stream, expected, current)
            raise ConcurrencyError(stream.key, expected, current)
        # Another writer claimed this global position first: learn the new head, retry.
        self._next_position = None
        return None

    def _commit_doc(
        self,
        stream: StreamRef,
        events: Sequence[NewEvent],
        commit_id: str,
        start_version: int,
        position: int,
        idem: str | None,
    ) -> dict[str, Any]:
        count = len(events)
        return {
            "_id": commit_id,
            "pos": position,
            "end": position + count - 1,
            "stream": stream.key,
            "st": stream.type,
            "sid": stream.id,
            "ver": start_version,
            "vend": start_version + count - 1,
            "idem": idem if idem is not None else f"commit:{commit_id}",
            "at": _ms(datetime.now(UTC)),
            "types": sorted({e.type for e in events}),
            "events": [
                {
                    "id": e.id,
                    "type": e.type,
                    "sv": e.schema_version,
                    "at": _ms(e.occurred_at),
                    "corr": e.correlation_id,
                    "caus": e.causation_id,
                    "src": e.source,
                    "data": dict(e.data),
                }
                for e in events
            ],
        }

    @staticmethod
    def _result_of(doc: Mapping[str, Any], duplicate: bool = False) -> AppendResult:
        return AppendResult(
            stream=StreamRef.parse(doc["stream"]),
            commit_id=doc["_id"],
            first_version=doc["ver"],
            last_version=doc["vend"],
            first_position=doc["pos"],
            last_position=doc["end"],
            duplicate=duplicate,
        )

    # ------------------------------------------------------------------- reads
    def _events_of(self, doc: Mapping[str, Any], after: int = 0) -> list[RecordedEvent]:
        stream_type, stream_id = doc["st"], doc["sid"]
        recorded_at = doc["at"]  # the client decodes BSON dates as UTC-aware datetimes
        out: list[RecordedEvent] = []
        for i, raw in enumerate(doc["events"]):
            position = doc["pos"] + i
            if position <= after:
                continue
            version, data = self._upcasters.upcast(raw["type"], raw["sv"], raw["data"])
            out.append(
                RecordedEvent(
                    id=raw["id"],
                    type=raw["type"],
                    schema_version=version,
                    stream_type=stream_type,
                    stream_id=stream_id,
                    version=doc["ver"] + i,
                    position=position,
                    occurred_at=raw["at"],
                    recorded_at=recorded_at,
                    correlation_id=raw.get("corr"),
                    causation_id=raw.get("caus"),
                    source=raw.get("src") or "pulse",
                    data=data,
                )
            )
        return out

    async def read_stream(
        self, stream: StreamRef, from_version: int = 1, limit: int | None = None
    ) -> list[RecordedEvent]:
        cursor = self._commits.find(
            {"stream": {"$eq": stream.key}, "vend": {"$gte": from_version}}
        ).sort("ver", ASCENDING)
        out: list[RecordedEvent] = []
        try:
            async for doc in cursor:
                for event in self._events_of(doc):
                    if event.version >= from_version:
                        out.append(event)
                if limit is not None and len(out) >= limit:
                    await cursor.close()
                    return out[:limit]
            return out
        finally:
            # What was read is a lower bound of the stream's head (streams only grow): an
            # append that follows with the version just read needs no lookup of its own.
            if out:
                self._note_head(stream.key, out[-1].version)

    async def stream_version(self, stream: StreamRef) -> int:
        return await self._stream_version_of(stream.key)

    async def _stream_version_of(self, key: str) -> int:
        doc = await self._commits.find_one(
            {"stream": {"$eq": key}}, {"vend": 1}, sort=[("ver", DESCENDING)]
        )
        version = int(doc["vend"]) if doc else 0
        if version:
            self._note_head(key, version)
        return version

    def _note_head(self, key: str, version: int) -> None:
        """The cache of stream heads holds lower bounds only: the unique (stream, ver) index
        refuses an append whose version a cached head understated."""
        self._stream_heads[key] = max(self._stream_heads.get(key, 0), version)

    async def head_position(self) -> int:
        doc = await self._commits.find_one({}, {"end": 1}, sort=[("pos", DESCENDING)])
        return int(doc["end"]) if doc else 0

    async def read_after(self, position: int, limit: int = 1000) -> list[RecordedEvent]:
        position = max(position, 0)
        cursor = (
            self._commits.find({"end": {"$gt": position}})
            .sort("end", ASCENDING)
            .limit(max(limit, 1))
            .batch_size(max(min(limit, 1000), 1))
        )
        out: list[RecordedEvent] = []
        expected = position + 1
        async for doc in cursor:
            if doc["pos"] > expected:
                # A hole: cannot happen with this writer protocol, but never read past one.
                log.warning(
                    "event log hole at position %d (next commit starts at %d)", expected, doc["pos"]
                )
                break
            out.extend(self._events_of(doc, after=position))
            expected = doc["end"] + 1
            if len(out) >= limit:
                break
        await cursor.close()
        return out

    def recently_appended(self, position: int, limit: int) -> list[RecordedEvent] | None:
        """The projections' live workers used to read back, right after each append, the
        commit this process had just written: one more request per change on the one-
        request-at-a-time embedded store (bench: "one opportunity change -> dashboard").
        Positions have no holes (a commit takes the next one or is refused by the unique
        index), so the commit starting at ``position + 1`` is exactly what a read would
        return first."""
        out: list[RecordedEvent] = []
        start = position + 1
        while len(out) < limit:
            entry = self._recent.get(start)
            if entry is None:
                break
            doc, events = entry
            if events is None:
                # Through BSON, as a read would: the same types (lists, not tuples) and
                # dates (milliseconds, UTC-aware), the same upcasting.
                raw = bson.decode(bson.encode(doc), codec_options=self._commits.codec_options)
                events = entry[1] = self._events_of(raw)
            out.extend(events)
            start = doc["end"] + 1
        return out or None

    def _remember(self, doc: dict[str, Any]) -> None:
        self._recent[doc["pos"]] = [doc, None]
        while len(self._recent) > RECENT_COMMITS:
            self._recent.popitem(last=False)

    async def read_all(
        self, after: int = 0, batch_size: int = 1000
    ) -> AsyncIterator[list[RecordedEvent]]:
        """Stream everything after ``after`` through one cursor, prefetching the next batch
        while the caller works on the current one (the server and the caller then use both
        cores). Stops at the head seen by the last query, or at a hole (never reads past one).
        """
        queue: asyncio.Queue[list[RecordedEvent] | BaseException | None] = asyncio.Queue(2)
        producer = asyncio.create_task(self._produce(after, batch_size, queue))
        try:
            while True:
                item = await queue.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            await stop_task(producer)

    async def _produce(
        self,
        after: int,
        batch_size: int,
        queue: asyncio.Queue[list[RecordedEvent] | BaseException | None],
    ) -> None:
        try:
            position = after
            while True:
                # Bounded queries, re-issued from the last position: an open-ended one makes
                # the embedded store load every remaining commit before answering anything
                # (and starve heartbeats and lease renewals on a big log).
                cursor = (
                    self._commits.find({"end": {"$gt": position}})
                    .sort("end", ASCENDING)
                    .limit(QUERY_COMMITS)
                    .batch_size(max(min(batch_size, 2000), 1))
                )
                batch: list[RecordedEvent] = []
                hole = False
                read_any = False
                async for doc in cursor:
                    if doc["pos"] > position + 1:
                        log.warning(
                            "event log hole at position %d (next commit starts at %d)",
                            position + 1,
                            doc["pos"],
                        )
                        hole = True
                        break
                    read_any = True
                    batch.extend(self._events_of(doc, after=position))
                    position = doc["end"]
                    if len(batch) >= batch_size:
                        await queue.put(batch)
                        batch = []
                await cursor.close()
                if batch:
                    await queue.put(batch)
                if hole or not read_any:
                    break
                # Commits may have landed after the cursor's last batch: query again.
            await queue.put(None)
        except Exception as err:  # surfaced to the consumer, not swallowed
            await queue.put(err)

    async def query(
        self, query: EventQuery, after_position: int = 0, limit: int = 100
    ) -> EventPage:
        flt: dict[str, Any] = {"end": {"$gt": max(after_position, 0)}}
        if query.stream_type is not None:
            flt["st"] = query.stream_type
        if query.stream_id is not None:
            flt["sid"] = query.stream_id
        if query.types is not None:
            flt["types"] = {"$in": list(query.types)}
        found: list[RecordedEvent] = []
        cursor = self._commits.find(flt).sort("end", ASCENDING).batch_size(200)
        async for doc in cursor:
            for event in self._events_of(doc, after=after_position):
                if not matches(event, query):
                    continue
                if len(found) == limit:
                    await cursor.close()
                    return EventPage(found, found[-1].position)
                found.append(event)
        return EventPage(found, None)
