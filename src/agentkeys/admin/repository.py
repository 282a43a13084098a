"""All SQL of the admin keys. Built with a session; never commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agentkeys.admin.models import AdminKeyRecord


class AdminKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, record: AdminKeyRecord) -> None:
        self._session.add(record)

    async def flush(self) -> None:
        await self._session.flush()

    async def get(self, key_id: str, *, for_update: bool = False) -> AdminKeyRecord | None:
        statement = select(AdminKeyRecord).where(AdminKeyRecord.id == key_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def get_by_name(self, name: str) -> AdminKeyRecord | None:
        statement = select(AdminKeyRecord).where(AdminKeyRecord.name == name)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def get_by_digest(self, key_digest: str) -> AdminKeyRecord | None:
        statement = select(AdminKeyRecord).where(AdminKeyRecord.key_digest == key_digest)
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def all(self) -> list[AdminKeyRecord]:
        statement = select(AdminKeyRecord).order_by(AdminKeyRecord.created_at, AdminKeyRecord.id)
        return list((await self._session.execute(statement)).scalars())
