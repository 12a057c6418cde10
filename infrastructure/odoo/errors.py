"""Turn Odoo's two error shapes into the domain's typed exceptions.

JSON-RPC answers HTTP 200 with ``{"error": {"code", "message", "data": {"name", "message",
"arguments", "debug"}}}``; JSON-2 uses HTTP statuses with ``{"name", "message", "arguments",
"context", "debug"}``. Both carry Odoo's exception class in ``name``, which is what decides the
typed exception. ``debug`` (a server traceback) is never copied anywhere, and every message is
scrubbed of the API key before it leaves this module, in case a proxy or Odoo echoes it.
"""

from __future__ import annotations

import re
from typing import Any

from domain.odoo_gateway import (
    OdooAccessError,
    OdooAuthError,
    OdooError,
    OdooServerError,
    OdooUnknownFieldError,
    OdooUnknownModelError,
)

MAX_MESSAGE = 500

# Odoo retries serialization failures itself before giving up; when one still surfaces, a
# later attempt normally succeeds, so these named errors count as transient.
TRANSIENT_NAMES = frozenset(
    {
        "psycopg2.errors.SerializationFailure",
        "psycopg2.errors.LockNotAvailable",
        "psycopg2.extensions.TransactionRollbackError",
        "odoo.exceptions.ConcurrencyError",
    }
)

# "Invalid field 'x' on model 'crm.lead'" (fields, order; domains from 18 on) and
# "Invalid field crm.lead.x in leaf ('x', '=', 1)" (domains up to 17).
_INVALID_FIELD = (
    re.compile(r"Invalid field '(?P<field>[^']+)' on model '(?P<model>[^']+)'"),
    re.compile(r"Invalid field (?P<model>\S+)\.(?P<field>[^.\s]+) in leaf"),
    re.compile(r"Invalid field (?P<field>\S+)"),
)
_UNKNOWN_OBJECT = re.compile(r"Object (?P<model>\S+) doesn't exist")


class TransientError(Exception):
    """Internal: a failure worth retrying. ``reason`` is safe to log (no secrets)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def redact(text: str, secret: str | None) -> str:
    if secret and len(secret) >= 4:
        text = text.replace(secret, "***")
    return text


def _short(text: str) -> str:
    text = text.strip()
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def from_odoo_exception(
    name: str | None,
    message: str,
    *,
    model: str | None,
    method: str | None,
    status: int | None = None,
    secret: str | None = None,
) -> OdooError | TransientError:
    """Map one Odoo exception (its qualified class name and message) to a typed exception."""
    name = name or ""
    short_name = name.rsplit(".", 1)[-1]
    message = _short(redact(message or "", secret))
    where = f"{model}.{method}" if model and method else (model or method or "odoo")
    text = f"Odoo {where}: {message or short_name or 'error'}"
    common: dict[str, Any] = {
        "model": model,
        "method": method,
        "odoo_name": name or None,
        "status": status,
    }
    if name in TRANSIENT_NAMES:
        return TransientError(f"{short_name} from Odoo")
    if short_name == "AccessDenied":
        return OdooAuthError(f"Odoo refused the credentials ({where}): {message}", **common)
    if short_name == "AccessError":
        return OdooAccessError(text, **common)
    if short_name == "ValueError" and "Invalid field" in message:
        field = None
        for pattern in _INVALID_FIELD:
            match = pattern.search(message)
            if match:
                field = match.group("field")
                break
        return OdooUnknownFieldError(text, field=field, **common)
    unknown = _UNKNOWN_OBJECT.search(message)
    if short_name == "UserError" and unknown:
        return OdooUnknownModelError(text, **common)
    return OdooServerError(text, **common)


def from_jsonrpc_error(
    error: Any, *, model: str | None, method: str | None, secret: str | None
) -> OdooError | TransientError:
    """The ``error`` member of a JSON-RPC answer (HTTP 200)."""
    if not isinstance(error, dict):
        return TransientError("malformed JSON-RPC error")
    data = error.get("data")
    if isinstance(data, dict):
        return from_odoo_exception(
            _str(data.get("name")),
            _str(data.get("message")) or _str(error.get("message")),
            model=model,
            method=method,
            secret=secret,
        )
    # No data: a protocol-level error (e.g. "Odoo Session Expired", code 100).
    return OdooServerError(
        f"Odoo {model}.{method}: {_short(redact(_str(error.get('message')), secret))}",
        model=model,
        method=method,
    )


def from_json2_error(
    status: int,
    body: Any,
    *,
    model: str | None,
    method: str | None,
    secret: str | None,
) -> OdooError | TransientError:
    """A JSON-2 answer with a status >= 400. ``body`` is the parsed JSON or None."""
    if status in (429, 502, 503, 504):
        return TransientError(f"HTTP {status}")
    if not isinstance(body, dict) or not isinstance(body.get("name"), str):
        if status >= 500:
            return TransientError(f"HTTP {status} without an Odoo error body")
        if status == 401:
            return OdooAuthError("Odoo refused the API key (HTTP 401)", status=status)
        if status == 404:
            return OdooServerError(
                "no JSON-2 endpoint at this URL (HTTP 404): JSON-2 needs Odoo 19 or later; "
                "use protocol 'jsonrpc' for Odoo 16-18",
                model=model,
                method=method,
                status=status,
            )
        return OdooServerError(f"Odoo answered HTTP {status}{hint(status)}", status=status)
    name = body["name"]
    message = _str(body.get("message"))
    common: dict[str, Any] = {"model": model, "method": method, "odoo_name": name}
    if status == 401:
        return OdooAuthError(
            f"Odoo refused the API key (HTTP 401): {_short(redact(message, secret))}",
            status=status,
            **common,
        )
    if status == 404:
        # JSON-2 says 404 for an unknown model, an unknown method (whose message also names
        # the model) and an unknown database.
        text = f"Odoo {model}.{method}: {_short(redact(message, secret))}"
        lowered = message.lower()
        if "model" in lowered and "method" not in lowered:
            return OdooUnknownModelError(text, status=status, **common)
        return OdooServerError(text, status=status, **common)
    mapped = from_odoo_exception(
        name, message, model=model, method=method, status=status, secret=secret
    )
    if status == 403 and isinstance(mapped, OdooServerError):
        return OdooAccessError(mapped.message, status=status, **common)
    return mapped


def hint(status: int) -> str:
    if 300 <= status < 400:
        return " (a redirect: check the URL, e.g. https:// and no path)"
    return ""


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
