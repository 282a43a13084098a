"""The Idempotency-Key header, its lookup digest and the sealed replay. Pure: no I/O.

The replay of an issuance holds the secret it minted, so it is stored sealed (AES-256-GCM)
under a key derived (HKDF-SHA256) from the server secret *and* the Idempotency-Key, which is
stored only as an HMAC digest: a database dump alone cannot open a replay.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from agentkeys.errors import FieldError, ValidationFailed

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
NONCE_BYTES = 12
_SEAL_INFO = b"agentkeys idempotency replay v1"
_LOOKUP_LABEL = b"agentkeys idempotency key v1\x00"
_CALLER_LABEL = b"agentkeys idempotency caller v1\x00"
# Headers of the first answer a replay repeats: those describing its body and its caching.
# Per-request ones (X-Request-Id of the retry, RateLimit-*) are the retry's own.
REPLAYED_HEADERS = frozenset({"content-type", "cache-control", "retry-after", "location"})


def parse_key(values: list[str]) -> str:
    """The key of the header's values: 1-255 printable ASCII characters, bare (Stripe) or as
    the draft's quoted string (``"…"``, quotes removed). Anything else: 400 naming the header."""
    if len(values) != 1:
        raise _invalid(f"send the header once, not {len(values)} times")
    value = values[0]
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
    if not 1 <= len(value) <= MAX_KEY_LENGTH:
        raise _invalid(f"must be 1 to {MAX_KEY_LENGTH} characters")
    if not all(" " <= character <= "~" for character in value) or '"' in value:
        raise _invalid("must be printable ASCII characters (no quote inside)")
    return value


def _invalid(why: str) -> ValidationFailed:
    return ValidationFailed([FieldError(HEADER, f"The {HEADER} header {why}.")])


def key_digest(server_secret: bytes, key: str) -> str:
    """What is stored of the key: HMAC-SHA256 under the server secret (hex)."""
    return hmac.new(server_secret, _LOOKUP_LABEL + key.encode("ascii"), hashlib.sha256).hexdigest()


def caller_digest(server_secret: bytes, credentials: str) -> str:
    """Who called, from the key(s) presented: the HMAC of what they sent, never the key."""
    digest = hmac.new(server_secret, _CALLER_LABEL + credentials.encode(), hashlib.sha256)
    return "key:" + digest.hexdigest()


def body_digest(body: bytes) -> str:
    """The request body's fingerprint: a retry must send the same bytes."""
    return hashlib.sha256(body).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The first answer, as replayed: status, the headers worth repeating, the body."""

    status: int
    headers: dict[str, str]
    body: bytes


def _sealing_key(server_secret: bytes, key: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=key.encode("ascii"), info=_SEAL_INFO
    ).derive(server_secret)


def seal(answer: StoredAnswer, *, server_secret: bytes, key: str, digest: str) -> bytes:
    """nonce || AES-GCM(answer), bound to its lookup digest (a row's replay cannot be moved
    to another row)."""
    plain = json.dumps(
        {"status": answer.status, "headers": answer.headers, "body": answer.body.hex()}
    ).encode()
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_sealing_key(server_secret, key)).encrypt(nonce, plain, digest.encode())
    return nonce + sealed


def unseal(sealed: bytes, *, server_secret: bytes, key: str, digest: str) -> StoredAnswer:
    """The answer ``seal`` stored; raises ``cryptography.exceptions.InvalidTag`` if tampered."""
    nonce, ciphertext = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:]
    plain = AESGCM(_sealing_key(server_secret, key)).decrypt(nonce, ciphertext, digest.encode())
    stored = json.loads(plain)
    return StoredAnswer(
        status=int(stored["status"]),
        headers={str(name): str(value) for name, value in stored["headers"].items()},
        body=bytes.fromhex(stored["body"]),
    )
