"""Endpoint secrets: minted as ``whsec_…`` and stored only sealed (AES-256-GCM under a key derived
with HKDF-SHA256 from the server secret), since signing needs the secret itself, not a digest."""

from __future__ import annotations

import base64
import os
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
# 32 random bytes: the Standard Webhooks secret is 24-64 bytes, base64 after the prefix.
SECRET_BYTES = 32
NONCE_BYTES = 12
KEY_INFO = b"agentkeys webhook endpoint secrets v1"


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


class SecretBox:
    """Seals and opens endpoint secrets. The endpoint's id is the associated data, so a sealed
    secret copied onto another endpoint's row does not open."""

    def __init__(self, server_secret: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_INFO).derive(
            server_secret
        )
        self._aead = AESGCM(key)

    def seal(self, secret: str, *, endpoint_id: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, secret.encode("utf-8"), endpoint_id.encode("utf-8"))
        return base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str, *, endpoint_id: str) -> str:
        raw = base64.b64decode(sealed)
        opened = self._aead.decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], endpoint_id.encode("utf-8")
        )
        return opened.decode("utf-8")
