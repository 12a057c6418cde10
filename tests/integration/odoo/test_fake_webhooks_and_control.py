"""Webhooks posted by the built-in Odoo to a local receiver, and its HTTP control API."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from infrastructure.odoo import OdooClient
from infrastructure.odoo_fake import FakeOdoo
from tests.integration.odoo.conftest import TLS


@dataclass
class Receiver:
    url: str
    received: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    status: int = 202


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.received.append((self.path, dict(self.headers.items()), body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/odoo/tok-123"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def test_send_webhook_has_odoos_exact_shape(odoo19: FakeOdoo, receiver: Receiver) -> None:
    assert odoo19.demo is not None
    lead = odoo19.demo.leads["ethan-1"]
    fields = ["active", "expected_revenue", "stage_id", "user_id"]
    status = odoo19.send_webhook(
        receiver.url, "crm.lead", lead, fields, action_name="Notify", action_id=42
    )
    assert status == 202
    ((path, headers, body),) = receiver.received
    assert path == "/webhooks/odoo/tok-123"
    assert headers["Content-Type"] == "application/json"
    assert not any(h.lower().startswith("x-") for h in headers)  # no signature, no custom headers
    row = odoo19.records("crm.lead", [["id", "=", lead]])[0]
    expected = {
        "_action": "Notify(#42)", "_id": lead, "_model": "crm.lead", "active": True,
        "expected_revenue": row["expected_revenue"], "id": lead, "stage_id": row["stage_id"],
        "user_id": odoo19.demo.users["ethan"],
    }  # fmt: skip
    assert body == json.dumps(expected, sort_keys=True).encode()


def test_signed_webhook(odoo19: FakeOdoo, receiver: Receiver) -> None:
    assert odoo19.demo is not None
    lead = odoo19.demo.leads["ethan-2"]
    odoo19.send_webhook(receiver.url, "crm.lead", lead, ["name"], secret="whsec")
    ((_, headers, body),) = receiver.received
    ts = headers["X-Pulse-Timestamp"]
    digest = hmac.new(b"whsec", ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Pulse-Signature"] == f"sha256={digest}"


def test_unreachable_receiver_loses_the_delivery(odoo19: FakeOdoo) -> None:
    assert odoo19.demo is not None
    assert (
        odoo19.send_webhook("http://127.0.0.1:9/hook", "crm.lead", odoo19.demo.leads["ethan-1"])
        is None
    )


def test_automation_rule_posts_after_each_write(odoo19: FakeOdoo, receiver: Receiver) -> None:
    assert odoo19.demo is not None
    odoo19.add_webhook(
        receiver.url, fields=["stage_id", "probability"], action_name="Pulse", action_id=9
    )
    lead = odoo19.demo.leads["noah-1"]
    odoo19.mark_won(lead)
    new = odoo19.create("crm.lead", {"name": "Fresh", "user_id": odoo19.demo.users["noah"]})
    odoo19.webhooks.drop_next = 1
    odoo19.write("crm.lead", lead, {"name": "lost in transit"})
    odoo19.write("res.partner", odoo19.demo.partners["Globex"], {"name": "Globex 2"})  # other model
    assert odoo19.webhooks.flush()
    bodies = [json.loads(b) for _, _, b in receiver.received]
    assert [(b["_id"], b["_action"]) for b in bodies] == [(lead, "Pulse(#9)"), (new, "Pulse(#9)")]
    assert bodies[0]["stage_id"] == odoo19.demo.won_stage_id and bodies[0]["probability"] == 100.0
    assert [d.status for d in odoo19.webhooks.deliveries] == [202, 202, None]


async def control(
    fake: FakeOdoo, verb: str, path: str, body: object = None, key: str | None = None
) -> httpx.Response:
    headers = {"Authorization": f"bearer {key or fake.api_key}"}
    async with httpx.AsyncClient(verify=TLS) as http:
        return await http.request(verb, f"{fake.url}/_fake{path}", json=body, headers=headers)


async def test_control_api_requires_the_key(odoo19: FakeOdoo) -> None:
    assert (await control(odoo19, "GET", "/state", key="nope")).status_code == 401
    state = (await control(odoo19, "GET", "/state")).json()
    assert state["version"] == "19.0" and state["uid"] == odoo19.uid and state["clock_frozen"]


async def test_control_api_changes_data(odoo19: FakeOdoo, make_client) -> None:  # type: ignore[no-untyped-def]
    assert odoo19.demo is not None
    client: OdooClient = make_client(odoo19, "json2")
    created = await control(
        odoo19,
        "POST",
        "/records/crm.lead",
        {"values": {"name": "Via HTTP", "expected_revenue": 10}, "at": "2025-03-03 08:00:00"},
    )
    lead = created.json()["id"]
    await control(odoo19, "POST", "/clock", {"advance": 30})
    await control(
        odoo19, "POST", "/records/crm.lead/write", {"ids": [lead], "values": {"probability": 50}}
    )
    (row,) = await client.read(
        "crm.lead", [lead], ["name", "probability", "create_date", "write_date"]
    )
    assert row == {
        "id": lead,
        "name": "Via HTTP",
        "probability": 50.0,
        "create_date": "2025-03-03 08:00:00",
        "write_date": "2025-03-03 09:00:30",
    }
    await control(odoo19, "POST", "/leads/mark_lost", {"ids": [lead]})
    (row,) = await client.read("crm.lead", [lead], ["active", "probability"])
    assert row["active"] is False and row["probability"] == 0.0
    await control(odoo19, "POST", "/leads/mark_won", {"ids": [lead]})
    (row,) = await client.read("crm.lead", [lead], ["active", "stage_id"])
    assert row["active"] is True and row["stage_id"][0] == odoo19.demo.won_stage_id
    await control(odoo19, "POST", "/records/crm.lead/unlink", {"ids": [lead]})
    assert await client.read("crm.lead", [lead], ["name"]) == []
    bad = await control(odoo19, "POST", "/records/crm.lead", {"values": {"nope": 1}})
    assert bad.status_code == 400 and "Invalid field" in bad.json()["error"]


async def test_control_api_faults_access_and_down(odoo19: FakeOdoo, make_client) -> None:  # type: ignore[no-untyped-def]
    client: OdooClient = make_client(odoo19, "jsonrpc", max_retries=0)
    await client.search_count("crm.stage", [])
    await control(odoo19, "POST", "/faults", {"kind": "status", "status": 503, "count": 1})
    with pytest.raises(Exception, match="unavailable"):
        await client.search_count("crm.stage", [])
    await control(odoo19, "POST", "/access", {"model": "hr.employee", "denied": True})
    await client.search_read("hr.employee", [], ["name"], "id")
    assert client.employee_model == "hr.employee.public"
    await control(odoo19, "POST", "/down", {"mode": "drop"})
    assert (await control(odoo19, "GET", "/state")).json()["down"] == "drop"  # control still works
    with pytest.raises(Exception, match="unavailable"):
        await client.search_count("crm.stage", [])
    await control(odoo19, "POST", "/up")
    assert await client.search_count("crm.stage", []) == 6


async def test_control_api_webhooks(odoo19: FakeOdoo, receiver: Receiver) -> None:
    assert odoo19.demo is not None
    lead = odoo19.demo.leads["mia-1"]
    sent = await control(
        odoo19,
        "POST",
        "/webhooks/send",
        {"url": receiver.url, "model": "crm.lead", "id": lead, "fields": ["user_id"]},
    )
    assert sent.json() == {"status": 202}
    await control(odoo19, "POST", "/webhooks", {"url": receiver.url, "fields": ["name"]})
    await control(
        odoo19, "POST", "/records/crm.lead/write", {"ids": [lead], "values": {"name": "Renamed"}}
    )
    assert odoo19.webhooks.flush()
    assert [json.loads(b)["_id"] for _, _, b in receiver.received] == [lead, lead]
    assert json.loads(receiver.received[1][2])["name"] == "Renamed"
