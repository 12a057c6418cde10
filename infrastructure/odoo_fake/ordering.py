"""``order`` strings, sorted the way PostgreSQL would for Odoo.

* Validated like ``models.py`` does (``field [asc|desc] [nulls first|last]``, comma separated);
  an unknown field is ``ValueError("Invalid field 'x' on model 'm'")``.
* NULLs sort as the largest value (last ascending, first descending) unless told otherwise.
* A many2one sorts by the target model's own order (Odoo joins and orders by ``_order``), so
  ``stage_id`` sorts by stage sequence, not by id.
* Strings compare by code point: Odoo creates its databases with ``LC_COLLATE 'C'``.

Multi-key sorts are successive stable sorts from the last key to the first: O(k n log n).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from infrastructure.odoo_fake.exceptions import InvalidField, InvalidValue
from infrastructure.odoo_fake.schema import X2MANY, ModelSpec

Row = dict[str, Any]
OrderKey = tuple[str, bool, bool]  # field name, descending, nulls first

_TERM = re.compile(
    r'^\s*(?P<field>[a-z0-9_]+|"[a-z0-9_]+")(?:\.id)?'
    r"(?:\s+(?P<dir>asc|desc))?(?:\s+nulls\s+(?P<nulls>first|last))?\s*$",
    re.IGNORECASE,
)


class RankSource(Protocol):
    def rank(self, model: str) -> dict[int, int]: ...


def parse_order(spec: ModelSpec, order: str | None) -> list[OrderKey]:
    text = order if order else spec.order
    if not isinstance(text, str):
        raise InvalidValue(f"Invalid order {order!r}")
    keys: list[OrderKey] = []
    for term in text.split(","):
        match = _TERM.match(term)
        if not match:
            raise InvalidValue(f'Invalid "order" specified ({text}).')
        name = match.group("field").strip('"')
        if name == "display_name":
            name = spec.rec_name
        field = spec.fields.get(name)
        if field is None:
            raise InvalidField.on(spec.name, name)
        if field.type in X2MANY:
            raise InvalidValue(f"Cannot sort {spec.name} on x2many field {name!r}")
        descending = (match.group("dir") or "asc").lower() == "desc"
        nulls = match.group("nulls")
        nulls_first = descending if nulls is None else nulls.lower() == "first"
        keys.append((name, descending, nulls_first))
    return keys


def sort_rows(spec: ModelSpec, rows: list[Row], keys: list[OrderKey], ranks: RankSource) -> None:
    """Sort ``rows`` in place."""
    for name, descending, nulls_first in reversed(keys):
        rows.sort(key=_key(spec, name, descending, nulls_first, ranks), reverse=descending)


def _key(
    spec: ModelSpec, name: str, descending: bool, nulls_first: bool, ranks: RankSource
) -> Callable[[Row], tuple[int, Any]]:
    # The null flag is chosen so that, after a possibly reversed sort, NULLs land where asked.
    null_flag = 1 if nulls_first == descending else 0
    value_flag = 1 - null_flag
    field = spec.fields[name]
    if field.type == "many2one":
        rank = ranks.rank(field.comodel or "")

        def m2o_key(row: Row) -> tuple[int, Any]:
            value = row[name]
            if value is None:
                return (null_flag, 0)
            return (value_flag, rank.get(value, value))

        return m2o_key

    def key(row: Row) -> tuple[int, Any]:
        value = row[name]
        return (null_flag, 0) if value is None else (value_flag, value)

    return key
