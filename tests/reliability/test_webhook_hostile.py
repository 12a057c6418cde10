"""Hostile deliveries to ``POST /webhooks/odoo/{token}`` of a running server (PRODUCT.md §6).

Every case checks, over real HTTP: never a 5xx; the status the spec gives (401 bad token or
signature, 413 over 1 MiB, 400 malformed, 422 unknown model or bad ``_id``, 202 accepted);
no stack trace, exception name, token or secret in the body; a rejection stores nothing
(the inbox is counted before and after); an accepted delivery is stored exactly once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.webhooks import WEBHOOK_MODELS
from tests.reliability.hostile import (
    broken_json,
    dumps,
    json_objects,
    json_values,
    non_objects,
    storable_text,
    weird_text,
)
from tests.reliability.support import TALLY, Server, examples, leaks, serve

TOKEN = "wh-" + secrets.token_urlsafe(24)
SECRET = "sig-" + secrets.token_urlsafe(32)
MAX_BODY = 1024 * 1024
MODELS = sorted(WEBHOOK_MODELS)


@pytest.fixture(scope="module")
def plain(mongo_url: str) -> Iterator[Server]:
    with serve(mongo_url, webhook_token=TOKEN) as server:
        yield server


@pytest.fixture(scope="module")
def signed(mongo_url: str) -> Iterator[Server]:
    with serve(mongo_url, webhook_token=TOKEN, webhook_secret=SECRET) as server:
        yield server


# -- the oracle: what PRODUCT.md §6 says the answer is -----------------------------------------


def body_status(body: bytes) -> int:
    """The status of a delivery whose token (and signature) are right."""
    if len(body) > MAX_BODY:
        return 413
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return 400
    if not isinstance(payload, dict):
        return 400
    model, odoo_id = payload.get("_model"), payload.get("_id")
    if not isinstance(model, str) or model not in WEBHOOK_MODELS:
        return 422
    if isinstance(odoo_id, bool) or not isinstance(odoo_id, int) or not 0 < odoo_id < 2**31:
        return 422
    return 202


def sign(body: bytes, stamp: str, secret: str = SECRET) -> str:
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def deliver(
    server: Server,
    case: str,
    body: Any,
    *,
    token: str = TOKEN,
    headers: dict[str, str] | None = None,
    expected: int | None = None,
) -> httpx.Response:
    """POST one delivery and check everything the module docstring promises."""
    before = server.inbox_count()
    url = f"{server.url}/webhooks/odoo/{quote(token, safe='')}"
    response = server.http.post(url, content=body, headers=headers or {})
    if response.status_code >= 500:
        server.settle()  # before any assertion fails: see Server.settle
    stored = server.inbox_count() - before
    sent = body.decode("utf-8", "replace") if isinstance(body, bytes) else ""
    found = leaks(response.text, sent, server.secrets)
    accepted = response.status_code == 202
    TALLY.record(
        case, response.status_code, leaked=len(found), stored_on_reject=0 if accepted else stored
    )
    assert response.status_code < 500, response.text[:300]
    assert not found, f"{case}: the response reveals {found}"
    if expected is not None:
        assert response.status_code == expected, (case, response.text[:300])
    if accepted:
        delivery = response.json()["id"]
        assert stored == 1, f"{case}: accepted but {stored} documents stored"
        assert server.db["webhook_inbox"].count_documents({"_id": delivery}) == 1
    else:
        assert stored == 0, f"{case}: refused with {response.status_code} yet stored {stored}"
        if response.status_code in (400, 401, 413, 422):
            error = response.json()["error"]
            assert set(error) == {"code", "message"}
    return response


# -- unsigned deliveries (token only, as stock Odoo sends them) --------------------------------


@examples(150)
@given(body=broken_json())
def test_malformed_json(plain: Server, body: bytes) -> None:
    deliver(plain, "webhook: malformed JSON", body, expected=body_status(body))


@examples(100)
@given(value=non_objects)
def test_json_that_is_not_an_object(plain: Server, value: Any) -> None:
    deliver(plain, "webhook: JSON that is not an object", dumps(value), expected=400)


valid_ids = st.integers(1, 2**31 - 1)
ids = st.one_of(
    valid_ids,
    valid_ids,
    st.integers(),  # negative, zero, beyond 32 and 64 bits
    st.floats(),
    st.booleans(),
    st.none(),
    weird_text,
    st.lists(st.integers(), max_size=3),
    st.integers(1, 99).map(str),
)
models = st.one_of(
    st.sampled_from(MODELS),
    st.sampled_from(MODELS),
    weird_text,
    st.integers(),
    st.none(),
    st.lists(st.sampled_from(MODELS)),
)


@examples(200)
@given(
    model=st.one_of(st.just(...), models),
    odoo_id=st.one_of(st.just(...), ids),
    extra=json_objects,
)
def test_wrong_types_for_model_and_id(plain: Server, model: Any, odoo_id: Any, extra: Any) -> None:
    payload = {k: v for k, v in extra.items() if k not in ("_model", "_id")}
    if model is not ...:
        payload["_model"] = model
    if odoo_id is not ...:
        payload["_id"] = odoo_id
    # NaN and infinities are not JSON; Python writes them anyway, and the server must cope.
    body = json.dumps(payload, ensure_ascii=False).encode()
    deliver(plain, "webhook: wrong _model/_id types", body, expected=body_status(body))


@examples(100)
@given(
    model=st.sampled_from(MODELS),
    odoo_id=st.integers(1, 2**31 - 1),
    fields=st.dictionaries(storable_text, weird_text, max_size=6),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]),
)
def test_unicode_everywhere(
    plain: Server, model: str, odoo_id: int, fields: dict[str, str], encoding: str
) -> None:
    payload = {**fields, "_model": model, "_id": odoo_id, "_action": "Send Webhook (#1)"}
    body = json.dumps(payload, ensure_ascii=False).encode(encoding)
    deliver(plain, "webhook: unicode (keys, values, encodings)", body, expected=body_status(body))


@examples(60)
@given(token=st.text(max_size=80).filter(lambda t: t != TOKEN), valid=st.booleans())
def test_a_bad_token_stores_nothing(plain: Server, token: str, valid: bool) -> None:
    body = dumps({"_model": "crm.lead", "_id": 7}) if valid else b"{nope"
    response = deliver(plain, "webhook: bad token", body, token=token)
    # A token with "/" (or none) is another path: the router answers 404, or 307 to the
    # same path without its trailing slash (which is still not the token).
    assert response.status_code in (401, 404, 307), response.status_code


@pytest.mark.parametrize("depth", [1, 20, 50, 5_000, 100_000])
def test_deeply_nested_bodies(plain: Server, depth: int) -> None:
    inner = "[" * depth + "]" * depth
    body = f'{{"_model": "crm.lead", "_id": 3, "x": {inner}}}'.encode()
    # Within 1 MiB; beyond Python's recursion limit the parser gives up: 400, not 500.
    deliver(plain, "webhook: deep bodies", body, expected=202 if depth <= 50 else 400)


def _chunks(size: int) -> Iterator[bytes]:
    chunk = b" " * 65536
    sent = 0
    while sent < size:
        piece = chunk[: min(len(chunk), size - sent)]
        sent += len(piece)
        yield piece


@pytest.mark.parametrize(
    ("size", "chunked"),
    [(MAX_BODY - 100, False), (MAX_BODY + 1, False), (MAX_BODY + 1, True), (8 * MAX_BODY, True)],
)
def test_oversized_bodies(plain: Server, size: int, chunked: bool) -> None:
    head = b'{"_model": "crm.lead", "_id": 5, "pad": "'
    tail = b'"}'
    pad = size - len(head) - len(tail)
    case = "webhook: oversized bodies"
    if not chunked:
        body = head + b"x" * pad + tail
        deliver(plain, case, body, expected=202 if size <= MAX_BODY else 413)
        return

    def stream() -> Iterator[bytes]:
        yield head
        yield from _chunks(pad)
        yield tail

    before = plain.inbox_count()
    try:
        response = plain.http.post(f"{plain.url}/webhooks/odoo/{TOKEN}", content=stream())
    except httpx.TransportError:
        # The server may close the connection once it has refused the body.
        TALLY.record(case, 413)
        assert plain.inbox_count() == before
        return
    TALLY.record(case, response.status_code, stored_on_reject=plain.inbox_count() - before)
    assert response.status_code == 413
    assert plain.inbox_count() == before


# -- signed deliveries (PULSE_WEBHOOK_SECRET set) ----------------------------------------------

STAMPS = ["now", "missing", "empty", "stale", "future", "huge", "negative", "text", "zeros"]
SIGNATURES = ["right", "missing", "empty", "other secret", "no prefix", "upper", "short", "junk"]


def _stamp(kind: str, skew: int) -> str | None:
    now = int(time.time())
    return {
        "now": str(now),
        "missing": None,
        "empty": "",
        "stale": str(now - 301 - skew),
        "future": str(now + 301 + skew),
        "huge": "9" * (20 + skew % 400),
        "negative": str(-skew),
        "text": "yesterday",
        "zeros": f"000{now}",  # the same instant, written otherwise: signed as sent
    }[kind]


def _signature(kind: str, body: bytes, stamp: str) -> str | None:
    right = sign(body, stamp)
    return {
        "right": right,
        "missing": None,
        "empty": "",
        "other secret": sign(body, stamp, secret="not-" + SECRET),
        "no prefix": right.removeprefix("sha256="),
        "upper": right.upper(),
        "short": right[:-2],
        "junk": "sha256=" + "0" * 64,
    }[kind]


@examples(150)
@given(
    stamp_kind=st.sampled_from(STAMPS),
    signature_kind=st.sampled_from(SIGNATURES),
    skew=st.integers(0, 10**6),
    extra=json_objects,
)
def test_signatures(
    signed: Server, stamp_kind: str, signature_kind: str, skew: int, extra: dict[str, Any]
) -> None:
    payload = {**extra, "_model": "crm.lead", "_id": 11, "nonce": secrets.token_hex(8)}
    body = dumps(payload)
    stamp = _stamp(stamp_kind, skew)
    signature = _signature(signature_kind, body, stamp or "")
    headers = {}
    if stamp is not None:
        headers["X-Pulse-Timestamp"] = stamp
    if signature is not None:
        headers["X-Pulse-Signature"] = signature
    good = stamp_kind in ("now", "zeros") and signature_kind == "right"
    deliver(
        signed, "webhook: bad/missing/stale signatures", body, headers=headers,
        expected=202 if good else 401,
    )  # fmt: skip


@examples(40)
@given(times=st.integers(2, 4), extra=json_objects, change=st.sampled_from(["none", "body"]))
def test_replays_are_refused_and_stored_once(
    signed: Server, times: int, extra: dict[str, Any], change: str
) -> None:
    body = dumps({**extra, "_model": "res.users", "_id": 2, "nonce": secrets.token_hex(8)})
    stamp = str(int(time.time()))
    headers = {"X-Pulse-Timestamp": stamp, "X-Pulse-Signature": sign(body, stamp)}
    first = deliver(signed, "webhook: replays", body, headers=headers, expected=202)
    replayed = body if change == "none" else body + b" "
    for _ in range(times - 1):
        deliver(signed, "webhook: replays", replayed, headers=headers, expected=401)
    assert signed.db["webhook_inbox"].count_documents({"_id": first.json()["id"]}) == 1


@examples(40)
@given(value=json_values)
def test_signed_but_malformed_bodies(signed: Server, value: Any) -> None:
    body = dumps(value)
    stamp = str(int(time.time()))
    headers = {"X-Pulse-Timestamp": stamp, "X-Pulse-Signature": sign(body, stamp)}
    deliver(signed, "webhook: signed, malformed body", body, headers=headers,
            expected=body_status(body))  # fmt: skip


def test_a_huge_timestamp_is_401_not_500(signed: Server) -> None:
    """Regression: int("1" + 400 zeros) minus a float overflowed (500) before the fix in
    infrastructure/webhooks/receiver.py (check_signature compares integers)."""
    body = dumps({"_model": "crm.lead", "_id": 1})
    headers = {"X-Pulse-Timestamp": "1" + "0" * 400, "X-Pulse-Signature": sign(body, "1")}
    deliver(signed, "webhook: bad/missing/stale signatures", body, headers=headers, expected=401)


# -- well-formed deliveries whose values a BSON document cannot hold ---------------------------

UNSTORABLE = {
    "NUL in a key": b'{"_model": "crm.lead", "_id": 1, "a\\u0000b": 1}',
    "lone surrogate": b'{"_model": "crm.lead", "_id": 1, "x": "\\ud800"}',
    "integer beyond 64 bits": b'{"_model": "crm.lead", "_id": 1, "x": 99999999999999999999}',
    "NaN (Python's json writes it)": b'{"_model": "crm.lead", "_id": 1, "x": NaN}',
    "nested deeper than MongoDB allows": (
        b'{"_model": "crm.lead", "_id": 1, "x": ' + b"[" * 900 + b"]" * 900 + b"}"
    ),
}


@pytest.mark.parametrize("case", sorted(UNSTORABLE))
def test_values_mongodb_cannot_store_are_accepted_with_their_raw_bytes(
    plain: Server, case: str
) -> None:
    """Valid JSON naming a real record: accepted (it says the record changed) and kept as
    the exact bytes received, since the parsed body cannot be a BSON document."""
    before = plain.inbox_count()
    response = plain.post_once(f"/webhooks/odoo/{TOKEN}", content=UNSTORABLE[case])
    TALLY.record("webhook: values a BSON document cannot hold", response.status_code)
    assert response.status_code == 202, response.text
    assert plain.inbox_count() - before == 1
    stored = plain.inbox_doc(response.json()["id"])
    assert stored["body"] is None and bytes(stored["body_raw"]) == UNSTORABLE[case]
    assert (stored["model"], stored["odoo_id"]) == ("crm.lead", 1)
