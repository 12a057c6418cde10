"""Keys generated per test session (nothing checked in), and a token crafting helper."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

# 64 bytes: long enough that PyJWT does not warn even when the tests sign HS512 with it.
SECRET = "test-secret-0123456789-abcdefghij-KLMNOPQRSTUVWXYZ-0123456789-xy"


@dataclass(frozen=True)
class KeyPair:
    private_pem: bytes
    public_pem: str


def _pair(private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> KeyPair:
    return KeyPair(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
    )


@pytest.fixture(scope="session")
def rsa_keys() -> KeyPair:
    return _pair(rsa.generate_private_key(public_exponent=65537, key_size=2048))


@pytest.fixture(scope="session")
def ec_keys() -> KeyPair:
    return _pair(ec.generate_private_key(ec.SECP256R1()))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def craft(header: dict[str, Any], payload: dict[str, Any], hmac_key: bytes | None = None) -> str:
    """A token built by hand, for what PyJWT refuses to produce (alg none, PEM as HMAC key)."""
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload)
    )
    signature = b""
    if hmac_key is not None:
        signature = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"
