"""``OdooClient``: the ``OdooGateway`` port over httpx, for Odoo 16-19.

The client is read-only (search/read methods only), which is what makes blind retries safe.
It picks the protocol once (``auto``: ``GET /web/version``, JSON-2 from 19 on, JSON-RPC
otherwise or when the probe fails), retries transient failures with full-jitter backoff, and
transparently reads ``hr.employee.public`` when the API user may not read ``hr.employee``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import SecretStr

from domain.odoo_gateway import (
    EMPLOYEE_MODEL,
    EMPLOYEE_PUBLIC_MODEL,
    Domain,
    OdooAccessError,
    OdooRow,
    OdooServerError,
    OdooUnavailableError,
)
from domain.tasks import consume_outcome
from infrastructure.odoo.errors import TransientError, redact
from infrastructure.odoo.retry import RetryPolicy
from infrastructure.odoo.wire import (
    Json2Wire,
    JsonRpcWire,
    Wire,
    fetch_web_version,
    major_version,
)

logger = logging.getLogger("pulse.odoo")

Protocol = Literal["auto", "json2", "jsonrpc"]
#: Sent with every call: lost opportunities, archived users and employees must be seen.
CONTEXT: dict[str, Any] = {"active_test": False}


def _safe_url(url: str) -> str:
    """The URL without any ``user:password@`` part, for logs and messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class OdooClient:
    """One Odoo database, one API user. Use as ``async with OdooClient(...) as odoo:``.

    ``max_retries`` counts retries after the first attempt; the delay before retry ``n`` is
    uniform in ``[0, min(backoff_max, backoff_base * 2**n)]``. ``verify`` is httpx's (a CA
    bundle path or an ``ssl.SSLContext`` for self-signed Odoo certificates). Inject
    ``http_client`` or ``transport`` in tests; an injected client is not closed here and its
    own timeout applies.
    """

    def __init__(
        self,
        url: str,
        db: str,
        login: str,
        api_key: str | SecretStr,
        *,
        protocol: Protocol = "auto",
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: bool | str | ssl.SSLContext = True,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        if protocol not in ("auto", "json2", "jsonrpc"):
            raise ValueError(f"protocol must be auto, json2 or jsonrpc, not {protocol!r}")
        self.url = url.rstrip("/")
        self.db = db
        self.login = login
        self._key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self.requested_protocol: Protocol = protocol
        self.retry = RetryPolicy(max_retries, backoff_base, backoff_max)
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": "pulse-odoo-client"},
            # No redirects: a POST turned into a GET by a 301 would fail obscurely.
            follow_redirects=False,
            verify=verify,
        )
        self._rng = rng or random.Random()  # jitter only, not crypto
        self._sleep = sleep
        self._wire: Wire | None = None
        self._wire_lock = asyncio.Lock()
        self._employee_model = EMPLOYEE_MODEL

    def __repr__(self) -> str:  # never the key
        return (
            f"OdooClient(url={_safe_url(self.url)!r}, db={self.db!r}, login={self.login!r}, "
            f"protocol={self.requested_protocol!r})"
        )

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> OdooClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # -- protocol selection ------------------------------------------------------------------

    def _secret(self) -> str:
        return self._key.get_secret_value()

    @property
    def protocol(self) -> str | None:
        """The protocol in use (``json2``/``jsonrpc``), once chosen."""
        return self._wire.name if self._wire else None

    @property
    def employee_model(self) -> str:
        return self._employee_model

    async def _get_wire(self) -> Wire:
        if self._wire is not None:
            return self._wire
        async with self._wire_lock:
            if self._wire is None:
                chosen = self.requested_protocol
                if chosen == "auto":
                    chosen = await self._detect_protocol()
                if chosen == "json2":
                    self._wire = Json2Wire(self._http, self.url, self.db, self._secret)
                else:
                    self._wire = JsonRpcWire(
                        self._http, self.url, self.db, self.login, self._secret
                    )
            return self._wire

    async def _detect_protocol(self) -> Literal["json2", "jsonrpc"]:
        try:
            info = await fetch_web_version(self._http, self.url)
        except (TransientError, OdooServerError) as exc:
            logger.info("Odoo /web/version unavailable (%s): using JSON-RPC", exc)
            return "jsonrpc"
        major = major_version(info.get("version_info"))
        chosen: Literal["json2", "jsonrpc"] = (
            "json2" if major is not None and major >= 19 else "jsonrpc"
        )
        logger.info("Odoo %s at %s: using %s", info.get("version"), _safe_url(self.url), chosen)
        return chosen

    # -- the retry loop ----------------------------------------------------------------------

    async def _with_retries(self, what: str, attempt: Callable[[], Awaitable[Any]]) -> Any:
        last = ""
        for retry in range(self.retry.max_retries + 1):
            try:
                return await attempt()
            except TransientError as exc:
                last = redact(exc.reason, self._secret())
                if retry >= self.retry.max_retries:
                    break
                delay = self.retry.delay(retry, self._rng)
                logger.warning(
                    "Odoo %s failed transiently (%s); retry %d/%d in %.2fs",
                    what,
                    last,
                    retry + 1,
                    self.retry.max_retries,
                    delay,
                )
                await self._sleep(delay)
        raise OdooUnavailableError(
            f"Odoo at {_safe_url(self.url)} unavailable for {what} after "
            f"{self.retry.max_retries + 1} attempts: {last}"
        )

    async def execute(
        self,
        model: str,
        method: str,
        params: dict[str, Any],
        ids: list[int] | None = None,
    ) -> Any:
        """Call a read method with named arguments, with retries and the employee fallback."""
        if model == EMPLOYEE_MODEL and self._employee_model == EMPLOYEE_PUBLIC_MODEL:
            model = EMPLOYEE_PUBLIC_MODEL
        try:
            return await self._execute(model, method, params, ids)
        except OdooAccessError:
            if model != EMPLOYEE_MODEL:
                raise
            logger.info("no access to %s: reading %s instead", model, EMPLOYEE_PUBLIC_MODEL)
            result = await self._execute(EMPLOYEE_PUBLIC_MODEL, method, params, ids)
            self._employee_model = EMPLOYEE_PUBLIC_MODEL
            return result

    async def _execute(
        self, model: str, method: str, params: dict[str, Any], ids: list[int] | None
    ) -> Any:
        async def attempt() -> Any:
            wire = await self._get_wire()
            logger.debug("Odoo call %s.%s via %s", model, method, wire.name)
            return await wire.call(model, method, params, ids)

        return await self._with_retries(f"{model}.{method}", attempt)

    # -- the port ----------------------------------------------------------------------------

    async def server_version(self) -> str:
        async def attempt() -> str:
            return await (await self._get_wire()).server_version()

        return str(await self._with_retries("version", attempt))

    async def search_read(
        self,
        model: str,
        domain: Domain,
        fields: list[str],
        order: str,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[OdooRow]:
        params: dict[str, Any] = {
            "domain": domain,
            "fields": fields,
            "order": order,
            "offset": offset,
            "context": CONTEXT,
        }
        if limit is not None:
            params["limit"] = limit
        rows = await self.execute(model, "search_read", params)
        return _rows(rows, model, "search_read")

    async def iter_search_read(
        self,
        model: str,
        domain: Domain,
        fields: list[str],
        order: str,
        page_size: int = 500,
    ) -> AsyncIterator[list[OdooRow]]:
        """Pages by offset. Offsets shift if matching records change meanwhile; the sync's
        look-back window and content comparison absorb that (ODOO.md, sync pitfalls).

        The next page is requested before this one is handed over, so Odoo reads it while
        the caller ingests this one (two processes' work overlapped instead of taking
        turns); at most one request is ahead, and it is cancelled if the caller stops."""
        if page_size <= 0:
            raise ValueError("page_size must be positive")

        def request(offset: int) -> asyncio.Task[list[OdooRow]]:
            return asyncio.ensure_future(
                self.search_read(model, domain, fields, order, page_size, offset)
            )

        offset = 0
        ahead: asyncio.Task[list[OdooRow]] | None = request(offset)
        try:
            while ahead is not None:
                page = await ahead
                ahead = None
                if len(page) == page_size:
                    offset += len(page)
                    ahead = request(offset)
                    await asyncio.sleep(0)  # let it send its request before we hand over
                if page:
                    yield page
        finally:
            if ahead is not None:
                ahead.cancel()
                ahead.add_done_callback(consume_outcome)  # nobody awaits it now

    async def search_ids(self, model: str, domain: Domain) -> list[int]:
        params = {"domain": domain, "order": "id asc", "context": CONTEXT}
        ids = await self.execute(model, "search", params)
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise OdooServerError(f"Odoo {model}.search returned no id list", model=model)
        return ids

    async def search_count(self, model: str, domain: Domain) -> int:
        count = await self.execute(model, "search_count", {"domain": domain, "context": CONTEXT})
        if not isinstance(count, int):
            raise OdooServerError(f"Odoo {model}.search_count returned no number", model=model)
        return count

    async def read(self, model: str, ids: list[int], fields: list[str]) -> list[OdooRow]:
        if not ids:
            return []
        rows = await self.execute(model, "read", {"fields": fields, "context": CONTEXT}, ids)
        return _rows(rows, model, "read")


def _rows(value: Any, model: str, method: str) -> list[OdooRow]:
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise OdooServerError(f"Odoo {model}.{method} returned no record list", model=model)
    return value
