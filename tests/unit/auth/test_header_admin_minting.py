"""The Authorization header, the admin rule, minting, and a property-based refusal check."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from infrastructure.auth import (
    AuthError,
    Claims,
    TokenVerifier,
    is_admin,
    mint_token,
    parse_authorization_header,
)
from tests.unit.auth.conftest import SECRET

VERIFIER = TokenVerifier(jwt_secret=SECRET)


@pytest.mark.parametrize(
    "value", ["Bearer tok.en.x", "bearer tok.en.x", "BEARER   tok.en.x  ", " Bearer tok.en.x"]
)
def test_bearer_scheme_is_case_insensitive(value: str) -> None:
    assert parse_authorization_header(value) == "tok.en.x"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_header(value: str | None) -> None:
    with pytest.raises(AuthError) as info:
        parse_authorization_header(value)
    assert info.value.reason_code == "missing_token"


@pytest.mark.parametrize(
    "value", ["Basic dXNlcjpwdw==", "Bearer", "Bearer ", "tok.en.x", "Bearer a b"]
)
def test_malformed_header(value: str) -> None:
    with pytest.raises(AuthError) as info:
        parse_authorization_header(value)
    assert info.value.reason_code == "malformed_header"
    assert "dXNlcjpwdw==" not in info.value.message


def make_claims(email: str, *roles: str) -> Claims:
    return Claims(email, frozenset(roles), datetime.now(UTC), {})


def test_admin_by_role() -> None:
    assert is_admin(make_claims("a@x.io", "admin"), set())


def test_admin_by_configured_email_case_insensitively() -> None:
    assert is_admin(make_claims("boss@x.io"), {" Boss@X.io "})
    assert not is_admin(make_claims("someone@x.io", "sales"), {"boss@x.io"})


def test_admin_end_to_end_through_a_token() -> None:
    claims = VERIFIER.verify(mint_token("Boss@X.io", secret=SECRET))
    assert is_admin(claims, {"boss@x.io"})
    assert not is_admin(claims, set())


def test_mint_token_claims() -> None:
    now = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    token = mint_token(
        " Carol@Example.com ",
        secret=SecretStr(SECRET),
        admin=True,
        ttl_seconds=120,
        roles=["Sales", "admin"],
        now=now,
    )
    payload = jwt.decode(
        token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert payload == {
        "sub": "carol@example.com",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=120)).timestamp()),
        "roles": ["admin", "sales"],
    }
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_mint_token_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="32 bytes") as info:
        mint_token("a@x.io", secret="short")
    assert "short" not in str(info.value).replace("32 bytes", "")
    with pytest.raises(ValueError, match="email"):
        mint_token("not-an-email", secret=SECRET)
    with pytest.raises(ValueError, match="ttl"):
        mint_token("a@x.io", secret=SECRET, ttl_seconds=0)


def test_minted_token_expires() -> None:
    past = datetime.now(UTC) - timedelta(hours=2)
    with pytest.raises(AuthError) as info:
        VERIFIER.verify(mint_token("a@x.io", secret=SECRET, ttl_seconds=60, now=past))
    assert info.value.reason_code == "expired"


# -- no input makes verification fail other than with an AuthError -----------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(), children),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_arbitrary_strings_only_ever_raise_auth_error(token: str) -> None:
    with pytest.raises(AuthError):
        VERIFIER.verify(token)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "sub": json_values | st.emails(),
            "exp": json_values | st.integers(int(time.time()), 2**40),
            "nbf": json_values,
            "iat": json_values,
            "roles": json_values | st.lists(st.text()),
            "aud": json_values,
        },
    )
)
def test_arbitrary_signed_claims_verify_or_raise_auth_error(payload: dict[str, Any]) -> None:
    token = jwt.encode(payload, SECRET, algorithm="HS256")
    outcome: Claims | AuthError
    try:
        outcome = VERIFIER.verify(token)
    except AuthError as error:
        outcome = error
    if isinstance(outcome, AuthError):
        assert token not in outcome.message
        return
    claims = outcome
    assert claims.email == claims.email.strip().lower() and "@" in claims.email
    assert claims.expires_at > datetime.now(UTC) - timedelta(seconds=5)
