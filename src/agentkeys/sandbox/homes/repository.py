"""All SQL of homes. Every read is scoped to the owning credential."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentkeys.sandbox.homes.models import HomeRecord


class HomeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, home: HomeRecord) -> None:
        self._session.add(home)

    async def flush(self) -> None:
        await self._session.flush()

    async def get_owned(self, home_id: str, *, credential_id: str) -> HomeRecord | None:
        statement = select(HomeRecord).where(
            (HomeRecord.id == home_id) & (HomeRecord.credential_id == credential_id)
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def list_owned(
        self, *, credential_id: str, offset: int, limit: int
    ) -> Sequence[HomeRecord]:
        statement = (
            select(HomeRecord)
            .where(HomeRecord.credential_id == credential_id)
            .order_by(HomeRecord.created_at, HomeRecord.id)
            .offset(offset)
            .limit(limit)
        )
        return (await self._session.execute(statement)).scalars().all()

    async def count_owned(self, *, credential_id: str) -> int:
        statement = select(func.count()).where(HomeRecord.credential_id == credential_id)
        count: int = (await self._session.execute(statement)).scalar_one()
        return count

    async def delete(self, home: HomeRecord) -> None:
        await self._session.delete(home)
        await self._session.flush()

    async def written_by_network(
        self, network: str, *, since: datetime, excluding: str
    ) -> list[tuple[datetime, int]]:
        """When each home the network last wrote after ``since`` was written, and its bytes;
        oldest first, without the home ``excluding`` (the one being written)."""
        statement = (
            select(HomeRecord.updated_at, HomeRecord.stored_bytes)
            .where(
                (HomeRecord.client_network == network)
                & (HomeRecord.updated_at > since)
                & (HomeRecord.id != excluding)
            )
            .order_by(HomeRecord.updated_at)
        )
        return [(row[0], row[1]) for row in (await self._session.execute(statement)).all()]
