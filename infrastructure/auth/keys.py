"""Which algorithms this server accepts, and the key each one is verified with.

The table is fixed at start-up from configuration, never from the token: a token's
``alg`` header only selects an entry, and an absent entry refuses the token. That is what
defeats ``alg: none`` and the HS/RS confusion (an HS256 token "signed" with the RSA public
key as the HMAC secret): HS256 is only ever verified with the configured secret.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import SecretStr

MIN_SECRET_BYTES = 32  # RFC 7518 §3.2: an HS256 key at least as long as the hash (256 bits)
MIN_RSA_BITS = 2048

VerificationKey = bytes | rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def secret_bytes(secret: SecretStr | str) -> bytes:
    value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
    key = value.encode()
    if len(key) < MIN_SECRET_BYTES:
        # The message names the rule, never the value.
        raise ValueError(f"the JWT secret must be at least {MIN_SECRET_BYTES} bytes long")
    return key


def load_public_key(pem: SecretStr | str) -> tuple[str, VerificationKey]:
    """``(algorithm, key)`` for a PEM public key: RSA gives RS256, P-256 gives ES256."""
    text = pem.get_secret_value() if isinstance(pem, SecretStr) else pem
    # Environment variables often carry PEM with literal "\n" sequences.
    text = text.strip().replace("\\n", "\n")
    try:
        key = serialization.load_pem_public_key(text.encode())
    except ValueError:
        raise ValueError("the JWT public key is not a PEM public key") from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise ValueError(f"the JWT RSA public key must have at least {MIN_RSA_BITS} bits")
        return "RS256", key
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("an EC JWT public key must be on P-256 (ES256)")
        return "ES256", key
    raise ValueError("the JWT public key must be RSA (RS256) or EC P-256 (ES256)")


def verification_keys(
    jwt_secret: SecretStr | str | None, jwt_public_key: SecretStr | str | None
) -> dict[str, VerificationKey]:
    keys: dict[str, VerificationKey] = {}
    if jwt_secret is not None:
        keys["HS256"] = secret_bytes(jwt_secret)
    if jwt_public_key is not None:
        algorithm, key = load_public_key(jwt_public_key)
        keys[algorithm] = key
    if not keys:
        raise ValueError("configure PULSE_JWT_SECRET or PULSE_JWT_PUBLIC_KEY to accept tokens")
    return keys
