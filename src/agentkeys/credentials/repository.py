"""All SQL of the credential ledger. Built with the request's session; never commits."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from agentkeys.credentials.models import CredentialRecord, CredentialRequestRecord
from agentkeys.credentials.policy import Outcome, QuotaUsage

RATE_LIMITED_OUTCOME = Outcome.RATE_LIMITED


class CredentialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(self, record: CredentialRequestRecord | CredentialRecord) -> None:
        self._session.add(record)

    async def flush(self) -> None:
        await self._session.flush()

    async def get_by_digest(
        self, key_digest: str, *, for_update: bool = False
    ) -> CredentialRecord | None:
        """The credential with this digest; ``for_update`` locks its row until the commit."""
        statement = select(CredentialRecord).where(CredentialRecord.key_digest == key_digest)
        if for_update:
            statement = statement.with_for_update()
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def organization_issued(
        self,
        organization_key: str,
        *,
        network: str | None,
        limit: int,
        window: timedelta,
        now: datetime,
    ) -> QuotaUsage:
        """Credentials issued to one organization (from one network, unless None) in the window."""
        return await self._usage(
            CredentialRecord.created_at,
            _from(CredentialRecord.organization_key == organization_key, network),
            limit=limit,
            window=window,
            now=now,
        )

    async def email_issued(
        self,
        email_key: str,
        *,
        network: str | None,
        limit: int,
        window: timedelta,
        now: datetime,
    ) -> QuotaUsage:
        """Credentials issued to one e-mail key (from one network, unless None) in the window."""
        return await self._usage(
            CredentialRecord.created_at,
            _from(CredentialRecord.user_email_key == email_key, network),
            limit=limit,
            window=window,
            now=now,
        )

    async def organization_active(
        self, organization_key: str, *, network: str | None, limit: int, now: datetime
    ) -> QuotaUsage:
        """Unexpired, unrevoked credentials of one organization; frees as the soonest expire."""
        active = (
            _from(CredentialRecord.organization_key == organization_key, network)
            & CredentialRecord.revoked_at.is_(None)
            & (CredentialRecord.expires_at > now)
        )
        used = (await self._session.execute(select(func.count()).where(active))).scalar_one()
        if used < limit:
            return QuotaUsage(used=used)
        expiring = await self._session.execute(
            select(CredentialRecord.expires_at)
            .where(active)
            .order_by(CredentialRecord.expires_at)
            .offset(used - limit)
            .limit(1)
        )
        return QuotaUsage(used=used, frees_at=expiring.scalar_one())

    async def address_decisions(
        self, network: str, *, limit: int, window: timedelta, now: datetime
    ) -> QuotaUsage:
        """Decisions made for one client network within the window; refusals do not count."""
        return await self._usage(
            CredentialRequestRecord.created_at,
            (CredentialRequestRecord.client_network == network)
            & (CredentialRequestRecord.outcome != RATE_LIMITED_OUTCOME),
            limit=limit,
            window=window,
            now=now,
        )

    async def refusals_stored(self, network: str, *, window: timedelta, now: datetime) -> int:
        """``rate_limited`` rows stored for one client network within the window."""
        statement = select(func.count()).where(
            (CredentialRequestRecord.client_network == network)
            & (CredentialRequestRecord.outcome == RATE_LIMITED_OUTCOME)
            & (CredentialRequestRecord.created_at > now - window)
        )
        count: int = (await self._session.execute(statement)).scalar_one()
        return count

    async def _usage(
        self,
        timestamp: InstrumentedAttribute[datetime],
        condition: ColumnElement[bool],
        *,
        limit: int,
        window: timedelta,
        now: datetime,
    ) -> QuotaUsage:
        in_window = condition & (timestamp > now - window)
        used = (await self._session.execute(select(func.count()).where(in_window))).scalar_one()
        if used < limit:
            return QuotaUsage(used=used)
        # The quota allows one more once the (used - limit + 1) oldest events have left the window.
        oldest_blocking = await self._session.execute(
            select(timestamp).where(in_window).order_by(timestamp).offset(used - limit).limit(1)
        )
        return QuotaUsage(used=used, frees_at=oldest_blocking.scalar_one() + window)


def _from(condition: ColumnElement[bool], network: str | None) -> ColumnElement[bool]:
    """``condition``, narrowed to credentials asked for from ``network`` unless it is None."""
    if network is None:
        return condition
    return condition & (CredentialRecord.client_network == network)
