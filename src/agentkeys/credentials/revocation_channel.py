"""The revocation announcement on Redis: its channel and its message, in one place. Pure.

The server's ``RevocationBus`` publishes on it and listens to it; services guarded by
``agentkeys.guard`` that share the server's Redis listen to it too, so both read this module
rather than a copy of the name. A message is the revoked credential's (or admin key's) id as
UTF-8 text, published after the revocation committed.
"""

from __future__ import annotations

from typing import Final

CHANNEL: Final = "agentkeys:revocations"


def revocation_message(credential_id: str) -> str:
    """What is published on ``CHANNEL`` when ``credential_id`` is revoked."""
    return credential_id


def revoked_id(data: bytes | str) -> str:
    """The id a message on ``CHANNEL`` announces (Redis hands messages over as bytes)."""
    return data.decode() if isinstance(data, bytes) else data
