"""Authentication: bearer JWTs (PRODUCT.md §5). Pure verification; no I/O, no globals.

Build one ``TokenVerifier`` from settings at start-up and share it; the HTTP and WebSocket
layers call ``parse_authorization_header`` then ``verifier.verify`` and map any
``AuthError`` to ``UNAUTHENTICATED`` (logging ``reason_code``, never the token).
"""

from infrastructure.auth.claims import (
    ADMIN_ROLE,
    AuthError,
    AuthReason,
    Claims,
    is_admin,
    normalise_email,
)
from infrastructure.auth.minting import DEFAULT_TTL_SECONDS, mint_token
from infrastructure.auth.verifier import TokenVerifier, parse_authorization_header

__all__ = [
    "ADMIN_ROLE",
    "DEFAULT_TTL_SECONDS",
    "AuthError",
    "AuthReason",
    "Claims",
    "TokenVerifier",
    "is_admin",
    "mint_token",
    "normalise_email",
    "parse_authorization_header",
]
