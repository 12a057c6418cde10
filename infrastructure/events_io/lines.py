"""One line of an event export: every envelope field of one stored event, as JSON.

The export is the event log written out in position order, one JSON object per line::

    {"position": 1, "id": "5da4...", "type": "StageAppeared", "schema_version": 1,
     "stream_type": "stage", "stream_id": "1", "version": 1,
     "occurred_at": "2026-03-02T09:00:00.397+00:00", "recorded_at": "2026-03-02T09:00:00.399+00:00",
     "correlation_id": "69be...", "causation_id": null, "source": "sync:full",
     "data": {...}, "commit_id": "c3ba...", "idempotency_key": "crm.stage:1:0:7d67..."}

``commit_id`` and ``idempotency_key`` describe the commit (one atomic append) the event
belongs to: the lines of one commit are consecutive and share both. Keeping the original
idempotency key means a restored log answers a replayed append (a retried webhook, a sync
re-reading its look-back window) exactly as the original would have: as a duplicate.

Times keep the store's millisecond precision; ``data`` is plain JSON (the store holds
nothing else), so a line round-trips exactly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

FIELDS = (
    "position",
    "id",
    "type",
    "schema_version",
    "stream_type",
    "stream_id",
    "version",
    "occurred_at",
    "recorded_at",
    "correlation_id",
    "causation_id",
    "source",
    "data",
    "commit_id",
    "idempotency_key",
)
_RAW_RECORD_DUMP = frozenset({"model", "record"})  # what ``pulse import`` reads


class LineError(ValueError):
    """A line that is not a valid exported event; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class EventLine:
    position: int
    id: str
    type: str
    schema_version: int
    stream_type: str
    stream_id: str
    version: int
    occurred_at: datetime
    recorded_at: datetime
    correlation_id: str | None
    causation_id: str | None
    source: str
    data: Mapping[str, Any]
    commit_id: str
    idempotency_key: str

    @property
    def stream_key(self) -> str:
        return f"{self.stream_type}/{self.stream_id}"


def format_time(moment: datetime) -> str:
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.isoformat(timespec="milliseconds")


def to_json(line: EventLine) -> str:
    """The line's JSON text (no newline). Raises ``LineError`` for data that JSON cannot
    hold exactly (NaN, infinities, non-JSON types): a backup must never be lossy silently."""
    obj = {
        "position": line.position,
        "id": line.id,
        "type": line.type,
        "schema_version": line.schema_version,
        "stream_type": line.stream_type,
        "stream_id": line.stream_id,
        "version": line.version,
        "occurred_at": format_time(line.occurred_at),
        "recorded_at": format_time(line.recorded_at),
        "correlation_id": line.correlation_id,
        "causation_id": line.causation_id,
        "source": line.source,
        "data": line.data,
        "commit_id": line.commit_id,
        "idempotency_key": line.idempotency_key,
    }
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        where = f"event at position {line.position}"
        raise LineError(f"{where}: data is not plain JSON ({err})") from None


# -- parsing and validation of one line ------------------------------------------------------


def _int(obj: Mapping[str, Any], name: str, minimum: int) -> int:
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise LineError(f"{name} must be an integer >= {minimum}")
    return value


def _text(obj: Mapping[str, Any], name: str) -> str:
    value = obj[name]
    if not isinstance(value, str) or not value:
        raise LineError(f"{name} must be a non-empty string")
    return value


def _optional_text(obj: Mapping[str, Any], name: str) -> str | None:
    value = obj[name]
    if value is not None and not isinstance(value, str):
        raise LineError(f"{name} must be a string or null")
    return value


def _time(obj: Mapping[str, Any], name: str) -> datetime:
    value = obj[name]
    if not isinstance(value, str):
        raise LineError(f"{name} must be an ISO-8601 date-time string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise LineError(f"{name} is not an ISO-8601 date-time: {value[:40]!r}") from None
    if moment.tzinfo is None:
        raise LineError(f"{name} must carry a time zone (UTC)")
    return moment.astimezone(UTC)


def _refuse_constant(name: str) -> Any:
    # json.loads accepts NaN and Infinity by default; JSON (and a faithful backup) does not.
    raise ValueError(f"{name} is not a JSON number")


def parse_line(text: str) -> EventLine:
    """One exported event from its JSON text; ``LineError`` says what is wrong."""
    try:
        obj = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise LineError("not valid JSON (nested too deeply)") from None
    except ValueError as err:
        raise LineError(f"not valid JSON ({err.args[0] if err.args else err})") from None
    if not isinstance(obj, dict):
        raise LineError("a line must be a JSON object")
    if obj.keys() >= _RAW_RECORD_DUMP:
        raise LineError("this is a raw Odoo record (for `pulse import`), not an exported event")
    missing = [name for name in FIELDS if name not in obj]
    if missing:
        raise LineError(f"missing field(s): {', '.join(missing)}")
    unknown = sorted(set(obj) - set(FIELDS))
    if unknown:
        raise LineError(f"unknown field(s): {', '.join(unknown[:5])}")
    stream_type = _text(obj, "stream_type")
    if "/" in stream_type:
        raise LineError("stream_type must not contain '/'")
    data = obj["data"]
    if not isinstance(data, dict):
        raise LineError("data must be a JSON object")
    return EventLine(
        position=_int(obj, "position", 1),
        id=_text(obj, "id"),
        type=_text(obj, "type"),
        schema_version=_int(obj, "schema_version", 1),
        stream_type=stream_type,
        stream_id=_text(obj, "stream_id"),
        version=_int(obj, "version", 1),
        occurred_at=_time(obj, "occurred_at"),
        recorded_at=_time(obj, "recorded_at"),
        correlation_id=_optional_text(obj, "correlation_id"),
        causation_id=_optional_text(obj, "causation_id"),
        source=_text(obj, "source"),
        data=data,
        commit_id=_text(obj, "commit_id"),
        idempotency_key=_text(obj, "idempotency_key"),
    )
