"""Normalized Odoo records kept by a projection, from the events it folds.

Every projection is independent (its own failures, checkpoint and rebuild), so each keeps
the records it needs itself, in a ``<name>_refs`` collection it owns: that is what ``load``
warms from after a restart. Events carry the full record after the change, so folding is a
plain replace, and each record's position skips events a stored record already contains.

The record is kept as the dict the event carries (it *is* the normalized record,
``Record.to_dict()`` form), which is also what is stored; the ``Record`` dataclass is only
built when a projection asks for it, and then cached until the next change of that record.
Folding a record event is therefore a few dict operations: in a rebuild most records are
replaced many times and read few times (profiles: the dict -> dataclass -> dict round trip
per event was ~20% of a rebuild). The dicts are shared with the events (and between
projections folding the same batch), so nothing here ever mutates one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pymongo import DeleteOne

from domain.catalog import MODEL_BY_EVENT_TYPE, record_data_of
from domain.events import RecordedEvent
from domain.model import (
    EmployeeRecord,
    LeadRecord,
    PartnerRecord,
    Record,
    StageRecord,
    TeamRecord,
    UserRecord,
)
from domain.normalize import EMPLOYEE, LEAD, PARTNER, RECORD_TYPE_BY_MODEL, STAGE, TEAM, USER
from domain.org import OrgChart, resolve_org
from projections.framework import (
    ProjectionContext,
    guarded_bulk_write,
    guarded_write,
)
from projections.framework.documents import POS

ORG_MODELS = frozenset({USER, EMPLOYEE})

RecordData = Mapping[str, Any]


def event_types_for(*models: str) -> frozenset[str]:
    return frozenset(t for t, m in MODEL_BY_EVENT_TYPE.items() if m in models)


def build_record(model: str, data: RecordData | None) -> Record | None:
    return None if data is None else RECORD_TYPE_BY_MODEL[model].from_dict(data)


@dataclass(frozen=True, slots=True)
class Applied:
    """One folded record event: the record's data before and after it (None: absent)."""

    model: str
    odoo_id: int
    before_data: RecordData | None
    after_data: RecordData | None

    def before(self) -> Record | None:
        return build_record(self.model, self.before_data)

    def after(self) -> Record | None:
        return build_record(self.model, self.after_data)


BUCKET_SIZE = 16
"""Records per stored document: ids ``16k .. 16k+15`` of one model share ``<model>/<k>``."""


def bucket_key(model: str, odoo_id: int) -> str:
    # "/" keeps bucket keys apart from the per-record keys ("<model>:<id>") of the layout
    # before buckets, which ``load`` still reads.
    return f"{model}/{odoo_id // BUCKET_SIZE}"


class RecordSet:
    """Records by model and Odoo id, persisted position-guarded in ``<base_name>``.

    Stored in buckets of ``BUCKET_SIZE`` consecutive ids of one model: ``{"_id": "crm.lead/7",
    "model", "records": '{"112": record, ...}', "at": '{"112": position, ...}', "_pos"}``, the
    two maps as JSON text (``_stored_bucket``). Why: the embedded store's cost is per
    document written (~0.2 ms of its CPU each) and per stored value, and a rebuild wrote one
    refs document per lead into each of two collections, about as many documents as all the
    read models together. A live change rewrites one bucket (~10 KB of text) instead of one
    record, still one document.

    ``at`` keeps each record's own position (a deleted record's stays: a tombstone), so a
    replay skips exactly the events a stored record already contains, as a document per
    record did. ``_pos`` guards the write: it only grows, and every event applied after a
    load is newer than the stored bucket (a bucket is written whole from a fold that had
    applied every event up to its ``_pos``), so a write of a bucket this code stored is
    never refused.

    The layout before buckets (one ``<model>:<id>`` document per record, with ``record``)
    is still read: its records go into their buckets, which are written at the next flush,
    and the old documents are deleted after that write. A bucket made only of such records
    starts at position 0 (its ``_pos`` rises with the events applied to it): the documents
    may come from a flush that a crash cut half way (an unordered bulk write), and an event
    replayed for a record whose write was lost, at any position, must still be able to
    write the bucket. One case is not covered: the code before buckets run again after
    buckets were written (a rollback), then this code again; its newer records are read,
    but a stored bucket at a higher position refuses them. Rebuild the projections after
    such a rollback (``pulse rebuild``).
    """

    def __init__(self, base_name: str) -> None:
        self.base_name = base_name
        self._buckets: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()
        self._stored: set[str] = set()  # buckets loaded or written: replaced, others inserted
        self._legacy: list[Any] = []  # per-record documents to delete once converted
        self._data: dict[str, dict[int, RecordData]] = {}
        self._built: dict[str, dict[int, Record]] = {}  # a cache of dataclasses over _data
        self.org_changed = False
        self._chart: OrgChart | None = None

    async def load(self, ctx: ProjectionContext) -> None:
        converted: set[str] = set()
        async for doc in ctx.collection(self.base_name).find({}):
            model = doc.get("model")
            if not isinstance(model, str):
                continue
            if "records" in doc and "at" in doc:
                bucket = self._bucket(str(doc["_id"]), model)
                bucket[POS] = max(bucket[POS], int(doc.get(POS, 0)))
                self._stored.add(bucket["_id"])
                kept, at = _stored_map(doc, "records"), _stored_map(doc, "at")
                for sid, position in at.items():
                    if bucket_key(model, int(sid)) != bucket["_id"]:
                        raise ValueError(
                            f"{self.base_name}: record {sid} stored in bucket {bucket['_id']!r}, "
                            f"not {bucket_key(model, int(sid))!r} (another bucket size?): "
                            "rebuild this projection"
                        )
                    self._keep(bucket, sid, kept.get(sid), int(position))
            elif isinstance(doc.get("record"), Mapping):  # the layout before buckets
                odoo_id = int(doc["odoo_id"])
                bucket = self._bucket(bucket_key(model, odoo_id), model)
                self._keep(bucket, str(odoo_id), doc["record"], int(doc.get(POS, 0)))
                converted.add(bucket["_id"])
                self._legacy.append(doc["_id"])
        # A converted bucket not stored yet keeps position 0 until an event is applied to it:
        # no stored bucket can refuse its writes (see the class docstring).
        self._dirty.update(converted)
        for bucket in self._buckets.values():
            table = self._data.setdefault(bucket["model"], {})
            for sid, data in bucket["records"].items():
                table[int(sid)] = data

    def _bucket(self, key: str, model: str) -> dict[str, Any]:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = {"_id": key, POS: 0, "model": model, "records": {}, "at": {}}
            self._buckets[key] = bucket
        return bucket

    @staticmethod
    def _keep(bucket: dict[str, Any], sid: str, data: Any, position: int) -> None:
        """Loading: keep the newest stored version of one record (or its tombstone)."""
        if position <= bucket["at"].get(sid, -1):
            return
        bucket["at"][sid] = position
        if isinstance(data, Mapping):
            bucket["records"][sid] = data
        else:
            bucket["records"].pop(sid, None)

    def apply(self, event: RecordedEvent) -> Applied | None:
        """Fold one record event; None if the stored record already contained it."""
        model, data = record_data_of(event.type, event.data)
        odoo_id = int(event.data["odoo_id"])
        key = bucket_key(model, odoo_id)
        bucket = self._bucket(key, model)
        sid = str(odoo_id)
        at = bucket["at"]
        position = event.position
        if at.get(sid, 0) >= position:
            return None
        table = self._data.setdefault(model, {})
        before = table.get(odoo_id)
        if data is None:
            if before is None:
                return None  # nothing to delete
            table.pop(odoo_id)
            del bucket["records"][sid]
        else:
            table[odoo_id] = data
            bucket["records"][sid] = data
        at[sid] = position
        if position > bucket[POS]:
            bucket[POS] = position
        self._dirty.add(key)
        built = self._built.get(model)
        if built is not None:
            built.pop(odoo_id, None)
        if model in ORG_MODELS:
            self.org_changed = True
            self._chart = None
        return Applied(model, odoo_id, before, data)

    def get(self, model: str, odoo_id: int | None) -> Record | None:
        if odoo_id is None:
            return None
        built = self._built.setdefault(model, {})
        record = built.get(odoo_id)
        if record is None:
            data = self._data.get(model, {}).get(odoo_id)
            if data is None:
                return None
            record = built[odoo_id] = RECORD_TYPE_BY_MODEL[model].from_dict(data)
        return record

    def all(self, model: str) -> Mapping[int, Record]:
        """Every record of ``model``: in the order they were first seen, or after a load in
        the order of their buckets (``resolve_org`` does not depend on the order)."""
        data = self._data.get(model, {})
        built = self._built.setdefault(model, {})
        if len(built) != len(data):  # built holds a subset of data's keys
            for odoo_id, record in data.items():
                if odoo_id not in built:
                    built[odoo_id] = RECORD_TYPE_BY_MODEL[model].from_dict(record)
        return {odoo_id: built[odoo_id] for odoo_id in data}

    def stage(self, odoo_id: int | None) -> StageRecord | None:
        found = self.get(STAGE, odoo_id)
        return found if isinstance(found, StageRecord) else None

    def stages(self) -> dict[int, StageRecord]:
        return {i: r for i, r in self.all(STAGE).items() if isinstance(r, StageRecord)}

    def lead(self, odoo_id: int) -> LeadRecord | None:
        found = self.get(LEAD, odoo_id)
        return found if isinstance(found, LeadRecord) else None

    def leads(self) -> Iterator[LeadRecord]:
        return (r for r in self.all(LEAD).values() if isinstance(r, LeadRecord))

    def partner(self, odoo_id: int | None) -> PartnerRecord | None:
        found = self.get(PARTNER, odoo_id)
        return found if isinstance(found, PartnerRecord) else None

    def team(self, odoo_id: int | None) -> TeamRecord | None:
        found = self.get(TEAM, odoo_id)
        return found if isinstance(found, TeamRecord) else None

    def chart(self) -> OrgChart:
        if self._chart is None:
            users = [r for r in self.all(USER).values() if isinstance(r, UserRecord)]
            employees = [r for r in self.all(EMPLOYEE).values() if isinstance(r, EmployeeRecord)]
            self._chart = resolve_org(users, employees)
        return self._chart

    @property
    def pending(self) -> int:
        """Documents to write (``flush`` under ``ProjectionContext.later`` left them)."""
        return len(self._dirty) + len(self._legacy)

    async def flush(self, ctx: ProjectionContext) -> None:
        """``save``, unless the worker lets this batch keep them for later: only ``load``
        reads them, and the worker then folds the events since the last save again
        (``RunnerConfig.records_later``). One write fewer per projection and live change."""
        if not ctx.later:
            await self.save(ctx)

    async def save(self, ctx: ProjectionContext) -> None:
        """Write the buckets changed since the last save (then delete what they replace)."""
        collection = ctx.collection(self.base_name)
        writes = [
            guarded_write(
                key, self._buckets[key][POS], _stored_bucket(self._buckets[key]),
                stored=key in self._stored,
            )
            for key in sorted(self._dirty)
        ]  # fmt: skip
        await guarded_bulk_write(collection, writes)
        self._stored.update(self._dirty)
        self._dirty.clear()
        if self._legacy:  # only after the buckets holding their records are stored
            await collection.bulk_write([DeleteOne({"_id": k}) for k in self._legacy])
            self._legacy.clear()


class KeepsRecords:
    """For a projection whose ``records`` only its own ``load`` reads: a live batch may
    leave them for later (``Projection.unsaved`` and ``save``; ``RunnerConfig.records_later``)."""

    records: RecordSet

    def unsaved(self) -> int:
        return self.records.pending

    async def save(self, ctx: ProjectionContext) -> None:
        await self.records.save(ctx)


def _stored_bucket(bucket: Mapping[str, Any]) -> dict[str, Any]:
    """A bucket as stored: its records and positions as two JSON texts. The embedded store
    walks every stored value in Python on each write (stored as documents, 32 leads of 16
    fields were ~1,000 values per bucket and ~2 ms of its CPU per live change for the two
    refs collections); as text a bucket is a handful. Nobody queries inside a bucket;
    MongoDB stores either form alike. JSON keeps the records exact: they are
    ``Record.to_dict()`` values (str, int, float, bool, None, lists), floats round-trip by
    ``repr``."""
    return {
        "model": bucket["model"],
        "records": json.dumps(bucket["records"], separators=(",", ":")),
        "at": json.dumps(bucket["at"], separators=(",", ":")),
    }


def _stored_map(doc: Mapping[str, Any], field: str) -> Mapping[str, Any]:
    """A stored bucket's ``records`` or ``at``: a JSON text of an object."""
    value = doc[field]
    parsed = json.loads(value) if isinstance(value, str) else None
    if not isinstance(parsed, Mapping):
        raise ValueError(f"bucket {doc['_id']!r}: {field} is not the JSON text of an object")
    return parsed


def stage_doc(stage: StageRecord) -> dict[str, Any]:
    return {
        "id": str(stage.odoo_id),
        "odoo_id": stage.odoo_id,
        "name": stage.name,
        "sequence": stage.sequence,
        "is_won": stage.is_won,
    }
