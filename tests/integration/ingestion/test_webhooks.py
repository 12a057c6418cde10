"""POST /webhooks/odoo/{token} on a running server, with the built-in Odoo behind it.

Each rejection answers with its status and a JSON body and stores nothing; an accepted
delivery is stored before the 202 and ends in the events a sync would produce; a webhook that
arrives while Odoo is down waits in the inbox and is processed once Odoo is back."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from pymongo import MongoClient

from domain.catalog import stream_for
from infrastructure.eventstore.mongo import COMMITS
from infrastructure.odoo_fake import FakeOdoo, OdooClock
from infrastructure.settings import Settings
from infrastructure.webhooks.inbox import INBOX
from tests.support.server import running_app

pytestmark = pytest.mark.integration

TOKEN = "wh-" + uuid.uuid4().hex
SECRET = "sig-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def odoo() -> Iterator[FakeOdoo]:
    with FakeOdoo(version="19.0", clock=OdooClock("2026-02-02 10:00:00")) as fake:
        yield fake


class Env:
    def __init__(self, base: str, db: Any, odoo: FakeOdoo) -> None:
        self.base, self.db, self.odoo = base, db, odoo

    @property
    def url(self) -> str:
        return f"{self.base}/webhooks/odoo/{TOKEN}"

    def stored(self) -> int:
        return int(self.db[INBOX].count_documents({}))

    def events_of(self, lead_id: int) -> list[str]:
        key = stream_for("crm.lead", lead_id).key
        docs = self.db[COMMITS].find({"stream": key}).sort("ver", 1)
        return [e["type"] for doc in docs for e in doc["events"]]

    def wait_processed(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.db[INBOX].count_documents({"status": {"$ne": "done"}}) == 0:
                return
            time.sleep(0.1)
        raise AssertionError(list(self.db[INBOX].find({"status": {"$ne": "done"}})))


def make_env(odoo: FakeOdoo, mongo_url: str, secret: str | None) -> Iterator[Env]:
    name = f"wh_{uuid.uuid4().hex[:10]}"
    settings = Settings(
        mongodb_url=SecretStr(mongo_url),
        mongodb_db=name,
        odoo_url=odoo.url,
        odoo_db=odoo.db,
        odoo_login=odoo.login,
        odoo_api_key=SecretStr(odoo.api_key),
        sync_interval=0,
        webhook_token=SecretStr(TOKEN),
        webhook_secret=SecretStr(secret) if secret else None,
        jwt_secret=SecretStr("j" * 48),
    )
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_url)
    with running_app(settings) as base:
        yield Env(base, client[name], odoo)
    client.drop_database(name)
    client.close()


@pytest.fixture
def env(odoo: FakeOdoo, mongo_url: str) -> Iterator[Env]:
    odoo.reset()
    odoo.faults.clear()
    yield from make_env(odoo, mongo_url, None)


@pytest.fixture
def signed_env(odoo: FakeOdoo, mongo_url: str) -> Iterator[Env]:
    odoo.reset()
    odoo.faults.clear()
    yield from make_env(odoo, mongo_url, SECRET)


def a_lead(odoo: FakeOdoo) -> int:
    assert odoo.demo is not None
    return sorted(odoo.demo.leads.values())[2]


def sign(body: bytes, stamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    stamp = int(time.time()) if stamp is None else stamp
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Pulse-Timestamp": str(stamp),
        "X-Pulse-Signature": f"sha256={mac}",
        "Content-Type": "application/json",
    }


def test_accepted_then_processed_into_the_same_events_as_a_sync(env: Env) -> None:
    lead = a_lead(env.odoo)
    status = env.odoo.send_webhook(env.url, "crm.lead", lead, ["stage_id", "user_id"])
    assert status == 202
    env.wait_processed()
    assert env.events_of(lead) == ["OpportunityAppeared"]
    env.odoo.clock.advance(60)
    env.odoo.write("crm.lead", [lead], {"expected_revenue": 98765.0})
    assert env.odoo.send_webhook(env.url, "crm.lead", lead, ["expected_revenue"]) == 202
    env.wait_processed()
    assert env.events_of(lead) == ["OpportunityAppeared", "OpportunityRevenueChanged"]


def test_a_duplicate_delivery_is_idempotent(env: Env) -> None:
    lead = a_lead(env.odoo)
    for _ in range(3):
        assert env.odoo.send_webhook(env.url, "crm.lead", lead, ["stage_id"]) == 202
    env.wait_processed()
    assert env.events_of(lead) == ["OpportunityAppeared"]


@pytest.mark.parametrize(
    ("path", "body", "headers", "status"),
    [
        ("/webhooks/odoo/wrong-token", b'{"_model":"crm.lead","_id":1}', {}, 401),
        (None, b"{not json", {}, 400),
        (None, b'["a", "list"]', {}, 400),
        (None, b'{"_model":"sale.order","_id":1}', {}, 422),
        (None, b'{"_model":"crm.lead"}', {}, 422),
        (None, b'{"_model":"crm.lead","_id":"7"}', {}, 422),
        (None, b'{"_model":"crm.lead","_id":true}', {}, 422),
        (None, b'{"_model":"crm.lead","_id":1,"pad":"' + b"x" * (1024 * 1024) + b'"}', {}, 413),
    ],
    ids=[
        "bad-token",
        "malformed",
        "not-object",
        "unknown-model",
        "missing-id",
        "string-id",
        "bool-id",
        "oversized",
    ],
)
def test_rejections_answer_clearly_and_store_nothing(
    env: Env, path: str | None, body: bytes, headers: dict[str, str], status: int
) -> None:
    url = f"{env.base}{path}" if path else env.url
    answer = httpx.post(url, content=body, headers={"Content-Type": "application/json", **headers})
    assert answer.status_code == status
    error = answer.json()["error"]
    assert error["code"] and error["message"]
    assert TOKEN not in answer.text and "Traceback" not in answer.text
    assert env.stored() == 0


def test_signed_delivery_accepted_once_and_every_bad_signature_refused(signed_env: Env) -> None:
    env = signed_env
    body = json.dumps({"_model": "crm.lead", "_id": a_lead(env.odoo)}, sort_keys=True).encode()
    unsigned = httpx.post(env.url, content=body, headers={"Content-Type": "application/json"})
    wrong = httpx.post(env.url, content=body, headers=sign(body, secret="not-the-secret"))
    stale = httpx.post(env.url, content=body, headers=sign(body, int(time.time()) - 301))
    tampered = httpx.post(env.url, content=body.replace(b"}", b',"x":1}'), headers=sign(body))
    assert [r.status_code for r in (unsigned, wrong, stale, tampered)] == [401] * 4
    assert env.stored() == 0
    headers = sign(body)
    assert httpx.post(env.url, content=body, headers=headers).status_code == 202
    replay = httpx.post(env.url, content=body, headers=headers)
    assert replay.status_code == 401 and "replay" in replay.json()["error"]["message"]
    assert env.stored() == 1
    # The built-in Odoo's signed variant is accepted too.
    lead = a_lead(env.odoo)
    assert env.odoo.send_webhook(env.url, "crm.lead", lead, ["stage_id"], secret=SECRET) == 202


def test_a_webhook_while_odoo_is_down_is_processed_after_it_comes_back(env: Env) -> None:
    lead = a_lead(env.odoo)
    env.odoo.go_down("503")
    try:
        body = json.dumps({"_model": "crm.lead", "_id": lead, "_action": "Notify(#1)"})
        answer = httpx.post(env.url, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 202  # accepted: stored durably before answering
        deadline = time.monotonic() + 30  # the client's own retries come first
        while True:
            entry = env.db[INBOX].find_one({})
            assert entry is not None and entry["status"] != "done"
            if entry["attempts"] >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert entry["attempts"] >= 1, "the failed attempt was not recorded"
        assert env.events_of(lead) == []
    finally:
        env.odoo.come_up()
    env.wait_processed(timeout=30)
    assert env.events_of(lead) == ["OpportunityAppeared"]


def test_a_burst_is_drained_concurrently_and_each_record_ends_as_a_sync_would(env: Env) -> None:
    """Many deliveries at once, several of them for the same record, are processed several
    at a time: every one ends done, and each record has exactly the events a sync would
    record (one appearance, one revenue change), however the deliveries interleaved."""
    assert env.odoo.demo is not None
    leads = sorted(env.odoo.demo.leads.values())[:12]
    for lead in leads:
        for _ in range(3):  # the same record three times in the burst
            assert env.odoo.send_webhook(env.url, "crm.lead", lead, ["name"]) == 202
    env.wait_processed(60)
    env.odoo.clock.advance(60)
    env.odoo.write("crm.lead", leads, {"expected_revenue": 4242.0})
    for lead in leads:
        for _ in range(3):
            assert env.odoo.send_webhook(env.url, "crm.lead", lead, ["expected_revenue"]) == 202
    env.wait_processed(60)
    assert env.stored() == len(leads) * 6
    for lead in leads:
        assert env.events_of(lead) == ["OpportunityAppeared", "OpportunityRevenueChanged"]
