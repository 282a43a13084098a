"""The public keys that sign leaked-key reports (GitHub's secret scanning partner program).

The operator's file has the shape of ``https://api.github.com/meta/public_keys/secret_scanning``:
``{"public_keys": [{"key_identifier": "…", "key": "-----BEGIN PUBLIC KEY-----…", "is_current":
true}]}``. Every listed key is trusted, current or not: GitHub names the key it signed with in
``Github-Public-Key-Identifier``, and a report signed just before a rotation still verifies.
Each key must be an ECDSA P-256 public key; a report's signature is ECDSA with SHA-256 over the
raw body, DER-encoded then base64 (``Github-Public-Key-Signature``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

# A signature is a DER ECDSA-Sig-Value: for P-256 at most 72 bytes (96 in base64). Longer input
# is refused before any decoding.
MAX_SIGNATURE_CHARACTERS = 256
MAX_IDENTIFIER_CHARACTERS = 256


class LeakReportKeysError(ValueError):
    """The key file cannot be used; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class LeakReportKeys:
    """Trusted signing keys by identifier."""

    keys: Mapping[str, ec.EllipticCurvePublicKey]

    def knows(self, identifier: str) -> bool:
        return identifier in self.keys

    def verify(self, identifier: str, signature: str, body: bytes) -> bool:
        """Whether ``signature`` (base64 DER) over ``body`` verifies with the key ``identifier``."""
        key = self.keys.get(identifier)
        if key is None or len(signature) > MAX_SIGNATURE_CHARACTERS:
            return False
        try:
            der = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            return False
        try:
            key.verify(der, body, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return False
        return True


def parse_leak_report_keys(text: str) -> LeakReportKeys:
    """The keys of a document in GitHub's shape; ``LeakReportKeysError`` naming the fault."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise LeakReportKeysError(f"not JSON ({error})") from None
    entries = document.get("public_keys") if isinstance(document, dict) else None
    if not isinstance(entries, list) or not entries:
        raise LeakReportKeysError(
            'expected {"public_keys": [{"key_identifier": …, "key": "<PEM>"}, …]} with at least '
            "one key (the shape of api.github.com/meta/public_keys/secret_scanning)"
        )
    keys: dict[str, ec.EllipticCurvePublicKey] = {}
    for index, entry in enumerate(entries):
        where = f"public_keys[{index}]"
        if not isinstance(entry, dict):
            raise LeakReportKeysError(f"{where}: not an object")
        identifier = entry.get("key_identifier")
        pem = entry.get("key")
        if not isinstance(identifier, str) or not 0 < len(identifier) <= MAX_IDENTIFIER_CHARACTERS:
            raise LeakReportKeysError(f"{where}.key_identifier: a non-empty string is required")
        if not isinstance(pem, str):
            raise LeakReportKeysError(f"{where}.key: a PEM public key string is required")
        if identifier in keys:
            raise LeakReportKeysError(f"{where}.key_identifier: listed twice")
        keys[identifier] = _p256_key(pem, where=f"{where}.key")
    return LeakReportKeys(keys)


def _p256_key(pem: str, *, where: str) -> ec.EllipticCurvePublicKey:
    try:
        key = load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise LeakReportKeysError(f"{where}: not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise LeakReportKeysError(f"{where}: not an ECDSA P-256 public key")
    return key


def load_leak_report_keys(path: Path) -> LeakReportKeys:
    """The keys in the file at ``path``; ``LeakReportKeysError`` naming the file and the fault."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else "unreadable"
        raise LeakReportKeysError(f"cannot read {path}: {reason}") from None
    try:
        return parse_leak_report_keys(text)
    except LeakReportKeysError as error:
        raise LeakReportKeysError(f"{path}: {error}") from None
