"""What sits behind both protocols: authentication, access rights, and the model methods an
integration may call (``search_read``, ``search``, ``search_count``, ``read``, ``fields_get``).

Arguments are bound against real Python signatures, so an unexpected or missing argument is a
``TypeError`` exactly where Odoo's ``call_kw`` would raise one (422 in JSON-2). The fake is
read-only over RPC: Pulse never writes to Odoo, and tests change data through the Python or
control API instead.
"""

from __future__ import annotations

import hmac
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infrastructure.odoo_fake.exceptions import (
    AccessDenied,
    AccessError,
    BadArguments,
    OdooFault,
    UnknownMethod,
)
from infrastructure.odoo_fake.records import RecordStore
from infrastructure.odoo_fake.schema import ModelSpec


class DatabaseMissing(OdooFault):
    """What Odoo answers for an unknown database name (PostgreSQL refuses the connection)."""

    name = "psycopg2.OperationalError"
    status = 404


@dataclass(frozen=True, slots=True)
class Version:
    text: str  # "17.0", "saas~18.1", "19.0"
    major: int
    minor: int

    @classmethod
    def parse(cls, text: str) -> Version:
        match = re.fullmatch(r"(saas~)?(\d+)\.(\d+)", text.strip())
        if not match:
            raise ValueError(f"unsupported Odoo version {text!r} (e.g. '17.0', '19.0')")
        return cls(text.strip(), int(match.group(2)), int(match.group(3)))

    @property
    def info(self) -> list[Any]:
        head: int | str = f"saas~{self.major}" if self.text.startswith("saas~") else self.major
        return [head, self.minor, 0, "final", 0, ""]

    @property
    def has_json2(self) -> bool:
        return self.major >= 19

    @property
    def jsonrpc_error_code(self) -> int:
        # odoo/http.py: 200 (an arbitrary value) until 18.0, 0 from 18.1 on.
        return 0 if (self.major, self.minor) >= (18, 1) else 200

    def common_version(self) -> dict[str, Any]:
        return {
            "server_version": self.text,
            "server_version_info": self.info,
            "server_serie": self.text,
            "protocol_version": 1,
        }

    def web_version(self) -> dict[str, Any]:
        return {"version": self.text, "version_info": self.info}


class OdooService:
    def __init__(
        self, store: RecordStore, *, db: str, login: str, api_key: str, version: Version
    ) -> None:
        self.store = store
        self.db = db
        self.login = login
        self.api_key = api_key
        self.version = version
        self.denied_models: set[str] = set()

    # -- authentication ----------------------------------------------------------------------

    @property
    def uid(self) -> int | None:
        ids = self.store.search("res.users", [["login", "=", self.login]], active_test=True)
        return ids[0] if ids else None

    def key_matches(self, key: Any) -> bool:
        return isinstance(key, str) and hmac.compare_digest(key.encode(), self.api_key.encode())

    def check_db(self, db: Any) -> None:
        if db != self.db:
            raise DatabaseMissing(f'connection failed: FATAL:  database "{db}" does not exist')

    def authenticate(self, db: Any, login: Any, key: Any) -> int | bool:
        """``common.authenticate``: the uid, or False for a wrong login or key."""
        self.check_db(db)
        uid = self.uid
        if uid is None or login != self.login or not self.key_matches(key):
            return False
        return uid

    def check_uid(self, db: Any, uid: Any, key: Any) -> None:
        """``execute_kw``'s credential check: AccessDenied when it fails."""
        self.check_db(db)
        if uid != self.uid or not self.key_matches(key):
            raise AccessDenied()

    # -- methods -----------------------------------------------------------------------------

    def call(
        self,
        model: str,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any],
        *,
        ids: list[int] | None = None,
        record_ids_in_args: bool = False,
    ) -> Any:
        """Run ``model.method``. JSON-RPC passes record ids as ``args[0]``
        (``record_ids_in_args``), JSON-2 passes them as ``ids``."""
        check_method_name(method)
        spec = self.store.spec(model)
        impl = _METHODS.get(method)
        if impl is None:
            raise UnknownMethod(f"The method '{method}' does not exist on the model '{model}'")
        fn, on_records = impl
        kwargs = dict(kwargs)
        context = kwargs.pop("context", None) or {}
        if not isinstance(context, dict):
            raise BadArguments(f"{method}() context must be a dict")
        args = list(args)
        if on_records:
            if record_ids_in_args:
                if not args:
                    raise BadArguments(f"{method}() missing the record ids")
                ids = _ids(args.pop(0))
            ids = _ids(ids or [])
        try:
            bound = _public_signature(fn).bind(*args, **kwargs)
        except TypeError as exc:
            raise BadArguments(f"{method}() {exc}") from None
        self.check_access(spec)
        active_test = context.get("active_test", True) is not False
        return fn(self.store, spec, active_test, ids, *bound.args, **bound.kwargs)

    def check_access(self, spec: ModelSpec) -> None:
        if spec.name in self.denied_models:
            raise AccessError(
                f"You are not allowed to access '{spec.description}' ({spec.name}) records.\n\n"
                "This operation is allowed for the following groups:\n"
                "\t- Employees/Officer: Manage all employees\n\n"
                "Contact your administrator to request access if necessary."
            )


def _public_signature(fn: Callable[..., Any]) -> inspect.Signature:
    """The method's signature as a caller sees it (without store, spec, active_test, ids)."""
    sig = inspect.signature(fn)
    return sig.replace(parameters=list(sig.parameters.values())[4:])


def check_method_name(method: str) -> None:
    if not isinstance(method, str) or method.startswith("_"):
        raise AccessError(f"Private methods (such as {method}) cannot be called remotely.")


def _ids(value: Any) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, list | tuple) and all(
        isinstance(i, int) and not isinstance(i, bool) for i in value
    ):
        return list(value)
    raise BadArguments(f"invalid record ids {value!r}")


def _check_int(name: str, value: Any, allow_none: bool) -> int | None:
    if allow_none and (value is None or value is False):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadArguments(f"{name} must be a non-negative integer, not {value!r}")
    return value


def _check_list(name: str, value: Any) -> list[Any]:
    if value is None or value is False:
        return []
    if not isinstance(value, list | tuple):
        raise BadArguments(f"{name} must be a list, not {value!r}")
    return list(value)


def _check_order(value: Any) -> str | None:
    if value is None or value is False or value == "":
        return None
    if not isinstance(value, str):
        raise BadArguments(f"order must be a string, not {value!r}")
    return value


def _search(
    store: RecordStore,
    spec: ModelSpec,
    active_test: bool,
    ids: list[int] | None,
    domain: Any = None,
    offset: Any = 0,
    limit: Any = None,
    order: Any = None,
) -> list[int]:
    return store.search(
        spec.name,
        _check_list("domain", domain),
        order=_check_order(order),
        offset=_check_int("offset", offset, True) or 0,
        limit=_check_int("limit", limit, True) or None,
        active_test=active_test,
    )


def _search_count(
    store: RecordStore,
    spec: ModelSpec,
    active_test: bool,
    ids: list[int] | None,
    domain: Any = None,
    limit: Any = None,
) -> int:
    found = _search(store, spec, active_test, ids, domain, 0, limit, "id")
    return len(found)


def _search_read(
    store: RecordStore,
    spec: ModelSpec,
    active_test: bool,
    ids: list[int] | None,
    domain: Any = None,
    fields: Any = None,
    offset: Any = 0,
    limit: Any = None,
    order: Any = None,
    load: Any = "_classic_read",
) -> list[dict[str, Any]]:
    names = _check_list("fields", fields)
    store.check_fields(spec, names)  # unknown fields fail even when nothing matches
    found = _search(store, spec, active_test, ids, domain, offset, limit, order)
    return store.read(spec.name, found, names, classic=load == "_classic_read")


def _read(
    store: RecordStore,
    spec: ModelSpec,
    active_test: bool,
    ids: list[int] | None,
    fields: Any = None,
    load: Any = "_classic_read",
) -> list[dict[str, Any]]:
    return store.read(
        spec.name, ids or [], _check_list("fields", fields), classic=load == "_classic_read"
    )


def _fields_get(
    store: RecordStore,
    spec: ModelSpec,
    active_test: bool,
    ids: list[int] | None,
    allfields: Any = None,
    attributes: Any = None,
) -> dict[str, dict[str, Any]]:
    names = _check_list("allfields", allfields) or list(spec.fields)
    store.check_fields(spec, names)
    wanted = _check_list("attributes", attributes)
    result = {}
    for name in names:
        field = spec.fields[name]
        desc: dict[str, Any] = {
            "type": field.type,
            "string": field.string,
            "readonly": field.readonly,
            "store": field.stored,
        }
        if field.comodel:
            desc["relation"] = field.comodel
        if field.selection:
            desc["selection"] = [[v, v] for v in field.selection]
        result[name] = {k: v for k, v in desc.items() if not wanted or k in wanted}
    return result


_METHODS: dict[str, tuple[Callable[..., Any], bool]] = {
    "search": (_search, False),
    "search_count": (_search_count, False),
    "search_read": (_search_read, False),
    "read": (_read, True),
    "fields_get": (_fields_get, False),
}
