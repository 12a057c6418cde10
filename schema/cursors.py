"""Opaque keyset cursors for ``opportunities``: (order, sort key, _id), base64url JSON.

A cursor names a position in one order, not an offset, so pages stay correct while rows are
inserted or deleted: the next page starts strictly after (key, _id). Clients must treat
cursors as opaque; a cursor from another order, or garbage, is BAD_USER_INPUT.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from schema.errors import BadUserInput

KeyKind = Literal["datetime", "number", "string", "nullable_string"]
MAX_CURSOR_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class Position:
    key: Any  # datetime, float, str, or None (a null deadline)
    id: str


def encode_cursor(order: str, kind: KeyKind, key: Any, row_id: str) -> str:
    wire_key = key.isoformat() if kind == "datetime" and isinstance(key, datetime) else key
    raw = json.dumps({"o": order, "k": wire_key, "i": row_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, order: str, kind: KeyKind) -> Position:
    invalid = BadUserInput("after is not a cursor of this list and order")
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise invalid from None
    if not isinstance(data, dict) or data.get("o") != order or not isinstance(data.get("i"), str):
        raise invalid
    return Position(_parse_key(data.get("k"), kind, invalid), data["i"])


def _parse_key(value: Any, kind: KeyKind, invalid: BadUserInput) -> Any:
    if kind == "datetime" and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            raise invalid from None
    if kind == "number" and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if kind == "string" and isinstance(value, str):
        return value
    if kind == "nullable_string" and (value is None or isinstance(value, str)):
        return value
    raise invalid
