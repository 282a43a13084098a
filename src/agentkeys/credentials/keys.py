"""Secrets: mint, check the format and checksum, digest. Pure: no I/O, no framework.

A key is a prefix (``wsk_agent_`` for agent credentials, ``wsk_admin_`` for an operator's admin
keys) + 43 base62 characters from a CSPRNG (256 bits) + the CRC32 of those 43 characters in 6
base62 characters. The checksum lets us refuse typos and truncations without touching the
database; the HMAC digest under the server secret is the only stored form. One scheme,
parametrised by prefix (``KeyFormat``): agent and admin keys differ only in their prefix.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import zlib
from dataclasses import dataclass, field

from agentkeys.ids import BASE62_ALPHABET, random_base62
from agentkeys.redaction import ADMIN_KEY_PREFIX, KEY_PREFIX

RANDOM_LENGTH = 43  # 62**43 > 2**256
CHECKSUM_LENGTH = 6  # 62**6 > 2**32


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


@dataclass(frozen=True, slots=True)
class KeyFormat:
    """One kind of key: its prefix (with the trailing ``_``), its length and its pattern."""

    prefix: str
    length: int = field(init=False)
    # Published for secret scanners: one regular expression matches every key of the kind.
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "length", len(self.prefix) + RANDOM_LENGTH + CHECKSUM_LENGTH)
        object.__setattr__(
            self,
            "pattern",
            re.compile(rf"{self.prefix}[0-9A-Za-z]{{{RANDOM_LENGTH + CHECKSUM_LENGTH}}}"),
        )

    def mint(self, *, server_secret: bytes) -> MintedKey:
        random_part = random_base62(RANDOM_LENGTH)
        secret = self.prefix + random_part + checksum(random_part)
        return MintedKey(secret=secret, digest=digest(secret, server_secret=server_secret))

    def is_well_formed(self, candidate: str) -> bool:
        """Format and checksum only; constant work whatever the input, no database look-up."""
        if len(candidate) != self.length or self.pattern.fullmatch(candidate) is None:
            return False
        body = candidate[len(self.prefix) :]
        random_part, given = body[:RANDOM_LENGTH], body[RANDOM_LENGTH:]
        return hmac.compare_digest(checksum(random_part), given)

    def looks_like(self, candidate: str) -> bool:
        """Whether ``candidate`` starts like a key of this kind (even mistyped or truncated)."""
        return candidate.startswith(self.prefix)


AGENT_KEYS = KeyFormat(KEY_PREFIX + "_")
ADMIN_KEYS = KeyFormat(ADMIN_KEY_PREFIX + "_")

# The agent credential's format, under the names the rest of the code has always used.
KEY_LENGTH = AGENT_KEYS.length
KEY_PATTERN = AGENT_KEYS.pattern
ADMIN_KEY_PATTERN = ADMIN_KEYS.pattern


def mint(*, server_secret: bytes) -> MintedKey:
    return AGENT_KEYS.mint(server_secret=server_secret)


def is_well_formed(candidate: str) -> bool:
    return AGENT_KEYS.is_well_formed(candidate)
