"""Odoo's error shapes to typed exceptions, backoff, version parsing: the client's pure parts."""

from __future__ import annotations

import random
from typing import Any

import pytest

from domain.odoo_gateway import (
    OdooAccessError,
    OdooAuthError,
    OdooError,
    OdooServerError,
    OdooUnknownFieldError,
    OdooUnknownModelError,
)
from infrastructure.odoo.errors import TransientError, from_json2_error, from_jsonrpc_error
from infrastructure.odoo.retry import RetryPolicy
from infrastructure.odoo.wire import major_version

KEY = "sekrit-api-key-123456"
DEBUG = "Traceback (most recent call last):\n  File odoo/http.py ...\nSECRET-TRACE"


def rpc_error(name: str, message: str, code: int = 200) -> dict[str, Any]:
    return {
        "code": code,
        "message": "Odoo Server Error",
        "data": {"name": name, "message": message, "arguments": [message], "debug": DEBUG},
    }


@pytest.mark.parametrize("code", [200, 0])
@pytest.mark.parametrize(
    ("name", "message", "expected"),
    [
        (
            "odoo.exceptions.AccessError",
            "You are not allowed to access 'Employee'",
            OdooAccessError,
        ),
        ("odoo.exceptions.AccessDenied", "Access Denied", OdooAuthError),
        ("builtins.ValueError", "Invalid field 'nope' on model 'crm.lead'", OdooUnknownFieldError),
        (
            "builtins.ValueError",
            "Invalid field crm.lead.nope in leaf ('nope', '=', 1)",
            OdooUnknownFieldError,
        ),
        ("odoo.exceptions.UserError", "Object foo.bar doesn't exist", OdooUnknownModelError),
        ("builtins.AttributeError", "The method 'x' does not exist", OdooServerError),
        ("builtins.TypeError", "search_read() got an unexpected keyword argument", OdooServerError),
        ("odoo.exceptions.ValidationError", "nope", OdooServerError),
    ],
)
def test_jsonrpc_errors(code: int, name: str, message: str, expected: type[OdooError]) -> None:
    exc = from_jsonrpc_error(
        rpc_error(name, message, code), model="crm.lead", method="search_read", secret=KEY
    )
    assert type(exc) is expected
    assert isinstance(exc, OdooError) and exc.odoo_name == name
    assert "SECRET-TRACE" not in str(exc) and "Traceback" not in str(exc)


def test_unknown_field_name_is_extracted() -> None:
    for message in (
        "Invalid field 'nope' on model 'crm.lead'",
        "Invalid field crm.lead.nope in leaf ('nope', '=', 1)",
    ):
        exc = from_jsonrpc_error(
            rpc_error("builtins.ValueError", message), model="crm.lead", method="m", secret=KEY
        )
        assert isinstance(exc, OdooUnknownFieldError) and exc.field == "nope"


def test_serialization_failures_are_transient() -> None:
    exc = from_jsonrpc_error(
        rpc_error("psycopg2.errors.SerializationFailure", "could not serialize"),
        model="m",
        method="x",
        secret=KEY,
    )
    assert isinstance(exc, TransientError)


def test_messages_never_carry_the_key() -> None:
    exc = from_jsonrpc_error(
        rpc_error("odoo.exceptions.AccessDenied", f"bad key {KEY}"),
        model="m",
        method="x",
        secret=KEY,
    )
    assert KEY not in str(exc) and "***" in str(exc)
    exc2 = from_json2_error(
        403, {"name": "odoo.exceptions.AccessError", "message": f"nope {KEY}", "debug": DEBUG},
        model="m", method="x", secret=KEY,
    )  # fmt: skip
    assert KEY not in str(exc2)


NOT_FOUND = "werkzeug.exceptions.NotFound"


def json2_body(name: str, message: str) -> dict[str, Any]:
    return {"name": name, "message": message, "arguments": [message], "context": {}, "debug": DEBUG}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, json2_body("werkzeug.exceptions.Unauthorized", "Invalid apikey"), OdooAuthError),
        (401, None, OdooAuthError),
        (403, json2_body("odoo.exceptions.AccessError", "not allowed"), OdooAccessError),
        (403, json2_body("odoo.exceptions.AccessDenied", "Access Denied"), OdooAuthError),
        (404, json2_body(NOT_FOUND, "the model 'foo' does not exist"), OdooUnknownModelError),
        (404, json2_body(NOT_FOUND, "the method 'x' does not exist on the model 'crm.lead'"),
         OdooServerError),
        (404, None, OdooServerError),  # no JSON-2 endpoint: Odoo < 19
        (404, json2_body(NOT_FOUND, "database 'nope' not found"), OdooServerError),
        (422, json2_body("builtins.TypeError", "unexpected keyword argument"), OdooServerError),
        (400, json2_body("werkzeug.exceptions.BadRequest", "could not parse"), OdooServerError),
        (500, json2_body("builtins.ValueError", "Invalid field 'nope' on model 'crm.lead'"),
         OdooUnknownFieldError),
        (500, json2_body("builtins.KeyError", "'x'"), OdooServerError),
        (500, None, TransientError),
        (502, json2_body("x", "y"), TransientError),
        (503, None, TransientError),
        (504, None, TransientError),
        (429, None, TransientError),
    ],
)  # fmt: skip
def test_json2_errors(status: int, body: Any, expected: type[Exception]) -> None:
    exc = from_json2_error(status, body, model="crm.lead", method="search_read", secret=KEY)
    assert type(exc) is expected
    assert "SECRET-TRACE" not in str(exc)
    if isinstance(exc, OdooError) and body is not None:
        assert exc.status == status and exc.odoo_name == body["name"]


def test_json2_404_without_body_says_what_to_do() -> None:
    exc = from_json2_error(404, None, model="crm.lead", method="search_read", secret=KEY)
    assert "jsonrpc" in str(exc) and "19" in str(exc)


def test_backoff_is_full_jitter_capped_exponential() -> None:
    policy = RetryPolicy(max_retries=5, backoff_base=0.5, backoff_max=4.0)
    rng = random.Random(1)
    for retry, cap in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (6, 4.0)]:
        delays = [policy.delay(retry, rng) for _ in range(200)]
        assert all(0 <= d <= cap for d in delays)
        assert max(delays) > cap * 0.8  # really spread over the whole range
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)


@pytest.mark.parametrize(
    ("info", "major"),
    [
        ([19, 0, 0, "final", 0, ""], 19),
        (["saas~18", 1, 0, "final", 0, ""], 18),
        ([], None),
        ("x", None),
        (None, None),
    ],
)
def test_major_version(info: Any, major: int | None) -> None:
    assert major_version(info) == major
