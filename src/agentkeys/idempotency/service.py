"""Claim, replay and forget Idempotency-Keys, each step in a short transaction of its own.

A first request commits a *running* row before its work starts; the unique constraint on
(caller, route, key digest) lets exactly one of several concurrent first requests win, the
others answer 409. Once answered the row holds the sealed answer for 24 hours. A process that
dies mid-request leaves a running row: after ``LEASE`` a retry takes it over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import timedelta

from cryptography.exceptions import InvalidTag
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentkeys.clock import Clock
from agentkeys.idempotency.keys import (
    StoredAnswer,
    body_digest,
    key_digest,
    seal,
    unseal,
)
from agentkeys.idempotency.models import IdempotencyRecord
from agentkeys.idempotency.repository import IdempotencyRepository
from agentkeys.ids import new_id

logger = logging.getLogger(__name__)

RETENTION = timedelta(hours=24)
# A running row older than this belongs to a request that will never finish (its process died).
LEASE = timedelta(minutes=5)
RETRY_AFTER_SECONDS = 1
SWEEP_BATCH = 500
_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Claimed:
    """This request does the work; ``finish`` or ``abandon`` its row afterwards."""

    record_id: str
    key: str
    digest: str


@dataclass(frozen=True, slots=True)
class Replay:
    answer: StoredAnswer


@dataclass(frozen=True, slots=True)
class Mismatch:
    """The key was used with another body."""


@dataclass(frozen=True, slots=True)
class InProgress:
    retry_after_seconds: int


Outcome = Claimed | Replay | Mismatch | InProgress


class IdempotencyService:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        clock: Clock,
        server_secret: bytes,
        sweep_seconds: float = 600,
    ) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._secret = server_secret
        self._sweep_seconds = sweep_seconds
        self._sweeper: asyncio.Task[None] | None = None

    async def begin(self, *, caller: str, route: str, key: str, body: bytes) -> Outcome:
        """Claim the key for this request, or say what the earlier request with it answers."""
        digest = key_digest(self._secret, key)
        request_digest = body_digest(body)
        for _ in range(_ATTEMPTS):
            now = self._clock.now()
            record = IdempotencyRecord(
                id=new_id("idem"),
                caller=caller,
                route=route,
                key_digest=digest,
                request_digest=request_digest,
                created_at=now,
                expires_at=now + RETENTION,
            )
            async with self._session_factory() as session:
                try:
                    await IdempotencyRepository(session).insert(record)
                    await session.commit()
                except IntegrityError:
                    await session.rollback()
                else:
                    return Claimed(record_id=record.id, key=key, digest=digest)
                existing = await IdempotencyRepository(session).find(
                    caller=caller, route=route, key_digest=digest
                )
                if existing is None:
                    continue  # forgotten meanwhile: claim again
                outcome = await self._earlier(session, existing, key=key, digest=digest)
                if outcome is not None:
                    if isinstance(outcome, Replay | InProgress) and (
                        existing.request_digest != request_digest
                    ):
                        return Mismatch()
                    return outcome
        return InProgress(retry_after_seconds=RETRY_AFTER_SECONDS)

    async def _earlier(
        self, session: AsyncSession, existing: IdempotencyRecord, *, key: str, digest: str
    ) -> Outcome | None:
        """What the earlier request answers; None once its row is gone (claim again)."""
        now = self._clock.now()
        repository = IdempotencyRepository(session)
        if existing.expires_at <= now:
            await repository.delete(existing.id)
            await session.commit()
            return None
        if existing.status is None or existing.sealed_answer is None:
            if existing.created_at + LEASE <= now:
                await repository.delete(existing.id, running_only=True)
                await session.commit()
                return None
            return InProgress(retry_after_seconds=RETRY_AFTER_SECONDS)
        try:
            answer = unseal(
                existing.sealed_answer, server_secret=self._secret, key=key, digest=digest
            )
        except InvalidTag:
            # Sealed under another server secret (rotated): the answer cannot be replayed.
            logger.warning("an idempotent answer could not be opened; the request runs again")
            await repository.delete(existing.id)
            await session.commit()
            return None
        return Replay(answer)

    async def finish(self, claim: Claimed, answer: StoredAnswer) -> None:
        """Keep the answer for replays; a server error (5xx) is forgotten so a retry runs again."""
        async with self._session_factory() as session:
            repository = IdempotencyRepository(session)
            if answer.status >= 500:
                await repository.delete(claim.record_id)
            else:
                sealed = seal(
                    answer, server_secret=self._secret, key=claim.key, digest=claim.digest
                )
                await repository.answer(claim.record_id, status=answer.status, sealed_answer=sealed)
            await session.commit()

    async def abandon(self, claim: Claimed) -> None:
        """The request failed without an answer: forget its key, so a retry runs again."""
        async with self._session_factory() as session:
            await IdempotencyRepository(session).delete(claim.record_id)
            await session.commit()

    async def purge(self) -> int:
        """Delete every record past its 24 hours, a batch per transaction; the count."""
        total = 0
        while True:
            async with self._session_factory() as session:
                removed = await IdempotencyRepository(session).delete_expired(
                    self._clock.now(), limit=SWEEP_BATCH
                )
                await session.commit()
            total += removed
            if removed < SWEEP_BATCH:
                return total

    async def start(self) -> None:
        """Purge every ``sweep_seconds`` in the background (the app's lifespan)."""
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_periodically())

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep_periodically(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_seconds)
            try:
                await self.purge()
            except Exception:  # the next sweep retries; the app keeps serving
                logger.exception("idempotency sweep failed")
