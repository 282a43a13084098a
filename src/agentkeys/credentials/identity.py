"""Who a verified key is: an agent credential (what the sandbox routes may rely on), or an
operator's admin key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from agentkeys.errors import Forbidden, InsufficientScope


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


class AdminRole(StrEnum):
    ADMIN = "admin"  # reads everything, revokes any credential
    VIEWER = "viewer"  # reads everything


@dataclass(frozen=True, slots=True)
class AdminIdentity:
    """An operator's verified admin key: who it is and what it may do. Never the secret."""

    id: str
    name: str
    role: AdminRole

    @property
    def actor(self) -> str:
        """What a revocation by this key records in ``revoked_by``."""
        return f"admin:{self.name}"

    def require_admin(self) -> None:
        """Refuse a viewer key on a route that changes anything."""
        if self.role is not AdminRole.ADMIN:
            raise Forbidden(
                f"The admin key '{self.name}' has the role 'viewer', which may read but not "
                "revoke.",
                recovery_action="Use an admin key with the role 'admin' "
                "(agentkeys admin create-key --role admin).",
            )


class AdminAuthenticator(Protocol):
    """Verifies an admin key (the admin feature's ``AdminKeyVerifier``): the credential routes
    accept an operator's key for revocation without depending on the admin feature."""

    async def authenticate(self, presented: str | None) -> AdminIdentity: ...
