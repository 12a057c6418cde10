"""TokenVerifier: valid tokens of each configured kind pass, every attack is refused."""

from __future__ import annotations

import time
import traceback
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest

from infrastructure.auth import AuthError, Claims, TokenVerifier, mint_token
from infrastructure.auth import verifier as verifier_module
from tests.unit.auth.conftest import SECRET, KeyPair, craft

EMAIL = "alice@example.com"


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {"sub": EMAIL, "iat": now, "exp": now + 600}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def hs256(payload: dict[str, Any], secret: str = SECRET, **headers: Any) -> str:
    return jwt.encode(payload, secret, algorithm="HS256", headers=headers or None)


def refused(verifier: TokenVerifier, token: str, reason: str) -> AuthError:
    with pytest.raises(AuthError) as info:
        verifier.verify(token)
    assert info.value.reason_code == reason, info.value
    # Whatever went wrong, neither the token nor the secret appears anywhere in the error,
    # including a chained exception that a log handler would print.
    printed = "".join(traceback.format_exception(info.value))
    for text in (str(info.value), repr(info.value), info.value.message, printed):
        assert token not in text
        assert SECRET not in text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    return info.value


@pytest.fixture
def hs_verifier() -> TokenVerifier:
    return TokenVerifier(jwt_secret=SECRET)


# -- accepted ----------------------------------------------------------------------------


def test_valid_hs256_token(hs_verifier: TokenVerifier) -> None:
    exp = int(time.time()) + 600
    result = hs_verifier.verify(hs256(claims(exp=exp, roles=["Admin", " sales "])))
    assert result == Claims(
        email=EMAIL,
        roles=frozenset({"admin", "sales"}),
        expires_at=datetime.fromtimestamp(exp, UTC),
        raw=result.raw,
    )
    assert result.raw["sub"] == EMAIL


def test_valid_rs256_token(rsa_keys: KeyPair) -> None:
    verifier = TokenVerifier(jwt_public_key=rsa_keys.public_pem)
    token = jwt.encode(claims(), rsa_keys.private_pem, algorithm="RS256")
    assert verifier.verify(token).email == EMAIL
    assert verifier.algorithms == {"RS256"}


def test_valid_es256_token(ec_keys: KeyPair) -> None:
    verifier = TokenVerifier(jwt_public_key=ec_keys.public_pem)
    token = jwt.encode(claims(), ec_keys.private_pem, algorithm="ES256")
    assert verifier.verify(token).email == EMAIL
    assert verifier.algorithms == {"ES256"}


def test_secret_and_public_key_together_accept_both(rsa_keys: KeyPair) -> None:
    verifier = TokenVerifier(jwt_secret=SECRET, jwt_public_key=rsa_keys.public_pem)
    assert verifier.verify(hs256(claims())).email == EMAIL
    assert verifier.verify(jwt.encode(claims(), rsa_keys.private_pem, "RS256")).email == EMAIL


def test_pem_with_escaped_newlines_from_an_env_var(rsa_keys: KeyPair) -> None:
    verifier = TokenVerifier(jwt_public_key=rsa_keys.public_pem.replace("\n", "\\n"))
    assert verifier.verify(jwt.encode(claims(), rsa_keys.private_pem, "RS256")).email == EMAIL


def test_subject_is_case_insensitive(hs_verifier: TokenVerifier) -> None:
    assert hs_verifier.verify(hs256(claims(sub="  Alice@Example.COM "))).email == EMAIL


def test_roles_are_optional(hs_verifier: TokenVerifier) -> None:
    assert hs_verifier.verify(hs256(claims())).roles == frozenset()
    assert hs_verifier.verify(hs256(claims(roles=[]))).roles == frozenset()


def test_minted_tokens_verify(hs_verifier: TokenVerifier) -> None:
    result = hs_verifier.verify(mint_token(" Bob@Example.com", secret=SECRET, admin=True))
    assert (result.email, result.roles) == ("bob@example.com", frozenset({"admin"}))


# -- refused: algorithms -----------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_is_refused(hs_verifier: TokenVerifier, alg: str) -> None:
    token = craft({"alg": alg, "typ": "JWT"}, claims())
    refused(hs_verifier, token, "algorithm_not_allowed")
    refused(hs_verifier, token + "c2ln", "algorithm_not_allowed")  # with a bogus signature


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
def test_unconfigured_hmac_variants_are_refused(hs_verifier: TokenVerifier, alg: str) -> None:
    refused(hs_verifier, jwt.encode(claims(), SECRET, algorithm=alg), "algorithm_not_allowed")


def test_rs256_token_refused_when_only_a_secret_is_configured(
    hs_verifier: TokenVerifier, rsa_keys: KeyPair
) -> None:
    token = jwt.encode(claims(), rsa_keys.private_pem, algorithm="RS256")
    refused(hs_verifier, token, "algorithm_not_allowed")


def test_hs256_token_refused_when_only_a_public_key_is_configured(rsa_keys: KeyPair) -> None:
    verifier = TokenVerifier(jwt_public_key=rsa_keys.public_pem)
    refused(verifier, hs256(claims()), "algorithm_not_allowed")


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256"])
def test_other_rsa_algorithms_refused(rsa_keys: KeyPair, alg: str) -> None:
    verifier = TokenVerifier(jwt_public_key=rsa_keys.public_pem)
    token = jwt.encode(claims(), rsa_keys.private_pem, algorithm=alg)
    refused(verifier, token, "algorithm_not_allowed")


def test_es256_token_refused_when_an_rsa_key_is_configured(
    rsa_keys: KeyPair, ec_keys: KeyPair
) -> None:
    verifier = TokenVerifier(jwt_public_key=rsa_keys.public_pem)
    token = jwt.encode(claims(), ec_keys.private_pem, algorithm="ES256")
    refused(verifier, token, "algorithm_not_allowed")


def test_hs_rs_confusion_is_refused(rsa_keys: KeyPair) -> None:
    """The classic attack: HS256 with the (public!) RSA key as the HMAC secret."""
    public = rsa_keys.public_pem.encode()
    forged = craft({"alg": "HS256", "typ": "JWT"}, claims(roles=["admin"]), hmac_key=public)
    refused(TokenVerifier(jwt_public_key=rsa_keys.public_pem), forged, "algorithm_not_allowed")
    # With a secret configured too, HS256 is verified with the secret, never the PEM.
    both = TokenVerifier(jwt_secret=SECRET, jwt_public_key=rsa_keys.public_pem)
    refused(both, forged, "bad_signature")


def test_rs256_token_signed_by_another_key_is_refused(rsa_keys: KeyPair) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    verifier = TokenVerifier(jwt_public_key=rsa_keys.public_pem)
    refused(verifier, jwt.encode(claims(), other, algorithm="RS256"), "bad_signature")


# -- refused: time -----------------------------------------------------------------------


def test_expired_is_refused(hs_verifier: TokenVerifier) -> None:
    refused(hs_verifier, hs256(claims(exp=int(time.time()) - 5)), "expired")


def test_leeway_tolerates_small_clock_skew() -> None:
    lenient = TokenVerifier(jwt_secret=SECRET, leeway=60)
    now = int(time.time())
    assert lenient.verify(hs256(claims(exp=now - 30))).email == EMAIL
    assert lenient.verify(hs256(claims(nbf=now + 30))).email == EMAIL
    refused(lenient, hs256(claims(exp=now - 120)), "expired")
    refused(lenient, hs256(claims(nbf=now + 120)), "not_yet_valid")


def test_not_yet_valid_is_refused(hs_verifier: TokenVerifier) -> None:
    refused(hs_verifier, hs256(claims(nbf=int(time.time()) + 300)), "not_yet_valid")
    refused(hs_verifier, hs256(claims(iat=int(time.time()) + 300)), "not_yet_valid")


def test_exp_is_required(hs_verifier: TokenVerifier) -> None:
    error = refused(hs_verifier, hs256({"sub": EMAIL}), "missing_claim")
    assert "'exp'" in error.message


@pytest.mark.parametrize("exp", ["9999999999", True, 1e300, 10**20])
def test_exp_must_be_a_usable_number(hs_verifier: TokenVerifier, exp: Any) -> None:
    with pytest.raises(AuthError) as info:
        hs_verifier.verify(hs256(claims(exp=exp)))
    assert info.value.reason_code in {"invalid_claim", "malformed_token", "expired"}


def test_nbf_and_iat_must_be_numbers(hs_verifier: TokenVerifier) -> None:
    with pytest.raises(AuthError):
        hs_verifier.verify(hs256(claims(nbf="0")))
    with pytest.raises(AuthError):
        hs_verifier.verify(hs256(claims(iat="0")))


# -- refused: integrity and shape --------------------------------------------------------


def test_tampered_payload_is_refused(hs_verifier: TokenVerifier) -> None:
    header, _, signature = hs256(claims()).split(".")
    _, forged_payload, _ = hs256(claims(sub="mallory@example.com", roles=["admin"])).split(".")
    refused(hs_verifier, f"{header}.{forged_payload}.{signature}", "bad_signature")


def test_tampered_signature_is_refused(hs_verifier: TokenVerifier) -> None:
    token = hs256(claims())
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    refused(hs_verifier, flipped, "bad_signature")


def test_wrong_secret_is_refused(hs_verifier: TokenVerifier) -> None:
    refused(
        hs_verifier, hs256(claims(), secret="another-secret-0123456789-abcdefghij"), "bad_signature"
    )


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "not a token",
        "eyJ.eyJ.sig",
        "!!!.???.###",
        "x" * 10_000,
        craft({"alg": "HS256"}, {}).replace(".", "..", 1),
    ],
)
def test_malformed_tokens_are_refused(hs_verifier: TokenVerifier, token: str) -> None:
    with pytest.raises(AuthError) as info:
        hs_verifier.verify(token)
    assert info.value.reason_code in {"malformed_token", "algorithm_not_allowed"}


def test_header_that_is_not_a_json_object_is_refused(hs_verifier: TokenVerifier) -> None:
    from tests.unit.auth.conftest import b64url

    token = f"{b64url(b'[1,2]')}.{b64url(b'{}')}.c2ln"
    refused(hs_verifier, token, "malformed_token")


def test_missing_sub_is_refused(hs_verifier: TokenVerifier) -> None:
    error = refused(hs_verifier, hs256(claims(sub=None)), "missing_claim")
    assert "'sub'" in error.message


@pytest.mark.parametrize("sub", ["", "   ", "alice", "@example.com", "alice@", "a b@example.com"])
def test_sub_must_be_an_email(hs_verifier: TokenVerifier, sub: str) -> None:
    with pytest.raises(AuthError) as info:
        hs_verifier.verify(hs256(claims(sub=sub)))
    assert info.value.reason_code in {"invalid_subject", "missing_claim"}


def test_sub_must_be_a_string(hs_verifier: TokenVerifier) -> None:
    refused(hs_verifier, hs256(claims(sub=42)), "invalid_claim")


@pytest.mark.parametrize("roles", ["admin", [1, 2], {"admin": True}, ["admin", None]])
def test_roles_must_be_a_list_of_strings(hs_verifier: TokenVerifier, roles: Any) -> None:
    refused(hs_verifier, hs256(claims(roles=roles)), "invalid_claim")


# -- audience and issuer -----------------------------------------------------------------


def test_audience_and_issuer_enforced_when_configured() -> None:
    verifier = TokenVerifier(jwt_secret=SECRET, audience="pulse", issuer="https://idp")
    good = claims(aud="pulse", iss="https://idp")
    assert verifier.verify(hs256(good)).email == EMAIL
    assert verifier.verify(hs256({**good, "aud": ["other", "pulse"]})).email == EMAIL
    refused(verifier, hs256({**good, "aud": "other"}), "invalid_audience")
    refused(verifier, hs256({**good, "iss": "https://evil"}), "invalid_issuer")
    refused(verifier, hs256(claims(iss="https://idp")), "missing_claim")  # no aud
    refused(verifier, hs256(claims(aud="pulse")), "missing_claim")  # no iss


def test_audience_and_issuer_ignored_when_not_configured(hs_verifier: TokenVerifier) -> None:
    assert hs_verifier.verify(hs256(claims(aud="anything", iss="anyone"))).email == EMAIL


# -- configuration -----------------------------------------------------------------------


def test_configuration_errors_never_echo_key_material(rsa_keys: KeyPair, ec_keys: KeyPair) -> None:
    short = "too-short-secret"
    cases: list[dict[str, Any]] = [
        {},
        {"jwt_secret": short},
        {"jwt_public_key": "-----BEGIN PUBLIC KEY-----\nnot really\n-----END PUBLIC KEY-----"},
        {"jwt_public_key": rsa_keys.private_pem.decode()},  # a private key is not accepted
        {"jwt_secret": SECRET, "leeway": -1},
    ]
    for options in cases:
        with pytest.raises(ValueError) as info:
            TokenVerifier(**options)
        assert short not in str(info.value)
        assert "PRIVATE" not in str(info.value) and "not really" not in str(info.value)


def test_weak_asymmetric_keys_are_refused_at_start_up() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
        return (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    with pytest.raises(ValueError, match="2048"):
        TokenVerifier(jwt_public_key=public_pem(rsa.generate_private_key(65537, 1024)))
    with pytest.raises(ValueError, match="P-256"):
        TokenVerifier(jwt_public_key=public_pem(ec.generate_private_key(ec.SECP384R1())))


def test_repr_shows_no_secret() -> None:
    assert SECRET not in repr(TokenVerifier(jwt_secret=SECRET))


# -- tokens verified before ----------------------------------------------------------------


class Clock:
    """Moves both clocks a token is checked against: the verifier's memory (``time.time``)
    and PyJWT's (``datetime.now``)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = 0.0
        clock = self
        real_time = time.time

        class Shifted(datetime):
            @classmethod
            def now(cls, tz: Any = None) -> Any:
                return datetime.fromtimestamp(real_time() + clock.offset, tz)

        monkeypatch.setattr(verifier_module.time, "time", lambda: real_time() + clock.offset)
        monkeypatch.setattr(jwt.api_jwt, "datetime", Shifted)


def test_a_verified_token_is_answered_from_memory(
    hs_verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = hs256(claims(roles=["admin"]))
    first = hs_verifier.verify(token)
    decoded: list[str] = []
    real = jwt.decode
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: decoded.append("x") or real(*a, **k))
    assert hs_verifier.verify(token) == first and decoded == []
    # Any other byte is another token, verified in full (and here refused).
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    refused(hs_verifier, flipped, "bad_signature")
    assert decoded == ["x"]


@pytest.mark.parametrize("leeway", [0, 30])
def test_a_remembered_token_is_refused_once_it_expires(
    monkeypatch: pytest.MonkeyPatch, leeway: int
) -> None:
    clock = Clock(monkeypatch)
    verifier = TokenVerifier(jwt_secret=SECRET, leeway=leeway)
    exp = int(time.time()) + 60
    token = hs256(claims(exp=exp))
    assert verifier.verify(token).email == EMAIL
    clock.offset = exp + leeway - time.time() - 1  # a second before the end of its window
    assert verifier.verify(token).email == EMAIL
    clock.offset += 2  # a second after
    refused(verifier, token, "expired")
    refused(verifier, token, "expired")  # and not remembered as verified


def test_a_token_refused_as_not_yet_valid_is_not_remembered(
    hs_verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(monkeypatch)
    token = hs256(claims(nbf=int(time.time()) + 100))
    refused(hs_verifier, token, "not_yet_valid")
    clock.offset = 101
    assert hs_verifier.verify(token).email == EMAIL
    clock.offset = 0  # a clock set back: outside the window again, verified in full
    refused(hs_verifier, token, "not_yet_valid")


def test_the_memory_of_verified_tokens_is_bounded(
    hs_verifier: TokenVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(verifier_module, "VERIFIED_TOKENS", 3)
    tokens = [hs256(claims(sub=f"user{i}@example.com")) for i in range(5)]
    for token in tokens:
        hs_verifier.verify(token)
    assert list(hs_verifier._verified) == tokens[2:]  # the oldest forgotten first


@pytest.mark.parametrize("token", [None, ["a.b.c"], {"a": 1}, 42])
def test_a_token_that_is_not_a_string_is_refused(hs_verifier: TokenVerifier, token: Any) -> None:
    with pytest.raises(AuthError) as info:
        hs_verifier.verify(token)
    assert info.value.reason_code == "malformed_token"
