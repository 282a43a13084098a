"""The console's signed cookies and CSRF tokens: pure (no web framework, no I/O).

A session cookie holds ``v1.<payload>.<signature>``: the payload is the admin key's id, the
session's expiry (Unix seconds) and a random CSRF secret, base64url; the signature is
HMAC-SHA256 under a key derived from the server secret for this purpose only. Never the admin
key itself. A form's CSRF token is an HMAC of the session's CSRF secret (never the secret), so a
token is valid for one session only and says nothing about the cookie.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

VERSION = "v1"
# The default (AGENTKEYS_CONSOLE_SESSION_SECONDS): a working day, then sign in again.
SESSION_LIFETIME = timedelta(hours=8)
# The sign-in form's own token lives this long (a page left open, then used).
SIGN_IN_LIFETIME = timedelta(hours=1)
CSRF_SECRET_BYTES = 32
SIGNATURE_BYTES = 32
MAX_COOKIE_CHARACTERS = 512
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")
_SESSION_KEY_CONTEXT = b"agentkeys console session v1"
_CSRF_CONTEXT = b"agentkeys console csrf v1:"


@dataclass(frozen=True, slots=True)
class SessionClaims:
    """What a session cookie says: whose session, until when, and its CSRF secret."""

    admin_key_id: str
    expires_at: datetime
    csrf_secret: str


class SessionSigner:
    """Signs and reads the console's cookies with a key of their own (derived, not the server
    secret itself: a signature here can never be taken for a key digest or a cursor)."""

    def __init__(
        self, server_secret: bytes, *, session_lifetime: timedelta = SESSION_LIFETIME
    ) -> None:
        self._key = hmac.new(server_secret, _SESSION_KEY_CONTEXT, hashlib.sha256).digest()
        self.session_lifetime = session_lifetime

    def new_session(self, admin_key_id: str, *, now: datetime) -> SessionClaims:
        return SessionClaims(
            admin_key_id=admin_key_id,
            expires_at=now.astimezone(UTC).replace(microsecond=0) + self.session_lifetime,
            csrf_secret=_b64(secrets.token_bytes(CSRF_SECRET_BYTES)),
        )

    def new_sign_in(self, *, now: datetime) -> SessionClaims:
        """The sign-in form's pre-session: no admin key yet, a CSRF secret all the same."""
        return SessionClaims(
            admin_key_id="",
            expires_at=now.astimezone(UTC).replace(microsecond=0) + SIGN_IN_LIFETIME,
            csrf_secret=_b64(secrets.token_bytes(CSRF_SECRET_BYTES)),
        )

    def encode(self, claims: SessionClaims) -> str:
        payload = "|".join(
            (claims.admin_key_id, str(int(claims.expires_at.timestamp())), claims.csrf_secret)
        ).encode()
        encoded = _b64(payload)
        return f"{VERSION}.{encoded}.{_b64(self._sign(encoded.encode()))}"

    def decode(self, cookie: str | None, *, now: datetime) -> SessionClaims | None:
        """The claims of a cookie this server signed and that has not expired; else None."""
        parts = self._signed_parts(cookie)
        if parts is None or len(parts) != 3 or not parts[1].isdigit():
            return None
        expires_at = datetime.fromtimestamp(int(parts[1]), tz=UTC)
        if now >= expires_at:
            return None
        return SessionClaims(admin_key_id=parts[0], expires_at=expires_at, csrf_secret=parts[2])

    def _signed_parts(self, cookie: str | None) -> list[str] | None:
        """The payload's fields if the cookie is well formed and its signature ours."""
        if not cookie or len(cookie) > MAX_COOKIE_CHARACTERS:
            return None
        version, _, rest = cookie.partition(".")
        encoded, _, signature_text = rest.partition(".")
        signature = _unb64(signature_text)
        if version != VERSION or not encoded or signature is None:
            return None
        if not hmac.compare_digest(signature, self._sign(encoded.encode())):
            return None
        payload = _unb64(encoded)
        return None if payload is None else payload.decode("utf-8", errors="replace").split("|")

    def csrf_token(self, claims: SessionClaims) -> str:
        """The token every form of this session carries (and htmx sends as a header)."""
        return _b64(self._sign(_CSRF_CONTEXT + claims.csrf_secret.encode()))

    def csrf_matches(self, claims: SessionClaims, presented: str | None) -> bool:
        if not presented:
            return False
        return hmac.compare_digest(presented.encode(), self.csrf_token(claims).encode())

    def _sign(self, data: bytes) -> bytes:
        return hmac.new(self._key, data, hashlib.sha256).digest()[:SIGNATURE_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes | None:
    if _BASE64URL.fullmatch(text) is None:
        return None
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # One spelling per value: the last character's unused bits could otherwise be changed and
    # still decode to the same bytes (an altered cookie that is accepted).
    return decoded if _b64(decoded) == text else None
