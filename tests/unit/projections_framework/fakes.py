"""In-memory stand-ins for the few collection calls the framework makes, with MongoDB's
semantics for position-guarded upserts (duplicate key when the stored doc is newer), and
a switch to "crash" after a number of writes."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from pymongo import DeleteOne, InsertOne, ReplaceOne
from pymongo.errors import BulkWriteError

from domain.events import RecordedEvent

_T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(position: int, type_: str, stream: str = "deal/1", **data: Any) -> RecordedEvent:
    kind, _, ident = stream.partition("/")
    return RecordedEvent(
        id=f"e{position}", type=type_, schema_version=1, stream_type=kind, stream_id=ident,
        version=1, position=position, occurred_at=_T0, recorded_at=_T0,
        correlation_id=None, causation_id=None, source="test", data=data,
    )  # fmt: skip


class Crash(ConnectionError):
    pass


class FakeCollection:
    def __init__(self, name: str) -> None:
        self.name = name
        self.docs: dict[Any, dict[str, Any]] = {}
        self.writes_left: int | None = None  # None: never crash

    def _spend(self) -> None:
        if self.writes_left is not None:
            if self.writes_left == 0:
                raise Crash(f"{self.name}: crashed mid-bulk")
            self.writes_left -= 1

    async def bulk_write(self, ops: list[Any], ordered: bool = True) -> None:
        errors = []
        for index, op in enumerate(ops):
            self._spend()
            if isinstance(op, InsertOne):
                if op._doc["_id"] in self.docs:
                    errors.append({"index": index, "code": 11000, "errmsg": "dup _id"})
                else:
                    self.docs[op._doc["_id"]] = copy.deepcopy(dict(op._doc))
                continue
            flt: Mapping[str, Any] = op._filter
            key, limit = flt["_id"], flt.get("_pos", {}).get("$lt")  # no _pos: unguarded
            stored = self.docs.get(key)
            newer = stored is None or limit is None or stored["_pos"] < limit
            if isinstance(op, ReplaceOne):
                if newer:
                    # A copy, as a store serialises what it is sent: a caller that changes
                    # the documents it wrote must not change what is "stored".
                    self.docs[key] = copy.deepcopy(dict(op._doc))
                else:
                    errors.append({"index": index, "code": 11000, "errmsg": "dup _id"})
            elif isinstance(op, DeleteOne) and stored is not None and newer:
                del self.docs[key]
        if errors:
            raise BulkWriteError({"writeErrors": errors, "writeConcernErrors": []})

    def find(self, flt: Mapping[str, Any] | None = None, *_: Any) -> AsyncIterator[dict[str, Any]]:
        keys = set((flt or {}).get("_id", {}).get("$in", self.docs))

        async def gen() -> AsyncIterator[dict[str, Any]]:
            for key in list(self.docs):
                if key in keys:
                    yield copy.deepcopy(self.docs[key])

        return gen()


class FakeDb:
    name = "fake"

    def __init__(self) -> None:
        self.collections: dict[str, FakeCollection] = {}

    def __getitem__(self, name: str) -> FakeCollection:
        return self.collections.setdefault(name, FakeCollection(name))
