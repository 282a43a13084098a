"""Credential secrets: mint, check the format and checksum, digest. Pure: no I/O, no framework.

A credential is ``wsk_agent_`` + 43 base62 characters from a CSPRNG (256 bits) + the CRC32 of
those 43 characters in 6 base62 characters. The checksum lets us refuse typos and truncations
without touching the database; the HMAC digest under the server secret is the only stored form.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import zlib
from dataclasses import dataclass

from agentkeys.ids import BASE62_ALPHABET, random_base62
from agentkeys.redaction import KEY_PREFIX

_PREFIX_WITH_SEPARATOR = KEY_PREFIX + "_"
RANDOM_LENGTH = 43  # 62**43 > 2**256
CHECKSUM_LENGTH = 6  # 62**6 > 2**32
KEY_LENGTH = len(_PREFIX_WITH_SEPARATOR) + RANDOM_LENGTH + CHECKSUM_LENGTH
# Published for secret scanners: one regular expression matches every credential.
KEY_PATTERN = re.compile(
    rf"{_PREFIX_WITH_SEPARATOR}[0-9A-Za-z]{{{RANDOM_LENGTH + CHECKSUM_LENGTH}}}"
)


@dataclass(frozen=True, slots=True)
class MintedKey:
    """A fresh secret and its digest. The secret leaves the process once, in the response."""

    secret: str
    digest: str


def _base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(BASE62_ALPHABET[remainder])
    return "".join(reversed(digits))


def checksum(random_part: str) -> str:
    return _base62(zlib.crc32(random_part.encode("ascii")), CHECKSUM_LENGTH)


def digest(secret: str, *, server_secret: bytes) -> str:
    """HMAC-SHA256 of the key under the server secret, hex: what the database stores."""
    return hmac.new(server_secret, secret.encode("utf-8"), hashlib.sha256).hexdigest()


def mint(*, server_secret: bytes) -> MintedKey:
    random_part = random_base62(RANDOM_LENGTH)
    secret = _PREFIX_WITH_SEPARATOR + random_part + checksum(random_part)
    return MintedKey(secret=secret, digest=digest(secret, server_secret=server_secret))


def is_well_formed(candidate: str) -> bool:
    """Format and checksum only; constant work whatever the input, no database look-up."""
    if len(candidate) != KEY_LENGTH or KEY_PATTERN.fullmatch(candidate) is None:
        return False
    body = candidate[len(_PREFIX_WITH_SEPARATOR) :]
    random_part, given = body[:RANDOM_LENGTH], body[RANDOM_LENGTH:]
    return hmac.compare_digest(checksum(random_part), given)
