"""What a verified token says about its bearer, and the errors a refused token raises."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

AuthReason = Literal[
    "missing_token",  # no Authorization value at all
    "malformed_header",  # not "Bearer <token>"
    "malformed_token",  # not a decodable JWT
    "algorithm_not_allowed",  # "none", or an algorithm this server is not configured for
    "bad_signature",
    "expired",
    "not_yet_valid",  # nbf / iat in the future (beyond the leeway)
    "missing_claim",
    "invalid_claim",
    "invalid_subject",
    "invalid_audience",
    "invalid_issuer",
    "invalid_token",  # anything else the JWT library refuses
]

ADMIN_ROLE = "admin"
_MAX_EMAIL_LENGTH = 254  # RFC 5321 path limit


class AuthError(Exception):
    """A refused credential. ``message`` is safe to show and to log: it never contains the
    token, the secret or key material, only which check failed."""

    def __init__(self, reason_code: AuthReason, message: str) -> None:
        super().__init__(message)
        self.reason_code: AuthReason = reason_code
        self.message = message

    def __repr__(self) -> str:
        return f"AuthError({self.reason_code!r}, {self.message!r})"


@dataclass(frozen=True, slots=True)
class Claims:
    email: str  # the subject, trimmed and lower-cased
    roles: frozenset[str]  # lower-cased
    expires_at: datetime  # UTC; a subscription socket is closed at this instant
    raw: Mapping[str, Any]  # every claim as signed (read only)


def normalise_email(value: str) -> str:
    """Emails compare case-insensitively everywhere in Pulse: trim and lower-case them."""
    email = value.strip().lower()
    local, at, domain = email.rpartition("@")
    if not (at and local and domain) or len(email) > _MAX_EMAIL_LENGTH:
        raise ValueError("not an email address")
    if any(ch.isspace() for ch in email):
        raise ValueError("not an email address")
    return email


def is_admin(claims: Claims, admin_emails: Iterable[str]) -> bool:
    """An admin has the ``admin`` role in the token, or an email listed in
    ``PULSE_ADMIN_EMAILS`` (compared case-insensitively)."""
    if ADMIN_ROLE in claims.roles:
        return True
    return claims.email in {e.strip().lower() for e in admin_emails}
