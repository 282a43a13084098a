"""All SQL of pruning: old decisions and long-dead credentials with what they own, a bounded
slice of each table at a time. Built with the caller's session; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, Delete, delete, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from agentkeys.credentials.models import CredentialRecord, CredentialRequestRecord
from agentkeys.sandbox.feedback.models import FeedbackRecord
from agentkeys.sandbox.homes.models import HomeRecord


@dataclass(frozen=True, slots=True)
class Slice:
    """Rows ``after`` < id <= ``last`` of a table in primary-key order: one batch's reach."""

    after: str | None
    last: str


def dead_before(cutoff: datetime) -> ColumnElement[bool]:
    """Credentials dead since before ``cutoff``: expired then, or revoked then."""
    return or_(CredentialRecord.expires_at < cutoff, CredentialRecord.revoked_at < cutoff)


def unissued_before(cutoff: datetime) -> ColumnElement[bool]:
    """Decisions made before ``cutoff`` that no credential (still) refers to."""
    return (CredentialRequestRecord.created_at < cutoff) & ~exists().where(
        CredentialRecord.credential_request_id == CredentialRequestRecord.id
    )


class RetentionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _count(self, condition: ColumnElement[bool], model: type[object]) -> int:
        count: int = (
            await self._session.execute(select(func.count()).select_from(model).where(condition))
        ).scalar_one()
        return count

    async def count_dead_credentials(self, cutoff: datetime) -> int:
        return await self._count(dead_before(cutoff), CredentialRecord)

    async def count_owned(self, cutoff: datetime) -> tuple[int, int]:
        """(homes, feedback) owned by the credentials dead since before ``cutoff``."""
        dead = select(CredentialRecord.id).where(dead_before(cutoff))
        homes = await self._count(HomeRecord.credential_id.in_(dead), HomeRecord)
        feedback = await self._count(FeedbackRecord.credential_id.in_(dead), FeedbackRecord)
        return homes, feedback

    async def count_unissued_decisions(self, cutoff: datetime) -> int:
        return await self._count(unissued_before(cutoff), CredentialRequestRecord)

    async def next_credential_slice(self, after: str | None, size: int) -> Slice | None:
        return await self._next_slice(CredentialRecord.id, after, size)

    async def next_decision_slice(self, after: str | None, size: int) -> Slice | None:
        return await self._next_slice(CredentialRequestRecord.id, after, size)

    async def _next_slice(
        self, column: InstrumentedAttribute[str], after: str | None, size: int
    ) -> Slice | None:
        """The next ``size`` ids after ``after`` (the primary key's index: no scan of the rest)."""
        ids = select(column)
        if after is not None:
            ids = ids.where(column > after)
        window = ids.order_by(column).limit(size).subquery()
        last = (await self._session.execute(select(func.max(window.c[0])))).scalar_one()
        return None if last is None else Slice(after=after, last=last)

    async def dead_credentials_in(self, reach: Slice, cutoff: datetime) -> list[tuple[str, str]]:
        """(credential id, its decision's id) of the slice's credentials dead before ``cutoff``,
        locked until the commit (PostgreSQL)."""
        statement = (
            select(CredentialRecord.id, CredentialRecord.credential_request_id)
            .where(_within(CredentialRecord.id, reach), dead_before(cutoff))
            .with_for_update()
        )
        return [(row[0], row[1]) for row in (await self._session.execute(statement)).all()]

    async def delete_credentials(
        self, credentials: Sequence[tuple[str, str]]
    ) -> tuple[int, int, int, int]:
        """Delete credentials with their homes, feedback and decisions, dependents first (the
        foreign keys): (decisions, credentials, homes, feedback) deleted."""
        credential_ids = [credential_id for credential_id, _ in credentials]
        decision_ids = [decision_id for _, decision_id in credentials]
        homes = await self._delete(
            delete(HomeRecord).where(HomeRecord.credential_id.in_(credential_ids))
        )
        feedback = await self._delete(
            delete(FeedbackRecord).where(FeedbackRecord.credential_id.in_(credential_ids))
        )
        deleted = await self._delete(
            delete(CredentialRecord).where(CredentialRecord.id.in_(credential_ids))
        )
        decisions = await self._delete(
            delete(CredentialRequestRecord).where(CredentialRequestRecord.id.in_(decision_ids))
        )
        return decisions, deleted, homes, feedback

    async def delete_unissued_decisions(self, reach: Slice, cutoff: datetime) -> int:
        return await self._delete(
            delete(CredentialRequestRecord).where(
                _within(CredentialRequestRecord.id, reach), unissued_before(cutoff)
            )
        )

    async def _delete(self, statement: Delete) -> int:
        # Core-style: nothing of these rows is loaded in the session, so nothing to synchronise.
        result = await self._session.execute(statement.execution_options(synchronize_session=False))
        return cast(CursorResult[Any], result).rowcount


def _within(column: InstrumentedAttribute[str], reach: Slice) -> ColumnElement[bool]:
    condition = column <= reach.last
    if reach.after is not None:
        condition = condition & (column > reach.after)
    return condition
