"""Bearer-token verification (PRODUCT.md §5): one ``TokenVerifier`` per process.

Every refusal is an ``AuthError`` with a reason code and a fixed message. PyJWT's own
messages are not passed on and its exceptions are not chained (``from None``), so neither
logs nor GraphQL errors can ever echo a token or key material.
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, NoReturn

import jwt
from jwt.exceptions import InvalidSubjectError
from jwt.types import Options
from pydantic import SecretStr

from infrastructure.auth.claims import AuthError, AuthReason, Claims, normalise_email
from infrastructure.auth.keys import VerificationKey, verification_keys

MAX_TOKEN_LENGTH = 8192  # far above any sane JWT; refuses junk before parsing it
_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_ALG_NAME = re.compile(r"^[A-Za-z0-9]{1,16}$")


def _refuse(reason: AuthReason, message: str) -> NoReturn:
    # `from None`: a PyJWT exception being handled is not printed with ours.
    raise AuthError(reason, message) from None


def parse_authorization_header(value: str | None) -> str:
    """The token from ``Authorization: Bearer <token>`` (scheme case-insensitive)."""
    if value is None or not value.strip():
        _refuse("missing_token", "no bearer token was sent")
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        _refuse("malformed_header", 'the Authorization value must be "Bearer <token>"')
    return token


VERIFIED_TOKENS = 4096
"""Tokens a verifier remembers as verified (one per signed-in session, roughly)."""


class TokenVerifier:
    """Verifies HS256 tokens with a shared secret and/or RS256/ES256 ones with a PEM public
    key, per configuration. Raises ``ValueError`` at construction for unusable keys."""

    def __init__(
        self,
        jwt_secret: SecretStr | str | None = None,
        jwt_public_key: SecretStr | str | None = None,
        *,
        leeway: float = 0,
        audience: str | None = None,
        issuer: str | None = None,
    ) -> None:
        if leeway < 0:
            raise ValueError("leeway must not be negative")
        self._keys: dict[str, VerificationKey] = verification_keys(jwt_secret, jwt_public_key)
        self._leeway = leeway
        # token -> (its claims, the clock window in which they stand), oldest first.
        self._verified: dict[str, tuple[Claims, tuple[float, float]]] = {}
        self._audience = audience
        self._issuer = issuer
        required = ["exp", "sub"]
        required += ["aud"] if audience is not None else []
        required += ["iss"] if issuer is not None else []
        self._options: Options = {
            "require": required,
            # Audience/issuer are checked only when configured (PRODUCT.md §5).
            "verify_aud": audience is not None,
            "verify_iss": issuer is not None,
            "enforce_minimum_key_length": True,
        }

    @property
    def algorithms(self) -> frozenset[str]:
        return frozenset(self._keys)

    def __repr__(self) -> str:
        return f"TokenVerifier(algorithms={sorted(self._keys)})"

    def verify(self, token: str) -> Claims:
        """The token's claims, or ``AuthError``. A token verified before is answered from
        memory while the clock is inside the window its time claims allow (the same bounds
        PyJWT checks, leeway included); outside it, or for any other string, the token is
        verified in full. Keyed by the whole token, signature included, so a token differing
        in any byte is verified afresh. Verification is most of the CPU a session's requests
        spend on authentication (~0.3 ms of a ~2.7 ms `dashboard` request at 1,000 users),
        and a dashboard client sends the same token with every request."""
        known = self._verified.get(token) if isinstance(token, str) else None
        if known is not None:
            claims, (start, end) = known
            if start <= time.time() < end:
                return claims
            del self._verified[token]  # outside its window: verified in full, refused there
        claims, window = self._verify(token)
        if len(self._verified) >= VERIFIED_TOKENS:
            del self._verified[next(iter(self._verified))]  # the oldest verified
        self._verified[token] = (claims, window)
        return claims

    def _verify(self, token: str) -> tuple[Claims, tuple[float, float]]:
        key, algorithm = self._key_for(token)
        payload = self._decode(token, key, algorithm)
        start = -math.inf
        for claim in ("nbf", "iat"):
            if claim in payload:
                # PyJWT refuses the token while int(claim) > now + leeway.
                start = max(start, int(self._numeric(payload, claim)) - self._leeway)
        claims = Claims(
            email=self._subject(payload),
            roles=self._roles(payload),
            expires_at=self._expiry(payload),
            raw=MappingProxyType(payload),
        )
        # ... and once int(exp) <= now - leeway.
        end = int(self._numeric(payload, "exp")) + self._leeway
        return claims, (start, end)

    def _key_for(self, token: str) -> tuple[VerificationKey, str]:
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            _refuse("malformed_token", "the token is not a JWT")
        if not _JWT_SHAPE.match(token):
            _refuse("malformed_token", "the token is not a JWT")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            _refuse("malformed_token", "the token header cannot be decoded")
        algorithm = header.get("alg")
        if not isinstance(algorithm, str) or algorithm not in self._keys:
            named = isinstance(algorithm, str) and _ALG_NAME.match(algorithm)
            shown = repr(algorithm) if named else "its"  # echo only a plausible alg name
            _refuse(
                "algorithm_not_allowed",
                f"tokens signed with {shown} algorithm are not accepted "
                f"(accepted: {', '.join(sorted(self._keys))})",
            )
        return self._keys[algorithm], algorithm

    def _decode(self, token: str, key: VerificationKey, algorithm: str) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],  # exactly the one the key table chose
                options=self._options,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
            )
        except jwt.InvalidSignatureError:
            _refuse("bad_signature", "the token signature is not valid")
        except jwt.ExpiredSignatureError:
            _refuse("expired", "the token has expired")
        except jwt.ImmatureSignatureError:
            _refuse("not_yet_valid", "the token is not valid yet")
        except jwt.MissingRequiredClaimError as exc:
            _refuse("missing_claim", f"the token has no {exc.claim!r} claim")
        except jwt.InvalidAudienceError:
            _refuse("invalid_audience", "the token is not meant for this server (aud)")
        except jwt.InvalidIssuerError:
            _refuse("invalid_issuer", "the token was not issued by the configured issuer")
        except (jwt.InvalidIssuedAtError, InvalidSubjectError):
            _refuse("invalid_claim", "the token has a malformed iat or sub claim")
        except jwt.DecodeError:
            # Bad base64/JSON, and also a non-numeric exp/nbf.
            _refuse("malformed_token", "the token cannot be decoded")
        except jwt.PyJWTError:
            _refuse("invalid_token", "the token is not valid")

    def _subject(self, payload: dict[str, Any]) -> str:
        subject = payload.get("sub")
        if not isinstance(subject, str):
            _refuse("invalid_subject", "the token's sub claim must be an email address")
        try:
            return normalise_email(subject)
        except ValueError:
            _refuse("invalid_subject", "the token's sub claim must be an email address")

    def _roles(self, payload: dict[str, Any]) -> frozenset[str]:
        roles = payload.get("roles", [])
        if roles is None:
            return frozenset()
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            _refuse("invalid_claim", "the token's roles claim must be a list of strings")
        return frozenset(r.strip().lower() for r in roles if r.strip())

    def _expiry(self, payload: dict[str, Any]) -> datetime:
        try:
            return datetime.fromtimestamp(self._numeric(payload, "exp"), UTC)
        except (OverflowError, OSError, ValueError):  # beyond what a datetime can hold
            _refuse("invalid_claim", "the token's exp claim is out of range")

    def _numeric(self, payload: dict[str, Any], claim: str) -> float:
        # PyJWT accepts int("123"); a NumericDate is a JSON number (RFC 7519 §2).
        value = payload.get(claim)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            _refuse("invalid_claim", f"the token's {claim} claim must be a number")
        return float(value)
