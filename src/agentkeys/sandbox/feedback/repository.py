"""All SQL of feedback. Every read is scoped to the sending credential."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentkeys.sandbox.feedback.models import FeedbackRecord


class FeedbackRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, record: FeedbackRecord) -> None:
        self._session.add(record)
        await self._session.flush()

    async def count_sent_since(self, *, credential_id: str, since: datetime) -> int:
        statement = select(func.count()).where(
            (FeedbackRecord.credential_id == credential_id) & (FeedbackRecord.created_at > since)
        )
        count: int = (await self._session.execute(statement)).scalar_one()
        return count

    async def sent_at(self, *, credential_id: str, since: datetime, position: int) -> datetime:
        """When the ``position``-th oldest (0-based) feedback sent after ``since`` was sent."""
        statement = (
            select(FeedbackRecord.created_at)
            .where(
                (FeedbackRecord.credential_id == credential_id)
                & (FeedbackRecord.created_at > since)
            )
            .order_by(FeedbackRecord.created_at)
            .offset(position)
            .limit(1)
        )
        sent: datetime = (await self._session.execute(statement)).scalar_one()
        return sent

    async def stored_by_network(
        self, network: str, *, since: datetime
    ) -> list[tuple[datetime, int]]:
        """When each feedback the network sent after ``since`` was sent, and its bytes; oldest
        first."""
        statement = (
            select(FeedbackRecord.created_at, FeedbackRecord.stored_bytes)
            .where((FeedbackRecord.client_network == network) & (FeedbackRecord.created_at > since))
            .order_by(FeedbackRecord.created_at)
        )
        return [(row[0], row[1]) for row in (await self._session.execute(statement)).all()]
