"""Turning stored event data into values the ``JSON`` scalar can send."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from schema.scalars import serialize_datetime


def to_json(value: Any) -> Any:
    """A JSON-safe copy: datetimes as ISO-8601 UTC, non-finite floats as null, unknown
    objects as their string (the response encoder must never fail on event data)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        return serialize_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return to_json(float(value))
    return str(value)
