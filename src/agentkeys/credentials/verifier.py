"""Which credential does this key belong to? The hot path of every sandbox request.

Format and checksum first (no I/O), then the verified-key cache, and only on a miss one indexed
look-up of the HMAC digest in a short read-only session of its own: a request answered from the
cache opens no database session at all. A verified use is recorded in memory (``usage``).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentkeys.clock import Clock
from agentkeys.credentials import keys
from agentkeys.credentials.cache import SingleFlight, VerifiedKeyCache
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.credentials.models import CredentialRecord
from agentkeys.credentials.policy import ScopeCatalog
from agentkeys.credentials.repository import CredentialRepository
from agentkeys.credentials.usage import CredentialUsage
from agentkeys.errors import ExpiredCredential, InvalidApiKey, MissingApiKey, RevokedCredential

NEW_CREDENTIAL = "Request a new credential with POST /v1/agent-credentials."


def invalid_key() -> InvalidApiKey:
    return InvalidApiKey(
        "The x-ws-api-key header does not hold a valid credential.",
        recovery_action="Check that the whole key was sent, or request a new credential.",
    )


def repeated_key_header(count: int) -> InvalidApiKey:
    return InvalidApiKey(
        f"The x-ws-api-key header was sent {count} times; it must be sent exactly once.",
        recovery_action="Send one x-ws-api-key header holding one credential.",
    )


def admin_key_refused() -> InvalidApiKey:
    """An operator's admin key sent to a route that takes agent credentials only."""
    return InvalidApiKey(
        "This is an admin key (wsk_admin_...): it is accepted on /v1/admin routes only, never "
        "on sandbox routes.",
        recovery_action="Send an agent credential (wsk_agent_...) in the x-ws-api-key header; "
        "request one with POST /v1/agent-credentials.",
    )


def _malformed_key(presented: str) -> InvalidApiKey:
    """Why a key cannot be one, where the reason is visible without a look-up."""
    if keys.ADMIN_KEYS.looks_like(presented):
        return admin_key_refused()
    if presented != presented.strip():
        return InvalidApiKey(
            "The x-ws-api-key header's value has leading or trailing whitespace.",
            recovery_action="Send the key exactly as issued, without surrounding whitespace.",
        )
    if "," in presented:
        # What a proxy makes of a header sent twice: the copies joined by commas.
        return InvalidApiKey(
            "The x-ws-api-key header holds more than one value.",
            recovery_action="Send one x-ws-api-key header holding one credential.",
        )
    return invalid_key()


class CredentialVerifier:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        catalog: ScopeCatalog,
        server_secret: bytes,
        cache: VerifiedKeyCache[AuthenticatedCredential],
        usage: CredentialUsage,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._catalog = catalog
        self._server_secret = server_secret
        self._cache = cache
        self._flight = SingleFlight(cache)
        self._usage = usage

    @property
    def cache(self) -> VerifiedKeyCache[AuthenticatedCredential]:
        return self._cache

    @property
    def usage(self) -> CredentialUsage:
        """Where verified uses are recorded (each credential's last use, written in batches)."""
        return self._usage

    async def authenticate(self, presented: str | None) -> AuthenticatedCredential:
        """The credential of a usable key, or the refusal the contract names (CONTRACT §3)."""
        key_digest = self.digest_of(presented)
        cached = self._cache.get(key_digest)
        if cached is not None:
            now = self._clock.now()
            if now >= cached.expires_at:
                raise expired()
            # In memory only: written in batches, never once per request (``usage``).
            self._usage.record(cached.id, now)
            return cached
        # Single flight: requests missing together share one look-up (see ``SingleFlight``).
        credential = await self._flight.load(key_digest, self._load)
        self._usage.record(credential.id, self._clock.now())
        return credential

    async def find(self, key_digest: str) -> CredentialRecord | None:
        """The stored credential with this digest, read in a short session of its own (no lock,
        no cache): for checks that must see the database, such as revocation's."""
        async with self._session_factory() as session:
            return await CredentialRepository(session).get_by_digest(key_digest)

    async def find_by_id(self, credential_id: str) -> CredentialRecord | None:
        """The stored credential with this id, read like ``find``."""
        async with self._session_factory() as session:
            return await CredentialRepository(session).get(credential_id)

    async def _load(self, key_digest: str) -> AuthenticatedCredential:
        record = await self.find(key_digest)
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
        return credential

    def digest_of(self, presented: str | None) -> str:
        """The stored form of a presented key; refuses a missing or malformed one without I/O."""
        if not presented:
            raise MissingApiKey(
                "Send your credential in the x-ws-api-key header.", recovery_action=NEW_CREDENTIAL
            )
        if not keys.is_well_formed(presented):
            raise _malformed_key(presented)
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
