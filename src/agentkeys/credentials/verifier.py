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


def repeated_key_header(count: int) -> InvalidApiKey:
    return InvalidApiKey(
        f"The x-ws-api-key header was sent {count} times; it must be sent exactly once.",
        recovery_action="Send one x-ws-api-key header holding one credential.",
    )


def _malformed_key(presented: str) -> InvalidApiKey:
    """Why a key cannot be one, where the reason is visible without a look-up."""
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
        cache: VerifiedKeyCache,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._catalog = catalog
        self._server_secret = server_secret
        self._cache = cache
        # Per digest: the running look-up and the cache generation it began in.
        self._inflight: dict[str, tuple[int, asyncio.Future[AuthenticatedCredential]]] = {}

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
        # share one database look-up instead of each queueing its own. Only a look-up begun
        # since the last eviction is joined: an older one may have read the row before a
        # revocation committed, and a request arriving after the revocation must not share it.
        generation = self._cache.generation
        inflight = self._inflight.get(key_digest)
        if inflight is not None and inflight[0] == generation:
            lookup = inflight[1]
        else:
            lookup = asyncio.ensure_future(self._load(key_digest, generation=generation))
            self._inflight[key_digest] = (generation, lookup)
            lookup.add_done_callback(lambda done: self._forget_lookup(key_digest, done))
        return await asyncio.shield(lookup)

    def _forget_lookup(
        self, key_digest: str, lookup: asyncio.Future[AuthenticatedCredential]
    ) -> None:
        # Only this look-up: a newer one for the same key may have replaced it meanwhile.
        inflight = self._inflight.get(key_digest)
        if inflight is not None and inflight[1] is lookup:
            del self._inflight[key_digest]

    async def find(self, key_digest: str) -> CredentialRecord | None:
        """The stored credential with this digest, read in a short session of its own (no lock,
        no cache): for checks that must see the database, such as revocation's."""
        async with self._session_factory() as session:
            return await CredentialRepository(session).get_by_digest(key_digest)

    async def _load(self, key_digest: str, *, generation: int) -> AuthenticatedCredential:
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
        self._cache.put(key_digest, credential, generation=generation)
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
