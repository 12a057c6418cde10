"""Turn record histories into the RecordedEvents the store would hand a projection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from domain.change_detection import detect_changes
from domain.events import RecordedEvent
from domain.model import EmployeeRecord, LeadRecord, Record, StageRecord, UserRecord

MODEL_OF = {
    LeadRecord: "crm.lead",
    StageRecord: "crm.stage",
    UserRecord: "res.users",
    EmployeeRecord: "hr.employee",
}


class EventLog:
    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []
        self.current: dict[tuple[str, int], Record] = {}
        self.versions: dict[tuple[str, int], int] = {}

    def won_stages(self) -> set[int]:
        return {
            r.odoo_id
            for (m, _), r in self.current.items()
            if m == "crm.stage" and isinstance(r, StageRecord) and r.is_won
        }

    def put(self, record: Record) -> None:
        model = MODEL_OF[type(record)]
        key = (model, int(record.to_dict()["odoo_id"]))
        self._record(model, key, self.current.get(key), record)
        self.current[key] = record

    def delete(self, model: str, odoo_id: int) -> None:
        key = (model, odoo_id)
        previous = self.current.pop(key, None)
        if previous is not None:
            self._record(model, key, previous, None)

    def _record(
        self, model: str, key: tuple[str, int], before: Record | None, after: Record | None
    ) -> None:
        now = datetime(2026, 1, 1, tzinfo=UTC)
        for new in detect_changes(
            model, before, after, source="test", occurred_at=now, won_stage_ids=self.won_stages()
        ):
            version = self.versions.get(key, 0) + 1
            self.versions[key] = version
            stream_type = {
                "crm.lead": "opportunity",
                "crm.stage": "stage",
                "res.users": "user",
                "hr.employee": "employee",
            }[model]
            self.events.append(
                RecordedEvent(
                    id=new.id,
                    type=new.type,
                    schema_version=1,
                    stream_type=stream_type,
                    stream_id=str(key[1]),
                    version=version,
                    position=len(self.events) + 1,
                    occurred_at=now,
                    recorded_at=now,
                    correlation_id=None,
                    causation_id=None,
                    source="test",
                    data=dict(new.data),
                )
            )

    def of(self, cls: type) -> list[Record]:
        return [r for r in self.current.values() if isinstance(r, cls)]


def fold(factory: type, events: Sequence[RecordedEvent]):  # type: ignore[no-untyped-def]
    projection = factory()
    for event in events:
        if event.type in projection.handles:
            projection.apply(event)
    return projection
