"""Which agent key a request carries: ``x-ws-api-key``, else ``Authorization: Bearer``. Pure.

Read from the raw ASGI header list, so the middleware and the FastAPI dependency read it the
same way. A header sent more than once, two different keys, or a value that cannot be an agent
key (format and CRC32 checksum, as agentkeys checks them) is refused here, without asking
agentkeys: what is malformed is visible to anyone, so answering it locally tells nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from agentkeys.credentials.keys import ADMIN_KEYS, AGENT_KEYS
from agentkeys.guard.verdict import Refusal, invalid_key, missing_key

API_KEY_HEADER = b"x-ws-api-key"
AUTHORIZATION_HEADER = b"authorization"
_BEARER = "bearer "
SEND_ONE = "Send one agent credential, once, in x-ws-api-key or as Authorization: Bearer."


@dataclass(frozen=True, slots=True)
class PresentedKey:
    """A well-formed agent key as sent. Its ``repr`` never shows it."""

    secret: str

    def __repr__(self) -> str:
        return "PresentedKey(secret=<hidden>)"


def presented_key(headers: Iterable[tuple[bytes, bytes]]) -> PresentedKey | Refusal:
    """The request's agent key, or the 401 that refuses it."""
    api_keys: list[str] = []
    authorizations: list[str] = []
    for name, value in headers:
        # ASGI servers hand header names over in lower case.
        if name == API_KEY_HEADER:
            api_keys.append(value.decode("latin-1"))
        elif name == AUTHORIZATION_HEADER:
            authorizations.append(value.decode("latin-1"))
    if len(api_keys) > 1:
        return invalid_key(f"The x-ws-api-key header was sent {len(api_keys)} times.", SEND_ONE)
    # As agentkeys' forward auth reads it: x-ws-api-key first, and then the service's own
    # Authorization header is left alone (it may carry the service's own credentials).
    candidate = api_keys[0] if api_keys else _bearer_token(authorizations)
    if isinstance(candidate, Refusal):
        return candidate
    if candidate is None:
        return missing_key()
    if not AGENT_KEYS.is_well_formed(candidate):
        return _malformed(candidate)
    return PresentedKey(candidate)


def _bearer_token(authorizations: list[str]) -> str | Refusal | None:
    """The token of the one ``Authorization: Bearer`` header; sent twice or with another scheme,
    it is refused rather than guessed at."""
    if not authorizations:
        return None
    if len(authorizations) > 1:
        return invalid_key(
            f"The Authorization header was sent {len(authorizations)} times.", SEND_ONE
        )
    if authorizations[0][: len(_BEARER)].lower() != _BEARER:
        return invalid_key("The Authorization header must be 'Bearer <agent key>'.", SEND_ONE)
    return authorizations[0][len(_BEARER) :]


def _malformed(candidate: str) -> Refusal:
    """Why a value cannot be an agent key, where that shows without asking agentkeys."""
    if ADMIN_KEYS.looks_like(candidate):
        return invalid_key(
            "This is an agentkeys admin key (wsk_admin_...); this API takes agent credentials.",
            "Send an agent credential (wsk_agent_...).",
        )
    if candidate != candidate.strip():
        return invalid_key(
            "The key has leading or trailing whitespace.",
            "Send the key exactly as issued, without surrounding whitespace.",
        )
    if "," in candidate:
        # What a proxy makes of a header sent twice: the copies joined by commas.
        return invalid_key("The key header holds more than one value.", SEND_ONE)
    return invalid_key(
        "The key is not an agent credential (wrong length, characters or checksum).",
        "Check that the whole key was sent, or request a new credential.",
    )
