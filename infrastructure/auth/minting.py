"""Minting HS256 tokens for development: ``pulse token EMAIL [--admin]`` and ``pulse demo``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import jwt
from pydantic import SecretStr

from infrastructure.auth.claims import ADMIN_ROLE, normalise_email
from infrastructure.auth.keys import secret_bytes

DEFAULT_TTL_SECONDS = 8 * 3600  # a working day


def mint_token(
    email: str,
    *,
    secret: SecretStr | str,
    admin: bool = False,
    ttl_seconds: int = DEFAULT_TTL_SECONDS,
    roles: Iterable[str] = (),
    audience: str | None = None,
    issuer: str | None = None,
    now: datetime | None = None,
) -> str:
    """A signed token whose claims ``TokenVerifier`` accepts (same normalisation rules)."""
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    issued_at = int((now or datetime.now(UTC)).timestamp())
    granted = {r.strip().lower() for r in roles if r.strip()}
    if admin:
        granted.add(ADMIN_ROLE)
    claims: dict[str, Any] = {
        "sub": normalise_email(email),
        "iat": issued_at,
        "exp": issued_at + ttl_seconds,
        "roles": sorted(granted),
    }
    if audience is not None:
        claims["aud"] = audience
    if issuer is not None:
        claims["iss"] = issuer
    return jwt.encode(claims, secret_bytes(secret), algorithm="HS256")
