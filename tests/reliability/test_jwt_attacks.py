"""Attacks on bearer tokens, against running servers, over HTTP and over the WebSocket's
``connection_init`` (PRODUCT.md §5).

A refused token gets UNAUTHENTICATED over HTTP and close code 4401 on a socket; a valid
token whose email is no active user gets FORBIDDEN / 4403. Neither the response nor any log
line of the server contains the token that was sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.integration.graphql.world import ADMIN_BY_ROLE, STRANGER
from tests.reliability.gql import JWT_SECRET, Company, check_answer, company
from tests.reliability.hostile import json_values
from tests.reliability.support import TALLY, examples

AUDIENCE = "pulse-api"
ISSUER = "https://id.example.com/"
WHO = "{ viewer { id } }"


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


RSA_KEY, OTHER_RSA_KEY = _rsa(), _rsa()
EC_KEY = ec.generate_private_key(ec.SECP256R1())
PUBLIC_PEM = (
    RSA_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


@pytest.fixture(scope="module")
def hs(mongo_url: str) -> Iterator[Company]:
    with company(mongo_url) as seeded:
        yield seeded


@pytest.fixture(scope="module")
def rs(mongo_url: str) -> Iterator[Company]:
    """Configured with an RSA public key only (the HS/RS confusion target)."""
    with company(mongo_url, jwt_secret=None, jwt_public_key=PUBLIC_PEM) as seeded:
        yield seeded


@pytest.fixture(scope="module")
def aud(mongo_url: str) -> Iterator[Company]:
    """Configured with PULSE_JWT_AUDIENCE and PULSE_JWT_ISSUER."""
    with company(mongo_url, jwt_audience=AUDIENCE, jwt_issuer=ISSUER) as seeded:
        yield seeded


# -- token makers ------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def raw_token(header: Any, payload: Any, signature: bytes = b"") -> str:
    return ".".join(
        [b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), b64(signature)]
    )


def hs_signed(header: dict[str, Any], payload: dict[str, Any], key: bytes) -> str:
    """HS256 by hand: PyJWT refuses to use a PEM key as an HMAC secret, attackers do not."""
    signing = raw_token(header, payload).rsplit(".", 1)[0]
    signature = hmac.new(key, signing.encode(), hashlib.sha256).digest()
    return f"{signing}.{b64(signature)}"


def claims(email: str, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": email, "iat": now, "exp": now + 600, **extra}


def http_code(live: Company, token: str, case: str) -> str | None:
    response = live.server.http.post(
        live.graphql, json={"query": WHO}, headers={"Authorization": f"Bearer {token}"}
    )
    body = check_answer(f"jwt over HTTP: {case}", response, WHO, live.server, also_secret=(token,))
    assert body is not None
    errors = body.get("errors") or []
    return errors[0]["extensions"]["code"] if errors else None


def ws_close_code(live: Company, token: str, case: str) -> int | None:
    """The close code of a socket whose connection_init carries ``token``; None if acked."""
    with connect(live.ws, subprotocols=["graphql-transport-ws"], open_timeout=5) as ws:  # type: ignore[list-item]
        ws.send(json.dumps({"type": "connection_init",
                            "payload": {"Authorization": f"Bearer {token}"}}))  # fmt: skip
        try:
            message = json.loads(ws.recv(timeout=5))
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
            reason = closed.rcvd.reason if closed.rcvd is not None else ""
            assert token not in reason
            TALLY.record(f"jwt over WebSocket: {case}", 101, leaked=int(token in reason))
            return code
        TALLY.record(f"jwt over WebSocket: {case}", 101)
        assert message["type"] == "connection_ack", message
        return None


def assert_refused(
    live: Company, token: str, case: str, code: str = "UNAUTHENTICATED",
    caplog: pytest.LogCaptureFixture | None = None,
) -> None:  # fmt: skip
    assert http_code(live, token, case) == code, case
    assert ws_close_code(live, token, case) == (4401 if code == "UNAUTHENTICATED" else 4403)
    if caplog is not None:
        logged = [r for r in caplog.records if token in r.getMessage()]
        assert not logged, f"{case}: the token reached the log: {logged[0].getMessage()[:200]}"


# -- the attacks -------------------------------------------------------------------------------


def test_the_controls_are_accepted(hs: Company, rs: Company, aud: Company) -> None:
    email = hs.world["ana"].email
    assert http_code(hs, hs.token("ana"), "control") is None
    assert ws_close_code(hs, hs.token("ana"), "control") is None
    good_rs = jwt.encode(claims(rs.world["ana"].email), RSA_KEY, algorithm="RS256")
    assert http_code(rs, good_rs, "control") is None
    assert ws_close_code(rs, good_rs, "control") is None
    good_aud = jwt.encode(
        claims(aud.world["ana"].email, aud=AUDIENCE, iss=ISSUER), JWT_SECRET.encode(), "HS256"
    )
    assert http_code(aud, good_aud, "control") is None
    assert email  # the same world shape on every server


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", ""])
@pytest.mark.parametrize("signature", [b"", b"x"])
def test_alg_none(
    hs: Company, caplog: pytest.LogCaptureFixture, alg: str, signature: bytes
) -> None:
    caplog.set_level(logging.INFO)
    payload = claims(hs.world["maya"].email, roles=["admin"])
    assert_refused(hs, raw_token({"alg": alg, "typ": "JWT"}, payload, signature), "alg none",
                   caplog=caplog)  # fmt: skip


@pytest.mark.parametrize(
    "key",
    [PUBLIC_PEM.encode(), PUBLIC_PEM.strip().encode(), PUBLIC_PEM.replace("\n", "\\n").encode(),
     RSA_KEY.public_key().public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)],
    ids=["pem", "pem stripped", "pem escaped", "der"],
)  # fmt: skip
def test_hs_rs_confusion(rs: Company, caplog: pytest.LogCaptureFixture, key: bytes) -> None:
    caplog.set_level(logging.INFO)
    token = hs_signed({"alg": "HS256", "typ": "JWT"}, claims(ADMIN_BY_ROLE, roles=["admin"]), key)
    assert_refused(rs, token, "HS/RS confusion", caplog=caplog)


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_other_keys_and_algorithms(hs: Company, rs: Company) -> None:
    email = rs.world["ana"].email
    assert_refused(rs, jwt.encode(claims(email), OTHER_RSA_KEY, algorithm="RS256"), "wrong key")
    assert_refused(rs, jwt.encode(claims(email), EC_KEY, algorithm="ES256"), "wrong algorithm")
    assert_refused(rs, jwt.encode(claims(email), RSA_KEY, algorithm="RS512"), "wrong algorithm")
    hs_email = hs.world["ana"].email
    assert_refused(hs, jwt.encode(claims(hs_email), RSA_KEY, algorithm="RS256"), "wrong algorithm")
    for alg in ("HS384", "HS512"):
        token = jwt.encode(claims(hs_email), JWT_SECRET.encode(), algorithm=alg)
        assert_refused(hs, token, "wrong algorithm")


@pytest.mark.parametrize(
    ("case", "extra"),
    [
        ("expired", {"exp": int(time.time()) - 1}),
        ("expired", {"exp": int(time.time()) - 86_400}),
        ("expired", {"exp": 0}),
        ("not yet valid", {"nbf": int(time.time()) + 3_600}),
        ("not yet valid", {"iat": int(time.time()) + 3_600}),
        ("malformed claims", {"exp": "tomorrow"}),
        ("malformed claims", {"exp": 1e30}),
        ("malformed claims", {"exp": None}),
        ("malformed claims", {"sub": "not an email"}),
        ("malformed claims", {"sub": ["a@b.c"]}),
        ("malformed claims", {"roles": "admin"}),
    ],
)
def test_times_and_claims(
    hs: Company, caplog: pytest.LogCaptureFixture, case: str, extra: dict[str, Any]
) -> None:
    caplog.set_level(logging.INFO)
    token = jwt.encode({**claims(hs.world["ana"].email), **extra}, JWT_SECRET.encode(), "HS256")
    assert_refused(hs, token, case, caplog=caplog)


def test_missing_exp(hs: Company) -> None:
    payload = {"sub": hs.world["ana"].email}
    assert_refused(hs, jwt.encode(payload, JWT_SECRET.encode(), "HS256"), "malformed claims")


@pytest.mark.parametrize("audience", [None, "other", ["other", "another"]])
def test_wrong_audience(aud: Company, audience: Any) -> None:
    extra = {"iss": ISSUER} if audience is None else {"aud": audience, "iss": ISSUER}
    token = jwt.encode(claims(aud.world["ana"].email, **extra), JWT_SECRET.encode(), "HS256")
    assert_refused(aud, token, "wrong audience")


@pytest.mark.parametrize("issuer", [None, "https://evil.example.com/", ISSUER.upper()])
def test_wrong_issuer(aud: Company, issuer: Any) -> None:
    extra = {"aud": AUDIENCE} if issuer is None else {"aud": AUDIENCE, "iss": issuer}
    token = jwt.encode(claims(aud.world["ana"].email, **extra), JWT_SECRET.encode(), "HS256")
    assert_refused(aud, token, "wrong issuer")


def _tamper(token: str, change: dict[str, Any]) -> str:
    header, payload, signature = token.split(".")
    claims_ = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return ".".join([header, b64(json.dumps({**claims_, **change}).encode()), signature])


@pytest.mark.parametrize(
    "change",
    [{"roles": ["admin"]}, {"sub": ADMIN_BY_ROLE}, {"exp": 2**31}, {"sub": "MAYA"}],
    ids=["roles", "sub", "exp", "sub of another"],
)
def test_tampered_payload(hs: Company, caplog: pytest.LogCaptureFixture, change: Any) -> None:
    caplog.set_level(logging.INFO)
    if change.get("sub") == "MAYA":
        change = {"sub": hs.world["maya"].email}
    assert_refused(hs, _tamper(hs.token("ana"), change), "tampered payload", caplog=caplog)


@pytest.mark.parametrize(
    "case",
    ["signature stripped", "signature of another token", "truncated", "extra segment",
     "header swapped"],
)  # fmt: skip
def test_tampered_structure(hs: Company, case: str) -> None:
    token = hs.token("ana")
    header, payload, signature = token.split(".")
    forged = {
        "signature stripped": f"{header}.{payload}.",
        "signature of another token": f"{header}.{payload}.{hs.token('ben').split('.')[2]}",
        "truncated": token[: len(token) // 2],
        "extra segment": f"{token}.{signature}",
        "header swapped": f"{b64(json.dumps({'alg': 'HS512', 'typ': 'JWT'}).encode())}"
        f".{payload}.{signature}",
    }[case]
    assert_refused(hs, forged, "tampered structure")


@pytest.mark.parametrize("who", ["stranger", "archived user"])
def test_a_valid_token_for_no_active_user_is_forbidden(hs: Company, who: str) -> None:
    email = STRANGER if who == "stranger" else hs.world["dora"].email
    token = jwt.encode(claims(email), JWT_SECRET.encode(), "HS256")
    assert_refused(hs, token, "no active user", code="FORBIDDEN")


@examples(60)
@given(
    header=st.one_of(json_values, st.fixed_dictionaries({"alg": st.sampled_from(
        ["HS256", "none", "RS256", "ES256", "hs256", ""])}, optional={"kid": json_values})),
    payload=json_values,
    signature=st.binary(max_size=64),
)  # fmt: skip
def test_random_tokens_are_unauthenticated(
    hs: Company, header: Any, payload: Any, signature: bytes
) -> None:
    token = raw_token(header, payload, signature)
    assert http_code(hs, token, "random tokens") == "UNAUTHENTICATED"


@examples(60)
@given(data=st.data())
def test_flipped_characters(hs: Company, data: st.DataObject) -> None:
    token = hs.token("ana")
    at = data.draw(st.integers(0, len(token) - 1))
    char = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0189-_."))
    forged = token[:at] + char + token[at + 1 :]
    code = http_code(hs, forged, "flipped characters")
    try:  # base64url's last character carries padding bits: some flips decode the same
        same = jwt.decode(forged, JWT_SECRET.encode(), algorithms=["HS256"]) == jwt.decode(
            token, JWT_SECRET.encode(), algorithms=["HS256"]
        )
    except jwt.PyJWTError:
        same = False
    assert code == (None if same else "UNAUTHENTICATED"), (at, char)
