"""``pulse import``: a JSON Lines dump of raw Odoo records, through the same change detection.

Each line is ``{"model": "...", "record": {...}}`` with the record as ``search_read`` returns
it. Every input line ends in exactly one outcome, so the report always adds up:

* ``imported``: the record was new or different and its events were appended;
* ``unchanged``: a version Pulse had already received (nothing appended, and an older
  version in a re-imported dump does not roll the record back);
* ``duplicate``: identical to an earlier line of the same file;
* ``rejected``: with the reason (invalid JSON, missing id, wrong type, unknown model...).

Before anything is ingested, the current snapshots of every record the file names are handed
to a ``backup`` callback, so an import can be undone by hand.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from domain.catalog import canonical_model
from domain.ingestion import Ingestor, Snapshot, SnapshotStore
from domain.normalize import LEAD, MODEL_FIELDS, RecordRejected, normalize, record_hash

Status = Literal["imported", "unchanged", "duplicate", "rejected"]
IMPORTABLE = frozenset(MODEL_FIELDS) | {"hr.employee.public"}
BATCH = 500


@dataclass(frozen=True, slots=True)
class LineOutcome:
    line: int
    status: Status
    model: str | None = None
    odoo_id: int | None = None
    reason: str | None = None


@dataclass
class ImportReport:
    lines: int = 0
    outcomes: list[LineOutcome] = field(default_factory=list)
    events_appended: int = 0
    backup_path: str | None = None

    def counts(self) -> dict[str, int]:
        counted = Counter(o.status for o in self.outcomes)
        return {s: counted.get(s, 0) for s in ("imported", "unchanged", "duplicate", "rejected")}

    @property
    def adds_up(self) -> bool:
        return len(self.outcomes) == self.lines == sum(self.counts().values())


@dataclass(frozen=True, slots=True)
class _Parsed:
    line: int
    model: str
    odoo_id: int
    raw: dict[str, Any]
    content_hash: str


def parse_line(number: int, text: str) -> _Parsed | LineOutcome:
    try:
        item = json.loads(text)
    except json.JSONDecodeError as err:
        return LineOutcome(number, "rejected", reason=f"invalid JSON ({err.msg})")
    except ValueError:
        return LineOutcome(number, "rejected", reason="invalid JSON")
    if not isinstance(item, dict):
        return LineOutcome(number, "rejected", reason="line is not a JSON object")
    model, raw = item.get("model"), item.get("record")
    if not isinstance(model, str) or not model:
        return LineOutcome(number, "rejected", reason="missing 'model'")
    if model not in IMPORTABLE:
        return LineOutcome(number, "rejected", model=model, reason=f"unknown model {model!r}")
    if not isinstance(raw, dict):
        return LineOutcome(number, "rejected", model=model, reason="'record' is not an object")
    model = canonical_model(model)
    try:
        record = normalize(model, raw)
    except RecordRejected as err:
        raw_id = raw.get("id")
        odoo_id = raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else None
        return LineOutcome(number, "rejected", model=model, odoo_id=odoo_id, reason=err.reason)
    odoo_id = int(record.to_dict()["odoo_id"])
    return _Parsed(number, model, odoo_id, raw, record_hash(record))


Backup = Callable[[Sequence[Snapshot]], Awaitable[str | None]]


async def import_lines(
    lines: Iterable[str], ingestor: Ingestor, snapshots: SnapshotStore, backup: Backup | None
) -> ImportReport:
    report = ImportReport()
    parsed: list[_Parsed] = []
    first_seen: dict[tuple[str, int, str], int] = {}
    for number, text in enumerate(lines, start=1):
        report.lines += 1
        if not text.strip():
            report.outcomes.append(LineOutcome(number, "rejected", reason="empty line"))
            continue
        result = parse_line(number, text)
        if isinstance(result, LineOutcome):
            report.outcomes.append(result)
            continue
        key = (result.model, result.odoo_id, result.content_hash)
        if key in first_seen:
            report.outcomes.append(
                LineOutcome(
                    number,
                    "duplicate",
                    result.model,
                    result.odoo_id,
                    f"same as line {first_seen[key]}",
                )
            )
            continue
        first_seen[key] = number
        parsed.append(result)

    if backup is not None and parsed:
        replaced: list[Snapshot] = []
        for model in sorted({p.model for p in parsed}):
            ids = sorted({p.odoo_id for p in parsed if p.model == model})
            replaced.extend((await snapshots.latest(model, ids)).values())
        report.backup_path = await backup(replaced)

    # Related models first (as a sync does), then leads; within a model, file order. A batch
    # never holds the same record twice, so every version in the file is applied in turn.
    sequence = ("crm.stage", "crm.team", "res.partner", "res.users", "hr.employee", LEAD)
    order = {m: i for i, m in enumerate(sequence)}
    parsed.sort(key=lambda p: (order.get(p.model, 99), p.line))
    batch: list[_Parsed] = []
    batch_ids: set[int] = set()
    for item in parsed:
        full = len(batch) >= BATCH
        if batch and (full or item.model != batch[0].model or item.odoo_id in batch_ids):
            await _ingest(batch, ingestor, snapshots, report)
            batch, batch_ids = [], set()
        batch.append(item)
        batch_ids.add(item.odoo_id)
    if batch:
        await _ingest(batch, ingestor, snapshots, report)
    report.outcomes.sort(key=lambda o: o.line)
    return report


async def _ingest(
    batch: list[_Parsed], ingestor: Ingestor, snapshots: SnapshotStore, report: ImportReport
) -> None:
    model = batch[0].model
    ids = [p.odoo_id for p in batch]
    latest = await snapshots.latest(model, ids)
    known = await snapshots.known_versions(model, ids)
    fresh: list[_Parsed] = []
    for p in batch:
        before = latest.get(p.odoo_id)
        if (p.odoo_id, p.content_hash) in known or (
            before is not None and before.content_hash == p.content_hash
        ):
            report.outcomes.append(LineOutcome(p.line, "unchanged", model, p.odoo_id))
        else:
            fresh.append(p)
    if fresh:
        stats = await ingestor.ingest_rows(model, [p.raw for p in fresh], source="import")
        report.events_appended += stats.events_appended
    for p in fresh:
        report.outcomes.append(LineOutcome(p.line, "imported", model, p.odoo_id))
