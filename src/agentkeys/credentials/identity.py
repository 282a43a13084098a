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
    ADMIN = "admin"  # reads everything, revokes any credential, verifies keys
    VIEWER = "viewer"  # reads everything
    # Verifies agent keys for a gateway or a service (/v1/keys/verify, /oauth/introspect), and
    # nothing else: a key kept in many services' configuration can read and change nothing.
    VERIFY = "verify"


ROLE_RECOVERY = {
    AdminRole.ADMIN: "agentkeys admin create-key --role admin",
    AdminRole.VIEWER: "agentkeys admin create-key --role viewer",
    AdminRole.VERIFY: "agentkeys admin create-key --role verify",
}


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
        """Refuse a viewer or verify key on a route that changes anything."""
        if self.role is not AdminRole.ADMIN:
            raise self._refused("revoke or change anything", AdminRole.ADMIN)

    def require_reader(self) -> None:
        """Refuse a verify key on the admin API's reading routes (and /metrics): it may only
        verify keys."""
        if self.role is AdminRole.VERIFY:
            raise self._refused("use the admin API", AdminRole.VIEWER)

    def require_verifier(self) -> None:
        """Refuse a viewer key on the verification routes: only ``verify`` and ``admin`` keys
        may ask whether an agent key is good."""
        if self.role is AdminRole.VIEWER:
            raise self._refused("verify agent keys", AdminRole.VERIFY)

    def _refused(self, what: str, needed: AdminRole) -> Forbidden:
        return Forbidden(
            f"The admin key '{self.name}' has the role '{self.role}', which may not {what}.",
            recovery_action=f"Use an admin key with the role '{needed}' ({ROLE_RECOVERY[needed]}).",
        )


class AdminAuthenticator(Protocol):
    """Verifies an admin key (the admin feature's ``AdminKeyVerifier``): the credential routes
    accept an operator's key for revocation without depending on the admin feature."""

    async def authenticate(self, presented: str | None) -> AdminIdentity: ...
