"""The two ways of calling a model method on Odoo: JSON-RPC (16+) and JSON-2 (19+).

A wire does one HTTP exchange per call and raises either a typed ``OdooError`` (deterministic:
do not retry) or ``TransientError`` (retry); the retry loop lives in the client. Calls are
expressed with named arguments (``domain``, ``fields``, ``order``...) as JSON-2 wants them;
the JSON-RPC wire moves ``domain`` (or the record ``ids``) to the positional ``args`` of
``execute_kw``, as ODOO.md shows.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from domain.odoo_gateway import OdooAuthError, OdooServerError
from infrastructure.odoo.errors import (
    TransientError,
    from_json2_error,
    from_jsonrpc_error,
    hint,
)

_ids = itertools.count(1)


class Wire(Protocol):
    name: str

    async def call(
        self, model: str, method: str, params: dict[str, Any], ids: list[int] | None
    ) -> Any: ...

    async def server_version(self) -> str: ...


async def _exchange(
    http: httpx.AsyncClient,
    verb: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any, bool]:
    """One request. Returns (status, parsed JSON or None, whether the body was JSON)."""
    try:
        response = await http.request(verb, url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        raise TransientError(f"timeout ({type(exc).__name__})") from None
    except httpx.TransportError as exc:
        # httpx messages name the failure (refused, reset, ...) but never headers or bodies.
        raise TransientError(f"{type(exc).__name__}: {exc}") from None
    try:
        return response.status_code, json.loads(response.content), True
    except (ValueError, UnicodeDecodeError):
        return response.status_code, None, False


async def fetch_web_version(http: httpx.AsyncClient, base: str) -> dict[str, Any]:
    """``GET /web/version`` (no authentication needed)."""
    status, data, is_json = await _exchange(http, "GET", f"{base}/web/version")
    if status >= 500 or (status == 200 and not is_json):
        raise TransientError(f"/web/version answered HTTP {status}")
    if status != 200 or not isinstance(data, dict):
        raise OdooServerError(f"/web/version answered HTTP {status}", status=status)
    return data


def major_version(info: Any) -> int | None:
    """``version_info[0]`` is an int (19) or, on Odoo Online, a string such as ``"saas~18"``."""
    if isinstance(info, list | tuple) and info:
        head = info[0]
        if isinstance(head, int):
            return head
        if isinstance(head, str):
            digits = head.rsplit("~", 1)[-1]
            if digits.isdigit():
                return int(digits)
    return None


class Json2Wire:
    """``POST /json/2/<model>/<method>`` with ``Authorization: bearer <key>``."""

    name = "json2"

    def __init__(
        self, http: httpx.AsyncClient, base: str, db: str, api_key: Callable[[], str]
    ) -> None:
        self._http = http
        self._base = base
        self._db = db
        self._api_key = api_key

    async def call(
        self, model: str, method: str, params: dict[str, Any], ids: list[int] | None
    ) -> Any:
        body = dict(params)
        if ids is not None:
            body["ids"] = ids
        headers = {
            "Authorization": f"bearer {self._api_key()}",
            "Content-Type": "application/json; charset=utf-8",
        }
        if self._db:
            headers["X-Odoo-Database"] = self._db
        status, data, is_json = await _exchange(
            self._http,
            "POST",
            f"{self._base}/json/2/{model}/{method}",
            body=json.dumps(body).encode(),
            headers=headers,
        )
        if status == 200:
            if not is_json:
                raise TransientError("HTTP 200 with a body that is not JSON")
            return data
        raise from_json2_error(
            status,
            data if is_json else None,
            model=model,
            method=method,
            secret=self._api_key(),
        )

    async def server_version(self) -> str:
        data = await fetch_web_version(self._http, self._base)
        return str(data.get("version", ""))


class JsonRpcWire:
    """``POST /jsonrpc``: ``common.authenticate`` once for the uid, then ``object.execute_kw``."""

    name = "jsonrpc"

    def __init__(
        self,
        http: httpx.AsyncClient,
        base: str,
        db: str,
        login: str,
        api_key: Callable[[], str],
    ) -> None:
        self._http = http
        self._base = base
        self._db = db
        self._login = login
        self._api_key = api_key
        self._uid: int | None = None
        self._auth_lock = asyncio.Lock()

    async def _rpc(self, service: str, method: str, args: list[Any], where: tuple[str, str]) -> Any:
        payload = {
            "jsonrpc": "2.0",
            "method": "call",
            "id": next(_ids),
            "params": {"service": service, "method": method, "args": args},
        }
        status, data, is_json = await _exchange(
            self._http,
            "POST",
            f"{self._base}/jsonrpc",
            body=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        if status >= 500 or status == 429:
            raise TransientError(f"HTTP {status}")
        if status == 404:
            raise OdooServerError("no /jsonrpc endpoint at this URL (HTTP 404)", status=status)
        if status in (401, 403):
            raise OdooAuthError(f"/jsonrpc answered HTTP {status} (a proxy refusing access?)")
        if status != 200:
            raise OdooServerError(f"/jsonrpc answered HTTP {status}{hint(status)}", status=status)
        if not is_json or not isinstance(data, dict):
            raise TransientError("HTTP 200 with a body that is not JSON-RPC")
        if "error" in data:
            raise from_jsonrpc_error(
                data["error"], model=where[0], method=where[1], secret=self._api_key()
            )
        if "result" not in data:
            raise TransientError("JSON-RPC answer without result or error")
        return data["result"]

    async def uid(self) -> int:
        if self._uid is not None:
            return self._uid
        async with self._auth_lock:
            if self._uid is None:
                uid = await self._rpc(
                    "common",
                    "authenticate",
                    [self._db, self._login, self._api_key(), {}],
                    ("common", "authenticate"),
                )
                if not isinstance(uid, int) or isinstance(uid, bool) or uid <= 0:
                    raise OdooAuthError(
                        f"Odoo refused the login {self._login!r} or its API key "
                        f"on database {self._db!r}"
                    )
                self._uid = uid
            return self._uid

    async def call(
        self, model: str, method: str, params: dict[str, Any], ids: list[int] | None
    ) -> Any:
        kwargs = dict(params)
        if ids is not None:
            args: list[Any] = [ids]
        elif "domain" in kwargs:
            args = [kwargs.pop("domain")]
        else:
            args = []
        uid = await self.uid()
        try:
            return await self._rpc(
                "object",
                "execute_kw",
                [self._db, uid, self._api_key(), model, method, args, kwargs],
                (model, method),
            )
        except OdooAuthError:
            # The key may have been revoked since we authenticated: authenticate again next time.
            self._uid = None
            raise

    async def server_version(self) -> str:
        data = await self._rpc("common", "version", [], ("common", "version"))
        if not isinstance(data, dict):
            raise TransientError("common.version answered garbage")
        return str(data.get("server_version", ""))
