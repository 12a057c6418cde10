"""Odoo domains compiled into Python predicates over stored rows.

Semantics follow Odoo's ``expression.py`` (16-19), including the parts that surprise people:

* ``!=``, ``not in``, ``not like`` and ``not ilike`` also match empty (NULL) values, while
  ``<``, ``>`` and friends never match them.
* ``!`` is pushed down to the leaves first (De Morgan and the operator negation table), so
  ``!`` of a comparison still excludes NULLs; for operators without a negation (``=like``,
  ``child_of``...) it becomes "set and not ...", as SQL's ``NOT`` would.
* A datetime compared with a bare date gets ``23:59:59`` for ``>``/``<=``, else ``00:00:00``.
* A string compared with a many2one is a name search on the target's display name.
* ``child_of``/``parent_of`` follow the model's parent field and survive cycles.
* Dotted paths (``partner_id.email``) search the target model, archived rows included.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from infrastructure.odoo_fake.exceptions import InvalidField, InvalidValue
from infrastructure.odoo_fake.schema import RELATIONAL, X2MANY, Field, ModelSpec
from infrastructure.odoo_fake.values import is_empty, parse_date, parse_datetime

Row = dict[str, Any]
Pred = Callable[[Row], bool]

OPERATORS = frozenset(
    {
        "=", "!=", "<>", "<", "<=", ">", ">=", "=?", "in", "not in",
        "like", "not like", "ilike", "not ilike", "=like", "=ilike", "child_of", "parent_of",
    }
)  # fmt: skip
NEGATION = {
    "<": ">=", ">": "<=", "<=": ">", ">=": "<", "=": "!=", "!=": "=", "<>": "=",
    "in": "not in", "not in": "in", "like": "not like", "not like": "like",
    "ilike": "not ilike", "not ilike": "ilike",
}  # fmt: skip
LIKE = frozenset({"like", "not like", "ilike", "not ilike", "=like", "=ilike"})
NEGATIVE = frozenset({"!=", "<>", "not in", "not like", "not ilike"})
_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
TRUE_LEAF = (1, "=", 1)
FALSE_LEAF = (0, "=", 1)


class Store(Protocol):
    """What the evaluator needs from the record store."""

    def spec(self, model: str) -> ModelSpec: ...
    def rows(self, model: str) -> dict[int, Row]: ...
    def display_name(self, model: str, record_id: int) -> str: ...
    def filter_ids(self, model: str, domain: list[Any], active_test: bool) -> set[int]: ...
    def children(self, model: str) -> dict[int, list[int]]: ...


@dataclass(frozen=True, slots=True)
class Context:
    store: Store
    active_test: bool
    major: int  # emulated Odoo major version: error messages changed in 18


# -- parsing -------------------------------------------------------------------------------


def parse(domain: Any) -> tuple[Any, ...]:
    """Prefix notation to a tree of ("and"|"or", [nodes]) / ("not", node) / ("leaf", ...).
    Iterative, and same-operator chains are flattened, so long ``|`` chains cannot hit
    Python's recursion limit."""
    if not isinstance(domain, list | tuple):
        raise InvalidValue(f"Invalid domain {domain!r}")
    stack: list[tuple[Any, ...]] = []
    for token in reversed(domain):
        if token in ("&", "|"):
            if len(stack) < 2:
                raise InvalidValue(f"Invalid domain {domain!r}: missing operands for {token}")
            kind = "and" if token == "&" else "or"
            left, right = stack.pop(), stack.pop()
            stack.append((kind, [*_flat(kind, left), *_flat(kind, right)]))
        elif token == "!":
            if not stack:
                raise InvalidValue(f"Invalid domain {domain!r}: missing operand for !")
            stack.append(("not", stack.pop()))
        else:
            stack.append(_leaf(token))
    return ("and", list(reversed(stack)))


def _flat(kind: str, node: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    return list(node[1]) if node[0] == kind else [node]


def _leaf(token: Any) -> tuple[Any, ...]:
    if isinstance(token, list | tuple) and len(token) == 3:
        path, op, value = token
        if tuple(token) == TRUE_LEAF:
            return ("const", True)
        if tuple(token) == FALSE_LEAF:
            return ("const", False)
        if isinstance(path, str) and isinstance(op, str) and op.lower() in OPERATORS:
            return ("leaf", path, op.lower(), value)
    raise InvalidValue(f"Invalid leaf {token!r}")


def mentions(domain: Any, field_name: str) -> bool:
    """Whether a leaf names ``field_name`` (Odoo's active_test check looks at leaf[0])."""
    return isinstance(domain, list | tuple) and any(
        isinstance(t, list | tuple) and len(t) == 3 and t[0] == field_name for t in domain
    )


# -- compiling -----------------------------------------------------------------------------


def compile_domain(ctx: Context, spec: ModelSpec, domain: Any) -> Pred:
    return _compile(ctx, spec, parse(domain), negate=False)


def _compile(ctx: Context, spec: ModelSpec, node: tuple[Any, ...], negate: bool) -> Pred:
    kind = node[0]
    if kind == "const":
        value = bool(node[1]) != negate
        return lambda row: value
    if kind == "not":
        return _compile(ctx, spec, node[1], not negate)
    if kind in ("and", "or"):
        preds = [_compile(ctx, spec, child, negate) for child in node[1]]
        if (kind == "and") != negate:  # De Morgan: a negated OR is an AND
            return _all(preds)
        return _any(preds)
    _, path, op, value = node
    return _compile_leaf(ctx, spec, (path, op, value), negate)


def _all(preds: list[Pred]) -> Pred:
    if not preds:
        return lambda row: True
    if len(preds) == 1:
        return preds[0]
    return lambda row: all(p(row) for p in preds)


def _any(preds: list[Pred]) -> Pred:
    if not preds:
        return lambda row: False
    if len(preds) == 1:
        return preds[0]
    return lambda row: any(p(row) for p in preds)


def _compile_leaf(ctx: Context, spec: ModelSpec, leaf: tuple[str, str, Any], negate: bool) -> Pred:
    path, op, value = leaf
    if negate and op in NEGATION:
        op, negate = NEGATION[op], False
    pred = _positive(ctx, spec, (path, op, value))
    if not negate:
        return pred
    head = _head_name(spec, path.split(".", 1)[0])
    return lambda row: not is_empty(row[head]) and not pred(row)


def _head_name(spec: ModelSpec, name: str) -> str:
    return spec.rec_name if name == "display_name" else name


def invalid_field(ctx: Context, spec: ModelSpec, name: str, leaf: tuple[Any, ...]) -> InvalidField:
    if ctx.major < 18:  # expression.py up to 17
        return InvalidField(f"Invalid field {spec.name}.{name} in leaf {tuple(leaf)!r}")
    return InvalidField.on(spec.name, name)


def _positive(ctx: Context, spec: ModelSpec, leaf: tuple[str, str, Any]) -> Pred:
    path, op, value = leaf
    head, _, rest = path.partition(".")
    name = _head_name(spec, head)
    field = spec.fields.get(name)
    if field is None:
        raise invalid_field(ctx, spec, head, leaf)
    if rest:
        if field.type not in RELATIONAL:
            raise invalid_field(ctx, spec, path, leaf)
        ids = ctx.store.filter_ids(field.comodel or "", [[rest, op, value]], False)
        return _member(field, ids)
    if op == "=?":
        if value is None or value is False:
            return lambda row: True
        op = "="
    if op in ("child_of", "parent_of"):
        return _hierarchy(ctx, spec, field, op, value)
    if field.type in RELATIONAL and _is_name_value(op, value):
        return _by_name(ctx, field, op, value)
    if field.type in X2MANY:
        return _x2many(field, op, value)
    return _scalar(field, op, value)


def _member(field: Field, ids: set[int]) -> Pred:
    name = field.name
    if field.type in X2MANY:
        return lambda row: any(i in ids for i in row[name])
    return lambda row: row[name] in ids


def _is_name_value(op: str, value: Any) -> bool:
    if op in ("in", "not in") and isinstance(value, list | tuple):
        return any(isinstance(v, str) for v in value)
    return isinstance(value, str) and op in LIKE | {"=", "!=", "<>"}


def _by_name(ctx: Context, field: Field, op: str, value: Any) -> Pred:
    """A string against a relational field: name search on the target, like ``_name_search``."""
    positive = NEGATION[op] if op in NEGATIVE else op
    values = value if isinstance(value, list | tuple) else [value]
    target = ctx.store.spec(field.comodel or "")
    ids: set[int] = set()
    for v in values:
        if isinstance(v, str):
            leaf_op = "=" if positive == "in" else positive
            ids |= ctx.store.filter_ids(
                target.name, [[target.rec_name, leaf_op, v]], ctx.active_test
            )
        elif isinstance(v, int) and not isinstance(v, bool):
            ids.add(v)
    member = _member(field, ids)
    if op in NEGATIVE:
        return lambda row: not member(row)
    return member


def _x2many(field: Field, op: str, value: Any) -> Pred:
    name = field.name
    if op in ("=", "!=", "<>") and (value is False or value is None):
        return (lambda row: not row[name]) if op == "=" else (lambda row: bool(row[name]))
    if op in ("=", "!=", "<>", "in", "not in"):
        values = value if isinstance(value, list | tuple) else [value]
        ids = {_as_int(v) for v in values if v is not False and v is not None}
        has_any = _member(field, ids)
        if op in ("=", "in"):
            return has_any
        return lambda row: not has_any(row)
    raise InvalidValue(f"Unsupported operator {op!r} on x2many field {field.name!r}")


def _hierarchy(ctx: Context, spec: ModelSpec, field: Field, op: str, value: Any) -> Pred:
    if field.name == "id":
        target = spec
    elif field.type in RELATIONAL:
        target = ctx.store.spec(field.comodel or "")
    else:
        raise InvalidValue(f"Operator {op} needs a relational field, not {field.name!r}")
    ids = _target_ids(ctx, target, value)
    if target.parent_field is not None:
        follow = _descendants if op == "child_of" else _ancestors
        ids = follow(ctx, target, ids)
    if field.name == "id":
        return lambda row: row["id"] in ids
    return _member(field, ids)


def _target_ids(ctx: Context, target: ModelSpec, value: Any) -> set[int]:
    values = value if isinstance(value, list | tuple) else [value]
    ids: set[int] = set()
    for v in values:
        if isinstance(v, str):
            ids |= ctx.store.filter_ids(
                target.name, [[target.rec_name, "ilike", v]], ctx.active_test
            )
        elif v is not False and v is not None:
            ids.add(_as_int(v))
    return ids


def _descendants(ctx: Context, target: ModelSpec, roots: Iterable[int]) -> set[int]:
    """Breadth-first down the parent field. ``visited`` makes a cycle harmless. As in Odoo,
    with active_test on, archived children (and what hangs below them) are not followed."""
    children = ctx.store.children(target.name)
    rows = ctx.store.rows(target.name)
    skip_archived = ctx.active_test and target.has_active
    visited = set(roots)
    frontier = list(visited)
    while frontier:
        nxt = []
        for parent in frontier:
            for child in children.get(parent, ()):
                if child in visited:
                    continue
                if skip_archived and not rows[child]["active"]:
                    continue
                visited.add(child)
                nxt.append(child)
        frontier = nxt
    return visited


def _ancestors(ctx: Context, target: ModelSpec, starts: Iterable[int]) -> set[int]:
    rows = ctx.store.rows(target.name)
    parent_field = target.parent_field or "parent_id"
    found: set[int] = set()
    for start in starts:
        current: int | None = start
        while current is not None and current not in found:
            found.add(current)
            row = rows.get(current)
            current = row[parent_field] if row else None
    return found


def _scalar(field: Field, op: str, value: Any) -> Pred:
    name = field.name
    empty_value = value is False or value is None
    if field.type == "boolean" and op in ("=", "!=", "<>"):
        wanted = bool(value)
        if op == "=":
            return lambda row: bool(row[name]) == wanted
        return lambda row: bool(row[name]) != wanted
    if op == "=":
        if empty_value:
            return lambda row: is_empty(row[name])
        v = _coerce(field, value, op)
        return lambda row: row[name] == v
    if op in ("!=", "<>"):
        if empty_value:
            return lambda row: not is_empty(row[name])
        v = _coerce(field, value, op)
        return lambda row: row[name] is None or row[name] != v
    if op in ("in", "not in"):
        values = value if isinstance(value, list | tuple) else [value]
        with_empty = any(v is False or v is None for v in values)
        wanted_set = {_coerce(field, v, "=") for v in values if v is not False and v is not None}
        if field.type == "boolean":
            wanted_set = {bool(v) for v in values}
            with_empty = False
        if op == "in":
            return lambda row: row[name] in wanted_set or (with_empty and is_empty(row[name]))
        if with_empty:
            return lambda row: not is_empty(row[name]) and row[name] not in wanted_set
        return lambda row: row[name] is None or row[name] not in wanted_set
    if op in _COMPARE:
        if empty_value:
            return lambda row: False
        compare = _COMPARE[op]
        v = _coerce(field, value, op)
        return lambda row: row[name] is not None and compare(row[name], v)
    if op in LIKE:
        return _like(field, op, value)
    raise InvalidValue(f"Invalid operator {op!r}")


def _like(field: Field, op: str, value: Any) -> Pred:
    name = field.name
    negative = op.startswith("not")
    if value is False or value is None:
        return (
            (lambda row: not is_empty(row[name])) if negative else (lambda row: is_empty(row[name]))
        )
    regex = like_regex(str(value), op)

    def matches(row: Row) -> bool:
        raw = row[name]
        return (
            raw is not None
            and regex.fullmatch(raw if isinstance(raw, str) else str(raw)) is not None
        )

    if negative:
        return lambda row: row[name] is None or not matches(row)
    return matches


def like_regex(pattern: str, op: str) -> re.Pattern[str]:
    """SQL LIKE to a regex: ``%`` any run, ``_`` one character, backslash escapes. ``like`` and
    ``ilike`` wrap the value in ``%`` (Odoo does not escape the value's own wildcards)."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        i += 1
    body = "".join(parts)
    if op in ("like", "not like", "ilike", "not ilike"):
        body = f".*{body}.*"
    return re.compile(body, re.DOTALL | (re.IGNORECASE if "ilike" in op else 0))


def _coerce(field: Field, value: Any, op: str) -> Any:
    kind = field.type
    if kind == "datetime":
        if isinstance(value, str) and len(value.strip()) == 10:
            value = value.strip() + (" 23:59:59" if op in (">", "<=") else " 00:00:00")
        return parse_datetime(value)
    if kind == "date":
        return parse_date(value)
    if kind in ("integer", "many2one"):
        return _as_int(value)
    if kind in ("float", "monetary"):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise InvalidValue(f"Invalid number {value!r}") from None
    return value if isinstance(value, str) else str(value)


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidValue(f"Invalid id or integer {value!r}")
    try:
        return int(value)
    except ValueError:
        raise InvalidValue(f"Invalid id or integer {value!r}") from None
