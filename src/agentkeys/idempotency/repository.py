"""All SQL of Idempotency-Keys. Built with the caller's session; never commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agentkeys.idempotency.models import IdempotencyRecord


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def insert(self, record: IdempotencyRecord) -> None:
        """Raises ``IntegrityError`` when (caller, route, key) is already taken."""
        self._session.add(record)
        await self._session.flush()

    async def find(self, *, caller: str, route: str, key_digest: str) -> IdempotencyRecord | None:
        statement = select(IdempotencyRecord).where(
            IdempotencyRecord.caller == caller,
            IdempotencyRecord.route == route,
            IdempotencyRecord.key_digest == key_digest,
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def answer(self, record_id: str, *, status: int, sealed_answer: bytes) -> None:
        await self._session.execute(
            update(IdempotencyRecord)
            .where(IdempotencyRecord.id == record_id)
            .values(status=status, sealed_answer=sealed_answer)
        )

    async def delete(self, record_id: str, *, running_only: bool = False) -> int:
        statement = delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id)
        if running_only:
            statement = statement.where(IdempotencyRecord.status.is_(None))
        return await self._rowcount(statement)

    async def count_expired(self, now: datetime) -> int:
        count: int = (
            await self._session.execute(
                select(func.count())
                .select_from(IdempotencyRecord)
                .where(IdempotencyRecord.expires_at <= now)
            )
        ).scalar_one()
        return count

    async def delete_expired(self, now: datetime, *, limit: int) -> int:
        """Delete at most ``limit`` records expired at ``now`` (the expiry index: no scan)."""
        expired = (
            select(IdempotencyRecord.id)
            .where(IdempotencyRecord.expires_at <= now)
            .order_by(IdempotencyRecord.expires_at)
            .limit(limit)
        )
        ids = list((await self._session.execute(expired)).scalars())
        if not ids:
            return 0
        return await self._rowcount(delete(IdempotencyRecord).where(IdempotencyRecord.id.in_(ids)))

    async def _rowcount(self, statement: Any) -> int:
        result = await self._session.execute(statement.execution_options(synchronize_session=False))
        return cast(CursorResult[Any], result).rowcount
