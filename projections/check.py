"""``pulse check``: recompute every read model from the events, in memory, and compare.

Each projection is folded from position 0 into a fresh instance (no stored state read), and
the documents it implies are compared with the active generation of its collections. Fields
that record *when* something was written (``_pos``, ``as_of``, ``updated_at``,
``refreshed_at``) are not compared: they legitimately differ between a live fold and a
from-scratch one. Any other difference, and any document missing or extra, is reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from domain.event_store import EventStore
from projections.catalog import PROJECTIONS
from projections.framework import active_collection
from projections.framework.projection import Projection
from projections.read_models import DASHBOARDS, USER_ACCESS, USER_PROFILES

VOLATILE = frozenset({"_id", "_pos", "as_of", "updated_at", "refreshed_at"})


@dataclass
class CheckReport:
    events: int = 0
    compared: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.differences


def _normal(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(microsecond=value.microsecond // 1000 * 1000).isoformat()
    if isinstance(value, Mapping):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    return value


def expected_documents(projection: Projection) -> dict[str, dict[str, dict[str, Any]]]:
    """Per collection base name, the documents a fold implies."""
    docs: Any = projection.all_documents()  # type: ignore[attr-defined]
    if projection.name == "user_profiles":
        return {USER_PROFILES: docs}
    if projection.name == "user_access_matrix":
        return {USER_ACCESS: docs}
    if projection.name == "dashboard_metrics":
        return {DASHBOARDS: docs}
    return dict(docs)


async def check(db: AsyncDatabase[Any], store: EventStore, *, max_report: int = 200) -> CheckReport:
    report = CheckReport()
    folds = [factory() for factory in PROJECTIONS]
    async for batch in store.read_all(0, batch_size=5000):
        report.events += len(batch)
        for projection in folds:
            for event in batch:
                if event.type in projection.handles:
                    projection.apply(event)
    for projection in folds:
        for base_name, expected in expected_documents(projection).items():
            collection = await active_collection(db, projection.name, base_name)
            stored = {str(doc["_id"]): doc async for doc in collection.find({})}
            for key in sorted(set(expected) | set(stored)):
                report.compared += 1
                where = f"{base_name}/{key}"
                if key not in stored:
                    report.differences.append(f"{where}: missing from the read model")
                    continue
                if key not in expected:
                    report.differences.append(f"{where}: in the read model, not in the events")
                    continue
                want = {k: v for k, v in expected[key].items() if k not in VOLATILE}
                have = {k: stored[key].get(k) for k in want}
                if _normal(want) != _normal(have):
                    fields = sorted(k for k in want if _normal(want[k]) != _normal(have[k]))
                    report.differences.append(f"{where}: differs in {', '.join(fields)}")
    if len(report.differences) > max_report:
        extra = len(report.differences) - max_report
        report.differences = [*report.differences[:max_report], f"... and {extra} more"]
    return report
