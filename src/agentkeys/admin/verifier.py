"""Which admin key is this? The same cheap path as agent keys (``credentials.verifier``).

Format and checksum first (no I/O), then a verified-key cache of admin keys, and only on a miss
one indexed look-up of the digest in a short session of its own, shared by the requests missing
together (``SingleFlight``). A revocation (``agentkeys admin revoke-key``) is announced on the
revocation bus like a credential's, which evicts the key here and on every replica.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentkeys.admin.repository import AdminKeyRepository
from agentkeys.credentials import keys
from agentkeys.credentials.cache import SingleFlight, VerifiedKeyCache
from agentkeys.credentials.identity import AdminIdentity, AdminRole
from agentkeys.errors import Forbidden, InvalidApiKey, MissingApiKey, RevokedCredential

ADMIN_RECOVERY = (
    "Send an admin key as 'Authorization: Bearer wsk_admin_...' (create one with "
    "agentkeys admin create-key)."
)


def agent_key_refused() -> Forbidden:
    return Forbidden(
        "Agent credentials (wsk_agent_...) cannot use the admin API.",
        recovery_action=ADMIN_RECOVERY,
    )


def invalid_admin_key(reason: str = "does not hold a valid admin key") -> InvalidApiKey:
    return InvalidApiKey(f"The Authorization header {reason}.", recovery_action=ADMIN_RECOVERY)


class AdminKeyVerifier:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        server_secret: bytes,
        cache: VerifiedKeyCache[AdminIdentity],
    ) -> None:
        self._session_factory = session_factory
        self._server_secret = server_secret
        self._cache = cache
        self._flight = SingleFlight(cache)

    @property
    def cache(self) -> VerifiedKeyCache[AdminIdentity]:
        return self._cache

    async def authenticate(self, presented: str | None) -> AdminIdentity:
        """The admin key's identity, or 401 (missing, malformed, unknown, revoked), or 403 for an
        agent key."""
        if not presented:
            raise MissingApiKey(
                "Send an admin key in the Authorization header.", recovery_action=ADMIN_RECOVERY
            )
        if keys.AGENT_KEYS.looks_like(presented):
            raise agent_key_refused()
        if not keys.ADMIN_KEYS.is_well_formed(presented):
            raise invalid_admin_key()
        key_digest = keys.digest(presented, server_secret=self._server_secret)
        cached = self._cache.get(key_digest)
        if cached is not None:
            return cached
        return await self._flight.load(key_digest, self._load)

    async def _load(self, key_digest: str) -> AdminIdentity:
        async with self._session_factory() as session:
            record = await AdminKeyRepository(session).get_by_digest(key_digest)
        if record is None:
            raise invalid_admin_key()
        if record.revoked_at is not None:
            raise RevokedCredential(
                f"The admin key '{record.name}' has been revoked.", recovery_action=ADMIN_RECOVERY
            )
        return AdminIdentity(id=record.id, name=record.name, role=AdminRole(record.role))
