"""The in-memory database of the built-in Odoo: tables, writes, searches and reads.

Thread-safe (one re-entrant lock): the HTTP server runs in its own thread while tests mutate
data from theirs. Writes go through :class:`RecordStore` methods, which stamp
``create_date``/``write_date`` from the :class:`OdooClock` (or an explicit ``at``, to imitate
a transaction that commits late) and notify listeners (webhook rules) after the lock is
released.

Searches cache their sorted id list per (model, domain, order, active_test) until the next
write, so paging through 100k rows with offset/limit does not sort 100k rows per page.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from infrastructure.odoo_fake import domain_eval
from infrastructure.odoo_fake.clock import OdooClock
from infrastructure.odoo_fake.exceptions import InvalidField, InvalidValue, MissingError, UserError
from infrastructure.odoo_fake.ordering import parse_order, sort_rows
from infrastructure.odoo_fake.schema import MAGIC, MODELS, TABLES, X2MANY, ModelSpec
from infrastructure.odoo_fake.values import (
    parse_datetime,
    to_python_read,
    to_storage,
    to_wire,
    x2many_value,
)

Row = dict[str, Any]
Listener = Callable[[str, str, list[int]], None]  # (event, model, ids)
_CACHE_SIZE = 32


class RecordStore:
    def __init__(self, clock: OdooClock | None = None, major_version: int = 19) -> None:
        self.clock = clock or OdooClock()
        self.major_version = major_version
        self.lock = threading.RLock()
        self._tables: dict[str, dict[int, Row]] = {t: {} for t in TABLES}
        self._next_id: dict[str, int] = dict.fromkeys(TABLES, 1)
        self.revision = 0
        self._search_cache: OrderedDict[tuple[Any, ...], list[int]] = OrderedDict()
        self._derived: dict[tuple[str, str], Any] = {}  # per-revision ranks and child maps
        self._derived_revision = -1
        self._listeners: list[Listener] = []

    def clear(self) -> None:
        """Empty every table and restart ids at 1 (listeners stay subscribed)."""
        with self.lock:
            self._tables = {t: {} for t in TABLES}
            self._next_id = dict.fromkeys(TABLES, 1)
            self._bump()

    # -- schema and raw access (the domain evaluator's Store protocol) ---------------------------

    def spec(self, model: str) -> ModelSpec:
        spec = MODELS.get(model)
        if spec is None:
            raise UserError(f"Object {model} doesn't exist")
        return spec

    def rows(self, model: str) -> dict[int, Row]:
        return self._tables[self.spec(model).store_table]

    def display_name(self, model: str, record_id: int) -> str:
        spec = self.spec(model)
        row = self._tables[spec.store_table].get(record_id)
        return (row.get(spec.rec_name) or "") if row else ""

    def filter_ids(self, model: str, domain: list[Any], active_test: bool) -> set[int]:
        return set(self.search(model, domain, active_test=active_test))

    def children(self, model: str) -> dict[int, list[int]]:
        def build() -> dict[int, list[int]]:
            spec = self.spec(model)
            parent = spec.parent_field or "parent_id"
            result: dict[int, list[int]] = {}
            for rid, row in self._tables[spec.store_table].items():
                if row.get(parent) is not None:
                    result.setdefault(row[parent], []).append(rid)
            return result

        children: dict[int, list[int]] = self._derive(("children", model), build)
        return children

    def rank(self, model: str) -> dict[int, int]:
        """Position of each row in the model's default order (for many2one sorting)."""

        def build() -> dict[int, int]:
            spec = self.spec(model)
            rows = list(self._tables[spec.store_table].values())
            keys = [k for k in parse_order(spec, None) if spec.fields[k[0]].type != "many2one"]
            sort_rows(spec, rows, keys, self)
            return {row["id"]: i for i, row in enumerate(rows)}

        ranks: dict[int, int] = self._derive(("rank", model), build)
        return ranks

    def _derive(self, key: tuple[str, str], build: Callable[[], Any]) -> Any:
        if self._derived_revision != self.revision:
            self._derived = {}
            self._derived_revision = self.revision
        if key not in self._derived:
            self._derived[key] = build()
        return self._derived[key]

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self, event: str, model: str, ids: list[int]) -> None:
        for listener in list(self._listeners):
            listener(event, model, ids)

    def _bump(self) -> None:
        self.revision += 1
        self._search_cache.clear()

    # -- writes ------------------------------------------------------------------------------

    def _stamp(self, at: datetime | str | None) -> datetime:
        stamp = self.clock.now() if at is None else parse_datetime(at)
        if stamp is None:
            raise InvalidValue("a write needs a timestamp")
        return stamp

    def _coerce(self, spec: ModelSpec, vals: dict[str, Any]) -> Row:
        out: Row = {}
        for name, value in vals.items():
            field = spec.fields.get(name)
            if field is None:
                raise InvalidField.on(spec.name, name)
            if name in MAGIC or not field.stored:
                raise InvalidValue(f"Field {name!r} on {spec.name} is not writable")
            out[name] = to_storage(spec.name, field, value)
            if field.type == "many2one" and out[name] is not None:
                target = self.rows(field.comodel or "")
                if out[name] not in target:
                    raise MissingError(
                        f"Record {field.comodel}({out[name]},) referenced by "
                        f"{spec.name}.{name} does not exist"
                    )
        return out

    def create(self, model: str, vals: dict[str, Any], *, at: datetime | str | None = None) -> int:
        return self.create_many(model, [vals], at=at)[0]

    def create_many(
        self,
        model: str,
        vals_list: Iterable[dict[str, Any]],
        *,
        at: datetime | str | None = None,
        stamps: Iterable[datetime] | None = None,
        notify: bool = True,
    ) -> list[int]:
        """Insert rows. ``stamps`` (one per row) overrides ``at`` for bulk loads."""
        spec = self.spec(model)
        with self.lock:
            stamp = self._stamp(at)
            stamp_iter = iter(stamps) if stamps is not None else None
            table = self._tables[spec.store_table]
            defaults = self._defaults(spec)
            ids: list[int] = []
            for vals in vals_list:
                row = {k: list(v) if isinstance(v, list) else v for k, v in defaults.items()}
                row.update(self._coerce(spec, vals))
                rid = self._next_id[spec.store_table]
                self._next_id[spec.store_table] = rid + 1
                when = next(stamp_iter) if stamp_iter is not None else stamp
                row.update(id=rid, create_date=when, write_date=when)
                table[rid] = row
                ids.append(rid)
            self._bump()
        if notify:
            self._notify("create", model, ids)
        return ids

    def _defaults(self, spec: ModelSpec) -> Row:
        row: Row = {}
        for field in spec.stored_fields():
            if field.name in MAGIC:
                continue
            default = spec.defaults.get(field.name)
            row[field.name] = to_storage(spec.name, field, default)
        if spec.name == "crm.lead":
            row["stage_id"] = self._first_stage()
        return row

    def _first_stage(self) -> int | None:
        stages = sorted(
            (r for r in self._tables["crm.stage"].values() if not r["is_won"]),
            key=lambda r: (r["sequence"], r["id"]),
        )
        return stages[0]["id"] if stages else None

    def write(
        self,
        model: str,
        ids: int | Iterable[int],
        vals: dict[str, Any],
        *,
        at: datetime | str | None = None,
        touch: bool = True,
    ) -> None:
        """``touch=False`` changes values without bumping ``write_date``, like the SQL updates
        Odoo does for some changes (probability cron, team membership, related renames)."""
        spec = self.spec(model)
        id_list = [ids] if isinstance(ids, int) else list(ids)
        with self.lock:
            table = self._tables[spec.store_table]
            missing = [i for i in id_list if i not in table]
            if missing:
                raise MissingError(f"Record does not exist or has been deleted: {model}{missing}")
            coerced = self._coerce(spec, vals)
            stamp = self._stamp(at)
            for rid in id_list:
                row = table[rid]
                for name, value in coerced.items():
                    if spec.fields[name].type in X2MANY and name in vals:
                        value = x2many_value(vals[name], row[name])
                    row[name] = value
                if touch:
                    row["write_date"] = stamp
            self._bump()
        self._notify("write", model, id_list)

    def unlink(self, model: str, ids: int | Iterable[int]) -> None:
        """Delete rows. References to them are cleared (``ondelete='set null'``)."""
        spec = self.spec(model)
        id_list = [ids] if isinstance(ids, int) else list(ids)
        with self.lock:
            table = self._tables[spec.store_table]
            gone = {i for i in id_list if table.pop(i, None) is not None}
            for other in MODELS.values():
                if other.table:  # a view over another table: handled with that table
                    continue
                for field in other.stored_fields():
                    if field.comodel and MODELS[field.comodel].store_table == spec.store_table:
                        _clear_references(
                            self._tables[other.store_table], field.name, gone, field.type
                        )
            self._bump()
        self._notify("unlink", model, sorted(gone))

    # -- reads -------------------------------------------------------------------------------

    def get(self, model: str, record_id: int) -> Row | None:
        """A copy of the stored row (Python values), or None."""
        with self.lock:
            row = self.rows(model).get(record_id)
            return dict(row) if row else None

    def search(
        self,
        model: str,
        domain: list[Any] | None = None,
        *,
        order: str | None = None,
        offset: int = 0,
        limit: int | None = None,
        active_test: bool = True,
    ) -> list[int]:
        spec = self.spec(model)
        domain = list(domain or [])
        with self.lock:
            key = (model, _domain_key(domain), order, active_test)
            ids = self._search_cache.get(key)
            if ids is None:
                ids = self._search_uncached(spec, domain, order, active_test)
                self._search_cache[key] = ids
                if len(self._search_cache) > _CACHE_SIZE:
                    self._search_cache.popitem(last=False)
            else:
                self._search_cache.move_to_end(key)
            end = None if limit is None else offset + limit
            return ids[offset:end]

    def _search_uncached(
        self, spec: ModelSpec, domain: list[Any], order: str | None, active_test: bool
    ) -> list[int]:
        keys = parse_order(spec, order)  # validate the order even when nothing matches
        if spec.has_active and active_test and not domain_eval.mentions(domain, "active"):
            domain = [["active", "=", True], *domain]
        ctx = domain_eval.Context(self, active_test, self.major_version)
        pred = domain_eval.compile_domain(ctx, spec, domain)
        matched = [row for row in self._tables[spec.store_table].values() if pred(row)]
        sort_rows(spec, matched, keys, self)
        return [row["id"] for row in matched]

    def check_fields(self, spec: ModelSpec, fields: list[str] | None) -> list[str]:
        if not fields:
            return [name for name in spec.fields if name != "id"]
        for name in fields:
            if not isinstance(name, str) or name not in spec.fields:
                raise InvalidField.on(spec.name, str(name))
        return [name for name in fields if name != "id"]

    def read(
        self, model: str, ids: Iterable[int], fields: list[str] | None, *, classic: bool = True
    ) -> list[Row]:
        """JSON values, in the order of ``ids``; deleted ids are skipped, as Odoo's read does."""
        spec = self.spec(model)
        names = self.check_fields(spec, fields)
        with self.lock:
            table = self._tables[spec.store_table]
            result = []
            for rid in ids:
                row = table.get(rid)
                if row is not None:
                    result.append(self._format(spec, row, names, classic))
            return result

    def _format(self, spec: ModelSpec, row: Row, names: list[str], classic: bool) -> Row:
        out: Row = {"id": row["id"]}
        for name in names:
            if name == "display_name":
                out[name] = row.get(spec.rec_name) or False
            else:
                out[name] = to_wire(spec.fields[name], row[name], self.display_name, classic)
        return out

    def read_python(self, model: str, record_id: int, fields: list[str]) -> Row | None:
        """``record.read(fields, load=None)[0]`` as Python values (for webhooks)."""
        spec = self.spec(model)
        names = self.check_fields(spec, fields)
        with self.lock:
            row = self._tables[spec.store_table].get(record_id)
            if row is None:
                return None
            out: Row = {"id": row["id"]}
            for name in names:
                if name == "display_name":
                    out[name] = row.get(spec.rec_name) or False
                else:
                    out[name] = to_python_read(spec.fields[name], row[name])
            return out


def _domain_key(domain: list[Any]) -> str:
    return json.dumps(domain, default=repr, sort_keys=True)


def _clear_references(table: dict[int, Row], name: str, gone: set[int], kind: str) -> None:
    if not gone:
        return
    for row in table.values():
        if kind == "many2one":
            if row[name] in gone:
                row[name] = None
        elif any(i in gone for i in row[name]):
            row[name] = [i for i in row[name] if i not in gone]
