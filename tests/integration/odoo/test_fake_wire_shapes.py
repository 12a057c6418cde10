"""The built-in Odoo's raw HTTP answers, checked byte-shape by byte-shape against ODOO.md."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from infrastructure.odoo_fake import FakeOdoo, OdooClock
from tests.integration.odoo.conftest import BASE, TLS

ERROR_KEYS = {"name", "message", "arguments", "context", "debug"}


async def rpc(fake: FakeOdoo, service: str, method: str, *args: Any) -> httpx.Response:
    payload = {
        "jsonrpc": "2.0",
        "method": "call",
        "id": 7,
        "params": {"service": service, "method": method, "args": list(args)},
    }
    async with httpx.AsyncClient(verify=TLS) as http:
        return await http.post(f"{fake.url}/jsonrpc", json=payload)


async def execute_kw(
    fake: FakeOdoo,
    model: str,
    method: str,
    args: list[Any],
    kwargs: dict[str, Any],
    key: str | None = None,
) -> httpx.Response:
    return await rpc(
        fake,
        "object",
        "execute_kw",
        fake.db,
        fake.uid,
        key or fake.api_key,
        model,
        method,
        args,
        kwargs,
    )


async def json2(
    fake: FakeOdoo,
    model: str,
    method: str,
    body: Any,
    key: str | None = None,
    raw: bytes | None = None,
) -> httpx.Response:
    headers = {"X-Odoo-Database": fake.db}
    if key != "":
        headers["Authorization"] = f"bearer {key or fake.api_key}"
    async with httpx.AsyncClient(verify=TLS) as http:
        if raw is not None:
            return await http.post(
                f"{fake.url}/json/2/{model}/{method}", content=raw, headers=headers
            )
        return await http.post(f"{fake.url}/json/2/{model}/{method}", json=body, headers=headers)


async def test_web_version(odoo19: FakeOdoo, odoo17: FakeOdoo) -> None:
    async with httpx.AsyncClient(verify=TLS) as http:
        assert (await http.get(f"{odoo19.url}/web/version")).json() == {
            "version": "19.0",
            "version_info": [19, 0, 0, "final", 0, ""],
        }
        assert (await http.get(f"{odoo17.url}/web/version")).json()["version_info"][0] == 17


async def test_jsonrpc_common(odoo17: FakeOdoo) -> None:
    version = (await rpc(odoo17, "common", "version")).json()
    assert version["id"] == 7 and version["result"]["server_version"] == "17.0"
    ok = (
        await rpc(odoo17, "common", "authenticate", odoo17.db, odoo17.login, odoo17.api_key, {})
    ).json()
    assert ok["result"] == odoo17.uid and isinstance(ok["result"], int)
    bad = (await rpc(odoo17, "common", "authenticate", odoo17.db, odoo17.login, "nope", {})).json()
    assert bad["result"] is False
    other = (
        await rpc(odoo17, "common", "authenticate", odoo17.db, "alice", odoo17.api_key, {})
    ).json()
    assert other["result"] is False


async def test_jsonrpc_search_read_result(odoo17: FakeOdoo) -> None:
    response = await execute_kw(
        odoo17, "crm.stage", "search_read", [[["is_won", "=", True]]],
        {"fields": ["name", "is_won"], "order": "sequence asc", "context": {"active_test": False}},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json() == {
        "jsonrpc": "2.0",
        "id": 7,
        "result": [{"id": 5, "name": "Won", "is_won": True}],
    }


@pytest.mark.parametrize(
    ("model", "method", "args", "kwargs", "name"),
    [
        ("crm.lead", "search_read", [[]], {"fields": ["nope"]}, "builtins.ValueError"),
        ("crm.lead", "_read_group", [[]], {}, "odoo.exceptions.AccessError"),
        ("no.model", "search_read", [[]], {}, "odoo.exceptions.UserError"),
        ("crm.lead", "frobnicate", [[]], {}, "builtins.AttributeError"),
        ("crm.lead", "search_read", [[]], {"bogus": 1}, "builtins.TypeError"),
    ],
)
async def test_jsonrpc_error_envelope(
    odoo17: FakeOdoo,
    odoo19: FakeOdoo,
    model: str,
    method: str,
    args: list[Any],
    kwargs: dict[str, Any],
    name: str,
) -> None:
    for fake, code in ((odoo17, 200), (odoo19, 0)):
        response = await execute_kw(fake, model, method, args, kwargs)
        assert response.status_code == 200
        body = response.json()
        assert "result" not in body and body["id"] == 7
        assert body["error"]["code"] == code and body["error"]["message"] == "Odoo Server Error"
        assert set(body["error"]["data"]) >= {"name", "message", "arguments", "debug"}
        assert body["error"]["data"]["name"] == name


async def test_jsonrpc_error_code_is_0_from_18_1() -> None:
    async with FakeOdoo(version="saas~18.1", clock=OdooClock(BASE), demo=False) as fake:
        response = await execute_kw(fake, "crm.lead", "search_read", [[]], {"fields": ["nope"]})
        assert response.json()["error"]["code"] == 0
        async with httpx.AsyncClient(verify=TLS) as http:
            info = (await http.get(f"{fake.url}/web/version")).json()
        assert info["version_info"][:2] == ["saas~18", 1]


async def test_jsonrpc_wrong_key_in_execute_kw_is_access_denied(odoo17: FakeOdoo) -> None:
    body = (await execute_kw(odoo17, "crm.lead", "search_count", [[]], {}, key="wrong")).json()
    assert body["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"


async def test_jsonrpc_denied_employee_is_access_error(odoo17: FakeOdoo) -> None:
    odoo17.deny("hr.employee")
    body = (
        await execute_kw(odoo17, "hr.employee", "search_read", [[]], {"fields": ["name"]})
    ).json()
    assert body["error"]["data"]["name"] == "odoo.exceptions.AccessError"
    public = (
        await execute_kw(odoo17, "hr.employee.public", "search_read", [[]], {"fields": ["name"]})
    ).json()
    assert len(public["result"]) > 10


async def test_json2_success_is_the_bare_value(odoo19: FakeOdoo) -> None:
    response = await json2(
        odoo19,
        "crm.stage",
        "search_read",
        {
            "domain": [["is_won", "=", True]],
            "fields": ["name"],
            "order": "id",
            "context": {"active_test": False},
        },
    )
    assert response.status_code == 200 and response.json() == [{"id": 5, "name": "Won"}]
    response = await json2(odoo19, "crm.stage", "read", {"ids": [5, 999], "fields": ["name"]})
    assert response.json() == [{"id": 5, "name": "Won"}]
    response = await json2(odoo19, "crm.lead", "search_count", {"domain": []})
    assert isinstance(response.json(), int)


@pytest.mark.parametrize(
    ("model", "method", "body", "key", "raw", "status", "name"),
    [
        ("crm.lead", "search_read", {}, "wrong", None, 401, "werkzeug.exceptions.Unauthorized"),
        ("crm.lead", "search_read", {}, "", None, 401, "werkzeug.exceptions.Unauthorized"),
        ("crm.lead", "_read_group", {}, None, None, 403, "odoo.exceptions.AccessError"),
        ("no.model", "search_read", {}, None, None, 404, "werkzeug.exceptions.NotFound"),
        ("crm.lead", "frobnicate", {}, None, None, 404, "werkzeug.exceptions.NotFound"),
        ("crm.lead", "search_read", {"bogus": 1}, None, None, 422, "builtins.TypeError"),
        ("crm.lead", "search_read", None, None, b"{bad", 400, "werkzeug.exceptions.BadRequest"),
        ("crm.lead", "search_read", [1, 2], None, None, 400, "werkzeug.exceptions.BadRequest"),
        ("crm.lead", "search_read", {"fields": ["nope"]}, None, None, 500, "builtins.ValueError"),
    ],
)  # fmt: skip
async def test_json2_errors(
    odoo19: FakeOdoo,
    model: str,
    method: str,
    body: Any,
    key: str | None,
    raw: bytes | None,
    status: int,
    name: str,
) -> None:
    response = await json2(odoo19, model, method, body, key=key, raw=raw)
    assert response.status_code == status
    error = response.json()
    assert set(error) == ERROR_KEYS and error["name"] == name
    if status == 500:
        assert error["message"] == "Invalid field 'nope' on model 'crm.lead'"


async def test_json2_denied_model_is_403(odoo19: FakeOdoo) -> None:
    odoo19.deny("hr.employee")
    response = await json2(odoo19, "hr.employee", "search_read", {"fields": ["name"]})
    assert response.status_code == 403 and response.json()["name"] == "odoo.exceptions.AccessError"


async def test_no_json2_before_19(odoo17: FakeOdoo) -> None:
    response = await json2(odoo17, "crm.lead", "search_read", {})
    assert response.status_code == 404
    assert "json" not in response.headers["content-type"]


@pytest.mark.parametrize(
    "payload", [b"{oops", b"[1, 2]", b'{"params": [1]}', b'{"params": {"service": "nope"}}']
)
async def test_jsonrpc_malformed_requests_get_error_envelopes(
    odoo17: FakeOdoo, http: httpx.AsyncClient, payload: bytes
) -> None:
    response = await http.post(
        f"{odoo17.url}/jsonrpc", content=payload, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 200
    assert response.json()["error"]["message"] == "Odoo Server Error"
