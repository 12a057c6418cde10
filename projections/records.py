"""Normalized Odoo records kept by a projection, from the events it folds.

Every projection is independent (its own failures, checkpoint and rebuild), so each keeps
the records it needs itself, in a ``<name>_refs`` collection it owns: that is what ``load``
warms from after a restart. Events carry the full record after the change, so folding is a
plain replace, and ``DocumentTable`` skips events a stored record already contains.

The record is kept as the dict the event carries (it *is* the normalized record,
``Record.to_dict()`` form), which is also what is stored; the ``Record`` dataclass is only
built when a projection asks for it, and then cached until the next change of that record.
Folding a record event is therefore a few dict operations: in a rebuild most records are
replaced many times and read few times (profiles: the dict -> dataclass -> dict round trip
per event was ~20% of a rebuild). The dicts are shared with the events (and between
projections folding the same batch), so nothing here ever mutates one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

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
from projections.framework import DocumentTable, ProjectionContext

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


class RecordSet:
    """Records by model and Odoo id, persisted position-guarded in ``<base_name>``."""

    def __init__(self, base_name: str) -> None:
        self.table = DocumentTable(base_name)
        self._data: dict[str, dict[int, RecordData]] = {}
        self._built: dict[str, dict[int, Record]] = {}  # a cache of dataclasses over _data
        self.org_changed = False
        self._chart: OrgChart | None = None

    async def load(self, ctx: ProjectionContext) -> None:
        await self.table.load(ctx)
        for _, doc in self.table.items():
            model, data = doc.get("model"), doc.get("record")
            if isinstance(model, str) and isinstance(data, Mapping):
                self._data.setdefault(model, {})[int(doc["odoo_id"])] = data

    def apply(self, event: RecordedEvent) -> Applied | None:
        """Fold one record event; None if the stored record already contained it."""
        model, data = record_data_of(event.type, event.data)
        odoo_id = int(event.data["odoo_id"])
        key = f"{model}:{odoo_id}"
        table = self._data.setdefault(model, {})
        before = table.get(odoo_id)
        if data is None:
            if not self.table.delete(key, event):
                return None
            table.pop(odoo_id, None)
        else:
            doc = self.table.edit(key, event)
            if doc is None:
                return None
            doc.update({"model": model, "odoo_id": odoo_id, "record": data})
            table[odoo_id] = data
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
        """Every record of ``model``, in the order they were first seen (as before the
        records were kept as dicts: ``resolve_org`` gets its users in a stable order)."""
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

    async def flush(self, ctx: ProjectionContext) -> None:
        await self.table.flush(ctx)


def stage_doc(stage: StageRecord) -> dict[str, Any]:
    return {
        "id": str(stage.odoo_id),
        "odoo_id": stage.odoo_id,
        "name": stage.name,
        "sequence": stage.sequence,
        "is_won": stage.is_won,
    }
