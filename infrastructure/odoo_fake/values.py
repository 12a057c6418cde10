"""Field values: stored form (Python objects, like the ORM cache) and wire form (JSON).

Stored: ``None`` for empty, ``datetime`` (naive UTC, with microseconds as in the database),
``date``, ints for many2one, lists of ints for x2many. On the wire (``search_read``/``read``):
``false`` for empty, never ``null``; many2one ``[id, "name"]`` (or the bare id with
``load=None``); datetimes ``"YYYY-MM-DD HH:MM:SS"`` (seconds only, as odoo/http.py encodes
them); dates ``"YYYY-MM-DD"``; integers and floats are ``0`` rather than ``false``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from infrastructure.odoo_fake.clock import utc_naive
from infrastructure.odoo_fake.exceptions import InvalidValue
from infrastructure.odoo_fake.schema import X2MANY, Field

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def is_empty(value: Any) -> bool:
    return value is None or value is False or value == []


def parse_datetime(value: Any) -> datetime | None:
    if value is None or value is False:
        return None
    if isinstance(value, datetime):
        return utc_naive(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return utc_naive(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))
        except ValueError:
            pass
    raise InvalidValue(f"Invalid datetime value {value!r}")


def parse_date(value: Any) -> date | None:
    if value is None or value is False:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise InvalidValue(f"Invalid date value {value!r}")


def to_storage(model: str, field: Field, value: Any) -> Any:
    """Validate and convert a value written through the Python or control API."""
    kind = field.type
    if kind in ("char", "text"):
        if value is None or value is False:
            return None
        if not isinstance(value, str):
            raise InvalidValue(f"Wrong value for {model}.{field.name}: {value!r}")
        return value
    if kind == "selection":
        if value is None or value is False:
            return None
        if value not in field.selection:
            raise InvalidValue(f"Wrong value for {model}.{field.name}: {value!r}")
        return value
    if kind == "boolean":
        return bool(value)
    if kind == "integer":
        return int(value or 0)
    if kind in ("float", "monetary"):
        return float(value or 0.0)
    if kind == "date":
        return parse_date(value)
    if kind == "datetime":
        return parse_datetime(value)
    if kind == "many2one":
        if value is None or value is False:
            return None
        if isinstance(value, list | tuple) and value:
            value = value[0]
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidValue(f"Wrong value for {model}.{field.name}: {value!r}")
        return value
    if kind in X2MANY:
        return x2many_value(value)
    raise InvalidValue(f"Unsupported field type {kind}")


def x2many_value(value: Any, current: list[int] | None = None) -> list[int]:
    """Plain id lists, or Odoo's commands (6, 0, ids) / (4, id) / (3, id) / (5,)."""
    if value is None or value is False:
        return []
    result = list(current or [])
    for item in value:
        if isinstance(item, int) and not isinstance(item, bool):
            if item not in result:
                result.append(item)
        elif isinstance(item, list | tuple) and item:
            op = item[0]
            if op == 6:
                result = list(dict.fromkeys(item[2]))
            elif op == 4 and item[1] not in result:
                result.append(item[1])
            elif op == 3 and item[1] in result:
                result.remove(item[1])
            elif op == 5:
                result = []
        else:
            raise InvalidValue(f"Wrong x2many value {value!r}")
    return result


def to_wire(field: Field, raw: Any, display: Callable[[str, int], str], classic: bool) -> Any:
    """The JSON value ``read``/``search_read`` return (``classic``: ``load='_classic_read'``)."""
    kind = field.type
    if kind == "many2one":
        if raw is None:
            return False
        return [raw, display(field.comodel or "", raw)] if classic else raw
    if kind in X2MANY:
        return list(raw or [])
    if kind == "boolean":
        return bool(raw)
    if kind == "integer":
        return int(raw or 0)
    if kind in ("float", "monetary"):
        return float(raw or 0.0)
    if raw is None:
        return False
    if kind == "datetime":
        return raw.strftime(DATETIME_FORMAT)
    if kind == "date":
        return raw.isoformat()
    return raw


def to_python_read(field: Field, raw: Any) -> Any:
    """What ``record.read(load=None)`` returns in Python (webhooks serialize it with
    ``json.dumps(default=str)``, so datetimes keep their microseconds there)."""
    if field.type in X2MANY:
        return list(raw or [])
    if field.type == "boolean":
        return bool(raw)
    if field.type == "integer":
        return int(raw or 0)
    if field.type in ("float", "monetary"):
        return float(raw or 0.0)
    return False if raw is None else raw
