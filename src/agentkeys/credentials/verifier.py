"""Which credential does this key belong to? The hot path of every sandbox request.

Format and checksum first (no I/O), then the verified-key cache, and only on a miss one indexed
look-up of the HMAC digest in a short read-only session of its own: a request answered from the
cache opens no database session at all.
"""

from __future__ import annotations

import asyncio

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentkeys.clock import Clock
from agentkeys.credentials import keys
from agentkeys.credentials.cache import VerifiedKeyCache
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.credentials.models import CredentialRecord
from agentkeys.credentials.policy import ScopeCatalog
from agentkeys.credentials.repository import CredentialRepository
from agentkeys.errors import ExpiredCredential, InvalidApiKey, MissingApiKey, RevokedCredential

NEW_CREDENTIAL = "Request a new credential with POST /v1/agent-credentials."


def invalid_key() -> InvalidApiKey:
    return InvalidApiKey(
        "The x-ws-api-key header does not hold a valid credential.",
        recovery_action="Check that the whole key was sent, or request a new credential.",
    )


class CredentialVerifier:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        catalog: ScopeCatalog,
        server_secret: bytes,
        cache: VerifiedKeyCache,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._catalog = catalog
        self._server_secret = server_secret
        self._cache = cache
        self._inflight: dict[str, asyncio.Future[AuthenticatedCredential]] = {}

    @property
    def cache(self) -> VerifiedKeyCache:
        return self._cache

    async def authenticate(self, presented: str | None) -> AuthenticatedCredential:
        """The credential of a usable key, or the refusal the contract names (CONTRACT §3)."""
        key_digest = self.digest_of(presented)
        cached = self._cache.get(key_digest)
        if cached is not None:
            if self._clock.now() >= cached.expires_at:
                raise expired()
            return cached
        # Single flight: when a busy key's cache entry lapses, the requests arriving together
        # share one database look-up instead of each queueing its own.
        lookup = self._inflight.get(key_digest)
        if lookup is None:
            lookup = asyncio.ensure_future(self._load(key_digest))
            self._inflight[key_digest] = lookup
            lookup.add_done_callback(lambda _: self._inflight.pop(key_digest, None))
        return await asyncio.shield(lookup)

    async def _load(self, key_digest: str) -> AuthenticatedCredential:
        async with self._session_factory() as session:
            record = await CredentialRepository(session).get_by_digest(key_digest)
        if record is None:
            raise invalid_key()
        self.refuse_unusable(record)
        credential = AuthenticatedCredential(
            id=record.id,
            scopes=tuple(record.scopes),
            effective_scopes=self._catalog.expand(record.scopes),
            environment=record.environment,
            created_at=record.created_at,
            expires_at=record.expires_at,
        )
        self._cache.put(key_digest, credential)
        return credential

    def digest_of(self, presented: str | None) -> str:
        """The stored form of a presented key; refuses a missing or malformed one without I/O."""
        if not presented:
            raise MissingApiKey(
                "Send your credential in the x-ws-api-key header.", recovery_action=NEW_CREDENTIAL
            )
        if not keys.is_well_formed(presented):
            raise invalid_key()
        return keys.digest(presented, server_secret=self._server_secret)

    def refuse_unusable(self, record: CredentialRecord) -> None:
        # Revocation first: the deliberate act is the more useful answer.
        if record.revoked_at is not None:
            raise RevokedCredential(
                "This credential has been revoked.", recovery_action=NEW_CREDENTIAL
            )
        if self._clock.now() >= record.expires_at:
            raise expired()


def expired() -> ExpiredCredential:
    return ExpiredCredential("This credential has expired.", recovery_action=NEW_CREDENTIAL)
