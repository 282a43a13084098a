"""A credential whose key was just verified: what the sandbox routes may rely on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agentkeys.errors import InsufficientScope


@dataclass(frozen=True, slots=True)
class AuthenticatedCredential:
    """Identity, grants and lifetime of a verified credential. Never the secret."""

    id: str
    scopes: tuple[str, ...]
    effective_scopes: frozenset[str]
    environment: str
    created_at: datetime
    expires_at: datetime

    def require(self, *needed: str) -> None:
        """Refuse unless every scope in ``needed`` was granted (directly or by a coarse name)."""
        for scope in needed:
            if scope not in self.effective_scopes:
                raise InsufficientScope(
                    f"This credential lacks the scope '{scope}' needed for this route.",
                    recovery_action=f"Request a new credential that includes '{scope}'.",
                )
