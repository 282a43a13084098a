"""Prune the ledger: decisions made, and credentials expired or revoked, before a cutoff.

One batch is one unit of work over a bounded slice of a table (in primary-key order), so a
large prune never holds a transaction (SQLite's one writer lock) for long: the caller commits
after each batch. A credential goes with everything that refers to it (its homes and feedback,
useless without it: only its own key could reach them) and with the decision that issued it; a
decision whose credential is kept is kept too. Idempotency-Keys go once past their own 24
hours, whatever the cutoff. Never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from agentkeys.db.engine import begin_write
from agentkeys.idempotency.repository import IdempotencyRepository
from agentkeys.retention.repository import RetentionRepository

TABLES = ("credential_requests", "credentials", "homes", "feedback", "idempotency_keys")


@dataclass(frozen=True, slots=True)
class Pruned:
    """Rows removed (or, for a dry run, that would be) per table."""

    credential_requests: int = 0
    credentials: int = 0
    homes: int = 0
    feedback: int = 0
    idempotency_keys: int = 0

    def __add__(self, other: Pruned) -> Pruned:
        return Pruned(
            credential_requests=self.credential_requests + other.credential_requests,
            credentials=self.credentials + other.credentials,
            homes=self.homes + other.homes,
            feedback=self.feedback + other.feedback,
            idempotency_keys=self.idempotency_keys + other.idempotency_keys,
        )

    def by_table(self) -> dict[str, int]:
        return {table: getattr(self, table) for table in TABLES}


@dataclass(frozen=True, slots=True)
class Batch:
    """What one batch removed, and where the next starts (None: the table is done)."""

    pruned: Pruned
    next_after: str | None
    done: bool


class RetentionService:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._repository = RetentionRepository(session)

    async def plan(self, cutoff: datetime, *, now: datetime) -> Pruned:
        """What pruning at ``cutoff`` would remove ``now``, changing nothing (a dry run)."""
        credentials = await self._repository.count_dead_credentials(cutoff)
        homes, feedback = await self._repository.count_owned(cutoff)
        unissued = await self._repository.count_unissued_decisions(cutoff)
        return Pruned(
            credential_requests=credentials + unissued,
            credentials=credentials,
            homes=homes,
            feedback=feedback,
            idempotency_keys=await IdempotencyRepository(self._session).count_expired(now),
        )

    async def prune_idempotency_keys(self, now: datetime, *, size: int) -> Batch:
        """Remove up to ``size`` Idempotency-Keys past their 24 hours at ``now``."""
        await begin_write(self._session)
        removed = await IdempotencyRepository(self._session).delete_expired(now, limit=size)
        return Batch(Pruned(idempotency_keys=removed), next_after=None, done=removed < size)

    async def prune_credentials(self, cutoff: datetime, *, after: str | None, size: int) -> Batch:
        """Of the next ``size`` credentials after ``after``, remove those dead before ``cutoff``
        with their homes, feedback and decisions."""
        await begin_write(self._session)
        reach = await self._repository.next_credential_slice(after, size)
        if reach is None:
            return Batch(Pruned(), next_after=after, done=True)
        dead = await self._repository.dead_credentials_in(reach, cutoff)
        pruned = Pruned()
        if dead:
            decisions, credentials, homes, feedback = await self._repository.delete_credentials(
                dead
            )
            pruned = Pruned(
                credential_requests=decisions,
                credentials=credentials,
                homes=homes,
                feedback=feedback,
            )
        return Batch(pruned, next_after=reach.last, done=False)

    async def prune_decisions(self, cutoff: datetime, *, after: str | None, size: int) -> Batch:
        """Of the next ``size`` decisions after ``after``, remove those made before ``cutoff``
        that issued no credential still kept."""
        await begin_write(self._session)
        reach = await self._repository.next_decision_slice(after, size)
        if reach is None:
            return Batch(Pruned(), next_after=after, done=True)
        removed = await self._repository.delete_unissued_decisions(reach, cutoff)
        return Batch(Pruned(credential_requests=removed), next_after=reach.last, done=False)
