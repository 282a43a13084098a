"""All SQL of the credential ledger. Built with the request's session; never commits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import Text as TextType

from agentkeys.credentials.models import CredentialRecord, CredentialRequestRecord
from agentkeys.credentials.policy import Outcome, QuotaUsage

RATE_LIMITED_OUTCOME = Outcome.RATE_LIMITED
# The longest a batch of last uses waits on a row lock (PostgreSQL's lock_timeout syntax).
USES_LOCK_TIMEOUT = "100ms"


@dataclass(frozen=True, slots=True)
class CredentialFilter:
    """Which credentials an operator asks for. Every field set narrows; ``None`` does not."""

    organization_key: str | None = None
    user_email_key: str | None = None
    # `active`, `expired` or `revoked`, as of ``now``.
    status: str | None = None
    # Credentials granted any of these names (a scope, or a coarse name that includes it).
    granted_any: tuple[str, ...] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    # Only these credentials (a few hundred at most: one bound parameter each).
    credential_ids: tuple[str, ...] | None = None


class CredentialOrder(StrEnum):
    """The columns an operator's table of credentials may be sorted by (a closed set: never a
    column name taken from a request)."""

    CREATED = "created"
    EXPIRES = "expires"
    LAST_USED = "last_used"
    ORGANIZATION = "organization"


@dataclass(frozen=True, slots=True)
class Position:
    """A place in the newest-first order: the last row a page showed."""

    created_at: datetime
    credential_id: str


IssuedCredential = tuple[CredentialRecord, CredentialRequestRecord]


class CredentialRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, credential_id: str, *, for_update: bool = False) -> CredentialRecord | None:
        statement = select(CredentialRecord).where(CredentialRecord.id == credential_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def get_issued(self, credential_id: str) -> IssuedCredential | None:
        """A credential with the ledger row of the decision that issued it."""
        statement = _issued().where(CredentialRecord.id == credential_id)
        row = (await self._session.execute(statement)).one_or_none()
        return None if row is None else (row[0], row[1])

    async def page(
        self, where: CredentialFilter, *, after: Position | None, limit: int, now: datetime
    ) -> list[IssuedCredential]:
        """Up to ``limit`` credentials, newest first (the id breaking ties), after ``after``.

        A keyset: the next page starts strictly after the last row shown, so rows inserted
        meanwhile (newer) never shift a page, and none is shown twice or skipped.
        """
        statement = _issued().where(*self._conditions(where, now=now))
        if after is not None:
            statement = statement.where(
                or_(
                    CredentialRecord.created_at < after.created_at,
                    and_(
                        CredentialRecord.created_at == after.created_at,
                        CredentialRecord.id < after.credential_id,
                    ),
                )
            )
        statement = statement.order_by(
            CredentialRecord.created_at.desc(), CredentialRecord.id.desc()
        ).limit(limit)
        return [(row[0], row[1]) for row in (await self._session.execute(statement)).all()]

    async def table(
        self,
        where: CredentialFilter,
        *,
        search: str | None,
        order: CredentialOrder,
        descending: bool,
        offset: int,
        limit: int,
        now: datetime,
    ) -> list[IssuedCredential]:
        """A page of the operator console's table: sorted by one whitelisted column (the id
        breaking ties, never used uses last), ``limit`` rows from ``offset``."""
        statement = _issued().where(*self._conditions(where, now=now))
        if search:
            statement = statement.where(_search(search))
        column = _ORDER_COLUMNS[order]
        sort = column.desc() if descending else column.asc()
        tie = CredentialRecord.id.desc() if descending else CredentialRecord.id.asc()
        statement = statement.order_by(sort.nulls_last(), tie).offset(offset).limit(limit)
        return [(row[0], row[1]) for row in (await self._session.execute(statement)).all()]

    async def count(self, where: CredentialFilter, *, search: str | None, now: datetime) -> int:
        """How many credentials match (the console's page count, a bulk revocation's preview)."""
        statement = (
            select(func.count())
            .select_from(CredentialRecord)
            .join(
                CredentialRequestRecord,
                CredentialRecord.credential_request_id == CredentialRequestRecord.id,
            )
            .where(*self._conditions(where, now=now))
        )
        if search:
            statement = statement.where(_search(search))
        counted: int = (await self._session.execute(statement)).scalar_one()
        return counted

    async def organization_names(
        self, where: CredentialFilter, *, now: datetime, limit: int
    ) -> list[str]:
        """The organization names, as the agents sent them (stored), of the credentials
        matching ``where``: distinct, sorted, at most ``limit``."""
        statement = (
            select(CredentialRequestRecord.organization_name)
            .distinct()
            .select_from(CredentialRecord)
            .join(
                CredentialRequestRecord,
                CredentialRecord.credential_request_id == CredentialRequestRecord.id,
            )
            .where(*self._conditions(where, now=now))
            .order_by(CredentialRequestRecord.organization_name)
            .limit(limit)
        )
        return list((await self._session.execute(statement)).scalars())

    async def active_for_update(
        self, where: CredentialFilter, *, now: datetime
    ) -> list[CredentialRecord]:
        """Every active credential matching ``where``, locked until the commit (PostgreSQL)."""
        active = CredentialFilter(
            organization_key=where.organization_key,
            user_email_key=where.user_email_key,
            status="active",
            created_before=where.created_before,
        )
        statement = (
            select(CredentialRecord)
            .where(*self._conditions(active, now=now))
            .order_by(CredentialRecord.created_at, CredentialRecord.id)
            .with_for_update()
        )
        return list((await self._session.execute(statement)).scalars())

    def _conditions(self, where: CredentialFilter, *, now: datetime) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if where.organization_key is not None:
            found.append(CredentialRecord.organization_key == where.organization_key)
        if where.user_email_key is not None:
            found.append(CredentialRecord.user_email_key == where.user_email_key)
        if where.status == "revoked":
            found.append(CredentialRecord.revoked_at.is_not(None))
        elif where.status == "active":
            found.append(
                CredentialRecord.revoked_at.is_(None) & (CredentialRecord.expires_at > now)
            )
        elif where.status == "expired":
            found.append(
                CredentialRecord.revoked_at.is_(None) & (CredentialRecord.expires_at <= now)
            )
        if where.granted_any is not None:
            found.append(self._granted_any(where.granted_any))
        if where.created_after is not None:
            found.append(CredentialRecord.created_at > where.created_after)
        if where.created_before is not None:
            found.append(CredentialRecord.created_at < where.created_before)
        if where.credential_ids is not None:
            found.append(CredentialRecord.id.in_(where.credential_ids))
        return found

    def _granted_any(self, names: tuple[str, ...]) -> ColumnElement[bool]:
        """The JSON list of granted scopes holds one of ``names`` (per backend's JSON support)."""
        if self._session.get_bind().dialect.name == "postgresql":
            held: ColumnElement[bool] = cast(CredentialRecord.scopes, JSONB).has_any(
                cast(list(names), ARRAY(TextType()))
            )
            return held
        granted = func.json_each(CredentialRecord.scopes).table_valued("value")
        found: ColumnElement[bool] = exists(
            select(literal(1)).select_from(granted).where(granted.c.value.in_(names))
        )
        return found

    async def record_uses(self, used_at: Mapping[str, datetime]) -> None:
        """Set each credential's ``last_used_at`` to its instant unless it holds a later one:
        one statement for the whole batch (executed for each row), rows in id order so that
        two processes flushing at once lock them in the same order (no deadlock).

        On PostgreSQL the batch waits at most ``USES_LOCK_TIMEOUT`` for a row another
        transaction holds (a revocation, a bulk one locking rows in another order): it gives way
        and fails, to be retried by the next flush, well before the deadlock detector
        (``deadlock_timeout``, 1 s) could pick the revocation as its victim.
        """
        if not used_at:
            return
        if self._session.get_bind().dialect.name == "postgresql":
            await self._session.execute(text(f"SET LOCAL lock_timeout = '{USES_LOCK_TIMEOUT}'"))
        table = cast_table(CredentialRecord)
        statement = (
            update(table)
            .where(table.c.id == bindparam("credential_id"))
            .where(or_(table.c.last_used_at.is_(None), table.c.last_used_at < bindparam("used_at")))
            .values(last_used_at=bindparam("used_at"))
        )
        rows = [
            {"credential_id": credential_id, "used_at": used_at[credential_id]}
            for credential_id in sorted(used_at)
        ]
        await self._session.execute(statement, rows)

    async def count_active(self, *, now: datetime) -> int:
        """Credentials neither revoked nor expired (a range of the partial index on expiry)."""
        statement = select(func.count()).where(
            CredentialRecord.revoked_at.is_(None) & (CredentialRecord.expires_at > now)
        )
        count: int = (await self._session.execute(statement)).scalar_one()
        return count

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


_ORDER_COLUMNS: dict[
    CredentialOrder, InstrumentedAttribute[datetime] | InstrumentedAttribute[str]
] = {
    CredentialOrder.CREATED: CredentialRecord.created_at,
    CredentialOrder.EXPIRES: CredentialRecord.expires_at,
    CredentialOrder.LAST_USED: CredentialRecord.last_used_at,  # type: ignore[dict-item]
    CredentialOrder.ORGANIZATION: CredentialRequestRecord.organization_name,
}


def _search(text_sought: str) -> ColumnElement[bool]:
    """Any of the credential's id, organization, user's name or e-mail, or agent contains the
    text, whatever its case (``%`` and ``_`` match themselves)."""
    request = CredentialRequestRecord.request
    fields = [
        CredentialRecord.id,
        CredentialRequestRecord.organization_name,
        request["user_email"].as_string(),
        request["user_name"].as_string(),
        request["agent"].as_string(),
    ]
    return or_(*(field.icontains(text_sought, autoescape=True) for field in fields))


def _issued() -> Select[CredentialRecord, CredentialRequestRecord]:
    return select(CredentialRecord, CredentialRequestRecord).join(
        CredentialRequestRecord,
        CredentialRecord.credential_request_id == CredentialRequestRecord.id,
    )


def cast_table(model: type[CredentialRecord]) -> Table:
    """The model's Core table (for statements executed once per row of a batch)."""
    table = model.__table__
    assert isinstance(table, Table)  # noqa: S101 - a declarative model maps one table
    return table
