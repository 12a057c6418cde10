"""``DateTime`` (ISO-8601, UTC) and ``Date`` (YYYY-MM-DD), strict on input.

Strawberry's own ``date``/``datetime`` scalars accept whatever ``fromisoformat`` does and
print naive datetimes as they are; ours always print UTC with a ``Z`` and refuse anything
that is not a full ISO date (time). Registered through ``StrawberryConfig.scalar_map`` for the
plain ``datetime`` and ``date`` annotations used across the schema.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

import strawberry
from strawberry.types.scalar import ScalarDefinition

_DATE_SHAPE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_SHAPE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$",
    re.IGNORECASE,
)


def as_utc(moment: datetime) -> datetime:
    """Stored datetimes are UTC; a naive one (an old document, a fake) is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def serialize_datetime(value: Any) -> str:
    if not isinstance(value, datetime):
        raise TypeError(f"DateTime cannot represent {type(value).__name__}")
    return as_utc(value).isoformat().replace("+00:00", "Z")


def parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str) or not _DATETIME_SHAPE.match(value.strip()):
        raise ValueError("DateTime must be an ISO-8601 date and time, e.g. 2026-01-31T12:00:00Z")
    text = value.strip()
    if text[-1] in "zZ":
        text = text[:-1] + "+00:00"
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise ValueError("DateTime is not a valid date and time") from None


def serialize_date(value: Any) -> str:
    if isinstance(value, datetime):
        return as_utc(value).date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and _DATE_SHAPE.match(value):
        return value  # read models keep deadlines as YYYY-MM-DD strings
    raise TypeError("Date cannot represent this value")


def parse_date(value: Any) -> date:
    if not isinstance(value, str) or not _DATE_SHAPE.match(value):
        raise ValueError("Date must be YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("Date is not a valid calendar date") from None


DATETIME_SCALAR: ScalarDefinition = strawberry.scalar(
    name="DateTime",
    description="ISO-8601 date and time, UTC",
    serialize=serialize_datetime,
    parse_value=parse_datetime,
)
DATE_SCALAR: ScalarDefinition = strawberry.scalar(
    name="Date",
    description="A calendar date, YYYY-MM-DD",
    serialize=serialize_date,
    parse_value=parse_date,
)

SCALAR_MAP: dict[object, ScalarDefinition] = {datetime: DATETIME_SCALAR, date: DATE_SCALAR}
