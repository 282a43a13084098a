"""All SQL reading the decision ledger for operators: filtered keyset pages (the admin listing,
and the export's batches) and the stats' aggregates. Built with a session; never writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Select, String, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from agentkeys.credentials.models import CredentialRecord, CredentialRequestRecord

# The most groups of ``revoked_by`` a stats answer lists: `self`, `leak` and one per admin key
# name; bounded so that no number of admin keys makes the answer unbounded.
MAX_REVOKERS = 100


@dataclass(frozen=True, slots=True)
class DecisionFilter:
    """Which decisions an operator asks for. Every field set narrows; ``None`` does not."""

    outcome: str | None = None
    organization_key: str | None = None
    user_email_key: str | None = None
    client_address: str | None = None
    # Decided at or after ``since``, strictly before ``until``: consecutive windows tile.
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class LedgerPosition:
    """A place in the ledger's order, (decided_at, id): the last row a page or batch showed."""

    decided_at: datetime
    credential_request_id: str


# A ledger row, and the id of the credential it issued (None unless issued).
LedgerEntry = tuple[CredentialRequestRecord, str | None]


@dataclass(frozen=True, slots=True)
class Counted:
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class OrganizationCount:
    organization_key: str
    # One name it was written as (the greatest, so that the answer does not depend on order).
    organization_name: str
    count: int


@dataclass(frozen=True, slots=True)
class HourCount:
    hour: datetime
    outcome: str
    count: int


class DecisionLedger:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def page(
        self,
        where: DecisionFilter,
        *,
        after: LedgerPosition | None,
        limit: int,
        newest_first: bool = True,
    ) -> list[LedgerEntry]:
        """Up to ``limit`` decisions after ``after`` in (decided_at, id) order, newest first or
        oldest first. A keyset: rows inserted meanwhile never shift a page, none shown twice."""
        decided_at, row_id = CredentialRequestRecord.created_at, CredentialRequestRecord.id
        statement = _entries().where(*_conditions(where))
        if after is not None:
            if newest_first:
                beyond = or_(
                    decided_at < after.decided_at,
                    and_(decided_at == after.decided_at, row_id < after.credential_request_id),
                )
            else:
                beyond = or_(
                    decided_at > after.decided_at,
                    and_(decided_at == after.decided_at, row_id > after.credential_request_id),
                )
            statement = statement.where(beyond)
        order = (decided_at.desc(), row_id.desc()) if newest_first else (decided_at, row_id)
        statement = statement.order_by(*order).limit(limit)
        return [(row[0], row[1]) for row in (await self._session.execute(statement)).all()]

    async def count_by_outcome(self, *, since: datetime, until: datetime) -> list[Counted]:
        outcome = CredentialRequestRecord.outcome
        statement = (
            select(outcome, func.count())
            .where(*_decided_within(since, until))
            .group_by(outcome)
            .order_by(outcome)
        )
        rows = (await self._session.execute(statement)).all()
        return [Counted(name=row[0], count=row[1]) for row in rows]

    async def count_by_hour(self, *, since: datetime, until: datetime) -> list[HourCount]:
        """Decisions per UTC hour and outcome; hours without a decision are absent."""
        hour = self._hour_of(CredentialRequestRecord.created_at)
        outcome = CredentialRequestRecord.outcome
        statement = (
            select(hour, outcome, func.count())
            .where(*_decided_within(since, until))
            .group_by(hour, outcome)
            .order_by(hour, outcome)
        )
        rows = (await self._session.execute(statement)).all()
        return [
            HourCount(
                hour=datetime.strptime(row[0], "%Y-%m-%d %H").replace(tzinfo=UTC),
                outcome=row[1],
                count=row[2],
            )
            for row in rows
        ]

    async def count_by_day(self, *, since: datetime, until: datetime) -> list[HourCount]:
        """Decisions per UTC day and outcome (``hour`` holds the day's midnight); days without
        a decision are absent."""
        day = self._day_of(CredentialRequestRecord.created_at)
        outcome = CredentialRequestRecord.outcome
        statement = (
            select(day, outcome, func.count())
            .where(*_decided_within(since, until))
            .group_by(day, outcome)
            .order_by(day, outcome)
        )
        rows = (await self._session.execute(statement)).all()
        return [
            HourCount(
                hour=datetime.strptime(row[0], "%Y-%m-%d").replace(tzinfo=UTC),
                outcome=row[1],
                count=row[2],
            )
            for row in rows
        ]

    async def top_organizations(
        self, *, since: datetime, until: datetime, limit: int
    ) -> list[OrganizationCount]:
        """The organizations (their quota identity) with the most decisions, most first."""
        key = CredentialRequestRecord.organization_key
        count = func.count().label("decisions")
        statement = (
            select(key, func.max(CredentialRequestRecord.organization_name), count)
            .where(*_decided_within(since, until))
            .group_by(key)
            .order_by(count.desc(), key)
            .limit(limit)
        )
        rows = (await self._session.execute(statement)).all()
        return [
            OrganizationCount(organization_key=row[0], organization_name=row[1], count=row[2])
            for row in rows
        ]

    async def credentials_issued(self, *, since: datetime, until: datetime) -> int:
        created = CredentialRecord.created_at
        statement = select(func.count()).where(created >= since, created < until)
        issued: int = (await self._session.execute(statement)).scalar_one()
        return issued

    async def credentials_active(self, *, now: datetime) -> int:
        """Unrevoked, unexpired credentials at ``now``, whenever they were issued."""
        statement = select(func.count()).where(
            CredentialRecord.revoked_at.is_(None), CredentialRecord.expires_at > now
        )
        active: int = (await self._session.execute(statement)).scalar_one()
        return active

    async def revocations_by(self, *, since: datetime, until: datetime) -> list[Counted]:
        """Revocations made in the window per ``revoked_by`` (`self`, `admin:<name>`, …)."""
        revoked_by, revoked_at = CredentialRecord.revoked_by, CredentialRecord.revoked_at
        count = func.count().label("revocations")
        statement = (
            select(revoked_by, count)
            .where(revoked_at >= since, revoked_at < until)
            .group_by(revoked_by)
            .order_by(count.desc(), revoked_by)
            .limit(MAX_REVOKERS)
        )
        rows = (await self._session.execute(statement)).all()
        return [Counted(name=row[0] or "unknown", count=row[1]) for row in rows]

    def _hour_of(self, column: InstrumentedAttribute[datetime]) -> ColumnElement[str]:
        """The UTC hour of an instant as text ``YYYY-MM-DD HH``, computed by the database."""
        if self._session.get_bind().dialect.name == "postgresql":
            utc = func.timezone("UTC", column)
            return func.to_char(func.date_trunc("hour", utc), "YYYY-MM-DD HH24", type_=String())
        # SQLite keeps UTCDateTime as naive UTC text, which strftime reads.
        return func.strftime("%Y-%m-%d %H", column, type_=String())

    def _day_of(self, column: InstrumentedAttribute[datetime]) -> ColumnElement[str]:
        """The UTC day of an instant as text ``YYYY-MM-DD``, computed by the database."""
        if self._session.get_bind().dialect.name == "postgresql":
            utc = func.timezone("UTC", column)
            return func.to_char(func.date_trunc("day", utc), "YYYY-MM-DD", type_=String())
        return func.strftime("%Y-%m-%d", column, type_=String())


def _decided_within(since: datetime, until: datetime) -> list[ColumnElement[bool]]:
    decided_at = CredentialRequestRecord.created_at
    return [decided_at >= since, decided_at < until]


def _conditions(where: DecisionFilter) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if where.outcome is not None:
        found.append(CredentialRequestRecord.outcome == where.outcome)
    if where.organization_key is not None:
        found.append(CredentialRequestRecord.organization_key == where.organization_key)
    if where.user_email_key is not None:
        found.append(CredentialRequestRecord.user_email_key == where.user_email_key)
    if where.client_address is not None:
        found.append(CredentialRequestRecord.client_address == where.client_address)
    if where.since is not None:
        found.append(CredentialRequestRecord.created_at >= where.since)
    if where.until is not None:
        found.append(CredentialRequestRecord.created_at < where.until)
    return found


def _entries() -> Select[CredentialRequestRecord, str | None]:
    return select(CredentialRequestRecord, CredentialRecord.id).outerjoin(
        CredentialRecord, CredentialRecord.credential_request_id == CredentialRequestRecord.id
    )
