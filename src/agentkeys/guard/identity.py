"""What the guard hands a protected handler: who the agent key belongs to. Never the key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AgentIdentity:
    """A verified agent credential as agentkeys described it: id, granted scopes, expiry."""

    credential_id: str
    scopes: tuple[str, ...]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RateLimitState:
    """The credential's request rate after this request (IETF RateLimit fields): ``limit`` per
    window, ``remaining`` of it, ``reset_seconds`` until there is room again; the window's
    length in seconds when agentkeys said it."""

    limit: int
    remaining: int
    reset_seconds: int
    window_seconds: int | None = None
