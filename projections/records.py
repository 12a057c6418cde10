"""Normalized Odoo records kept by a projection, from the events it folds.

Every projection is independent (its own failures, checkpoint and rebuild), so each keeps
the records it needs itself, in a ``<name>_refs`` collection it owns: that is what ``load``
warms from after a restart. Events carry the full record after the change, so folding is a
plain replace, and ``DocumentTable`` skips events a stored record already contains.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from domain.catalog import MODEL_BY_EVENT_TYPE, record_from_event
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


def event_types_for(*models: str) -> frozenset[str]:
    return frozenset(t for t, m in MODEL_BY_EVENT_TYPE.items() if m in models)


class RecordSet:
    """Records by model and Odoo id, persisted position-guarded in ``<base_name>``."""

    def __init__(self, base_name: str) -> None:
        self.table = DocumentTable(base_name)
        self._by_model: dict[str, dict[int, Record]] = {}
        self.org_changed = False
        self._chart: OrgChart | None = None

    async def load(self, ctx: ProjectionContext) -> None:
        await self.table.load(ctx)
        for _, doc in self.table.items():
            model, data = doc.get("model"), doc.get("record")
            if isinstance(model, str) and isinstance(data, Mapping):
                record = RECORD_TYPE_BY_MODEL[model].from_dict(dict(data))
                self._by_model.setdefault(model, {})[int(doc["odoo_id"])] = record

    def apply(self, event: RecordedEvent) -> tuple[str, Record | None, Record | None] | None:
        """Fold one record event; return (model, before, after), or None if the stored
        record already contained it."""
        model, record = record_from_event(event.type, event.data)
        odoo_id = int(event.data["odoo_id"])
        key = f"{model}:{odoo_id}"
        table = self._by_model.setdefault(model, {})
        before = table.get(odoo_id)
        if record is None:
            if not self.table.delete(key, event):
                return None
            table.pop(odoo_id, None)
        else:
            doc = self.table.edit(key, event)
            if doc is None:
                return None
            doc.update({"model": model, "odoo_id": odoo_id, "record": record.to_dict()})
            table[odoo_id] = record
        if model in ORG_MODELS:
            self.org_changed = True
            self._chart = None
        return model, before, record

    def get(self, model: str, odoo_id: int | None) -> Record | None:
        if odoo_id is None:
            return None
        return self._by_model.get(model, {}).get(odoo_id)

    def all(self, model: str) -> Mapping[int, Record]:
        return self._by_model.get(model, {})

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
