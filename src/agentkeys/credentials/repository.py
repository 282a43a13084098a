"""All SQL of the credential ledger. Built with the request's session; never commits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ColumnElement,
    ScalarSelect,
    Select,
    Table,
    and_,
    bindparam,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import BindParameter, Label
from sqlalchemy.types import Text as TextType

from agentkeys.credentials.models import CredentialRecord, CredentialRequestRecord
from agentkeys.credentials.policy import Outcome, QuotaUsage
from agentkeys.db import compiled
from agentkeys.db.base import UTCDateTime
from agentkeys.db.engine import json_dumps

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

    def organization_issued(
        self, organization_key: str, *, network: str | None, window: timedelta, now: datetime
    ) -> Tally:
        """Credentials issued to one organization (from one network, unless None) in the window."""
        return tally_of(
            ORGANIZATION_ISSUED,
            organization_key=organization_key,
            network=network,
            since=now - window,
            window=window,
        )

    def email_issued(
        self, email_key: str, *, network: str | None, window: timedelta, now: datetime
    ) -> Tally:
        """Credentials issued to one e-mail key (from one network, unless None) in the window."""
        return tally_of(
            EMAIL_ISSUED, email_key=email_key, network=network, since=now - window, window=window
        )

    def organization_active(
        self, organization_key: str, *, network: str | None, now: datetime
    ) -> Tally:
        """Unexpired, unrevoked credentials of one organization; frees as the soonest expire."""
        return tally_of(
            ORGANIZATION_ACTIVE, organization_key=organization_key, network=network, now=now
        )

    def address_decisions(self, network: str, *, window: timedelta, now: datetime) -> Tally:
        """Decisions made for one client network within the window; refusals do not count."""
        return tally_of(ADDRESS_DECISIONS, network=network, since=now - window, window=window)

    async def counts(self, figures: Mapping[str, ColumnElement[int]]) -> dict[str, int]:
        """Every figure (a scalar count, ``Tally.count(cap)``) in one statement."""
        statement = select(*(figure.label(name) for name, figure in figures.items()))
        row = (await self._session.execute(statement)).one()
        return {name: int(value) for name, value in zip(figures, row, strict=True)}

    async def figures(
        self,
        wanted: tuple[Figure, ...],
        *,
        organization_key: str,
        email_key: str | None,
        network: str,
        now: datetime,
        constants: tuple[tuple[str, ScalarSelect[int]], ...] = (),
    ) -> tuple[dict[str, int], datetime | None]:
        """A decision's figures in one statement (one round trip), and when the network's
        newest counted decision was stamped (None: it has none). The statement is built once
        per shape and run with bound values: building it anew cost more CPU than running it."""
        statement = _figures_statement(wanted, constants)
        values: dict[str, Any] = {
            "organization_key": organization_key,
            "email_key": email_key,
            "network": network,
            "now": now,
        }
        _figure_values(values, wanted, now)
        # Core execution on the session's connection: a row of counts needs none of the ORM's
        # result processing (a fifth of this statement's CPU through Session.execute).
        connection = await self._session.connection()
        (row,) = await compiled.run(connection, statement, values)
        *counts, newest_at = row
        names = [figure.name for figure in wanted] + [name for name, _ in constants]
        names.append(NETWORK_ORDINAL)
        figures = {name: int(value or 0) for name, value in zip(names, counts, strict=True)}
        return figures, _decided_at(connection.dialect, newest_at)

    async def usage(self, tally: Tally, *, used: int, limit: int) -> QuotaUsage:
        """``used`` (counted up to ``limit``) as a quota's usage: when full, also when it frees.

        Only a refusal pays this second statement. One more is allowed once every event but the
        ``limit - 1`` newest has left the window (or, for active credentials, expired): the
        ``limit``-th newest event's instant (plus the window) — the same instant as the
        (used - limit + 1)-th oldest, found without knowing ``used`` beyond the limit.
        """
        if used < limit:
            return QuotaUsage(used=used)
        blocking = await self._session.execute(
            select(tally.timestamp)
            .where(tally.condition)
            .order_by(tally.timestamp.desc())
            .offset(limit - 1)
            .limit(1)
        )
        frees_at = blocking.scalar_one_or_none()
        if frees_at is None:
            # The counts and this read are two statements: a revocation (which takes no quota
            # lock) may have freed a place between them. The quota was full when counted, so
            # the answer still refuses, with the shortest wait: it has just freed.
            return QuotaUsage(used=used)
        return QuotaUsage(
            used=used, frees_at=frees_at if tally.window is None else frees_at + tally.window
        )

    async def record_decision(
        self, decision: Mapping[str, Any], credential: Mapping[str, Any] | None = None
    ) -> None:
        """Insert a decision's ledger row and, when it issued one, its credential: one statement
        on PostgreSQL (the credential selects the id its ledger row's insert returns), one
        after the other on SQLite (which has no data-modifying CTE; both in the transaction).
        Statements are built once per set of columns and run with bound values."""
        connection = await self._session.connection()  # Core inserts: no ORM unit of work
        if credential is not None and connection.dialect.name == "postgresql":
            statement = _ledger_and_credential(tuple(decision), tuple(credential))
            values = {f"r_{name}": value for name, value in decision.items()}
            values |= {f"c_{name}": value for name, value in credential.items()}
            await compiled.run(connection, statement, values)
            return
        await compiled.run(connection, _INSERT_LEDGER_ROW, decision, keys=tuple(decision))
        if credential is not None:
            await compiled.run(connection, _INSERT_CREDENTIAL, credential, keys=tuple(credential))

    @staticmethod
    async def record_if_room(
        connection: AsyncConnection,
        decision: Mapping[str, Any],
        credential: Mapping[str, Any] | None,
        *,
        room: Room,
        durable: bool,
        clear: tuple[Figure, ...] = (),
        none: tuple[tuple[str, ScalarSelect[int]], ...] = (),
    ) -> tuple[bool | None, dict[str, int]]:
        """PostgreSQL, on a connection with no transaction open: one statement, its own
        transaction, that reads the figures ``clear`` (over every network, each below its cap)
        and ``none`` (each 0), then, if all are so, records a counted decision (and its
        credential) if every quota of its client network still has room once its locks are
        held.

        True: recorded. False: a quota had no room. None: a figure was not clear, nothing was
        attempted. With the figures read. The decision's row takes the network's next running
        number and is stamped no earlier than the decision it follows, as
        ``record_decision``'s caller does under the locks.
        """
        values = record_values(decision, credential, room=room, durable=durable, clear=clear)
        statement = record_if_room_statement(clear, none)
        (row,) = await compiled.run(connection, statement, values, own_transaction=True)
        *counts, written = row
        names = [figure.name for figure in clear] + [name for name, _ in none]
        figures = {name: int(value) for name, value in zip(names, counts, strict=True)}
        return (None if written is None else bool(written)), figures


# No quota: no window start, no limit.
NO_QUOTA: tuple[datetime | None, int | None] = (None, None)


@dataclass(frozen=True, slots=True)
class Room:
    """What ``record_if_room`` checks under a decision's locks: each quota of the client network
    as (window start, limit), ``NO_QUOTA`` where the policy sets none."""

    locks: tuple[str, ...]
    network: str
    organization_key: str
    email_key: str | None
    now: datetime
    organization_issued: tuple[datetime | None, int | None] = NO_QUOTA
    email_issued: tuple[datetime | None, int | None] = NO_QUOTA
    organization_active_limit: int | None = None
    address_decisions: tuple[datetime | None, int | None] = NO_QUOTA


def record_values(
    decision: Mapping[str, Any],
    credential: Mapping[str, Any] | None,
    *,
    room: Room,
    durable: bool,
    clear: tuple[Figure, ...] = (),
) -> dict[str, Any]:
    """The bound values of ``record_if_room``'s statement."""
    values: dict[str, Any] = {
        "locks": sorted(set(room.locks)),
        "network": room.network,
        "organization_key": room.organization_key,
        "email_key": room.email_key,
        "now": room.now,
        "organization_issued_since": room.organization_issued[0],
        "organization_issued_limit": room.organization_issued[1],
        "email_issued_since": room.email_issued[0],
        "email_issued_limit": room.email_issued[1],
        "organization_active_limit": room.organization_active_limit,
        "address_since": room.address_decisions[0],
        "address_limit": room.address_decisions[1],
        "ledger": _row_json(decision),
        "credential": None if credential is None else _row_json(credential),
        "durable": durable,
    }
    _figure_values(values, clear, room.now)
    return values


def _row_json(values: Mapping[str, Any]) -> str:
    """A row's values as one JSON object (instants in ISO 8601 with their offset)."""
    return json_dumps(
        {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in values.items()
        }
    )


# What a decision counts (``tally_of``); a figure names one, per network or over every network.
ORGANIZATION_ISSUED = "organization_issued"
EMAIL_ISSUED = "email_issued"
ORGANIZATION_ACTIVE = "organization_active"
ADDRESS_DECISIONS = "address_decisions"
REFUSALS_STORED = "refusals_stored"


@dataclass(frozen=True, slots=True)
class Tally:
    """A quota's events: counted with the others in one statement, and ordered by
    ``timestamp`` to find when a full quota frees (that instant, plus ``window`` if any)."""

    timestamp: InstrumentedAttribute[datetime]
    condition: ColumnElement[bool]
    window: timedelta | None
    # How many events, read without visiting them (the address quota's running numbers);
    # None: they are counted.
    numbered: ColumnElement[int] | None = None

    def count(self, cap: Any) -> ColumnElement[int]:
        """How many events, counted up to ``cap`` (a quota's limit, an alarm's threshold):
        the work stays bounded by the cap however many events the window holds; a numbered
        tally is exact in a few index look-ups, whatever the cap."""
        if self.numbered is not None:
            return self.numbered
        capped = select(literal(1)).where(self.condition).limit(cap).subquery()
        return select(func.count()).select_from(capped).scalar_subquery()


@dataclass(frozen=True, slots=True)
class Figure:
    """One count a decision reads: ``tally`` (one of the names above), for the client network
    or over every network, in ``window`` before now (None: no window), counted up to ``cap``."""

    name: str
    tally: str
    per_network: bool
    window: timedelta | None
    cap: int

    @property
    def shape(self) -> tuple[str, str, bool, bool]:
        """What the statement depends on (caps and windows are bound values)."""
        return (self.name, self.tally, self.per_network, self.window is None)


def tally_of(
    tally: str,
    *,
    organization_key: Any = None,
    email_key: Any = None,
    network: Any = None,
    since: Any = None,
    now: Any = None,
    window: timedelta | None = None,
) -> Tally:
    """The events ``tally`` counts, narrowed to ``network`` unless it is None. Values or bound
    parameters alike (``_figures_statement`` passes parameters)."""
    credential, decided = CredentialRecord, CredentialRequestRecord
    if tally == ORGANIZATION_ISSUED:
        condition = _from(credential.organization_key == organization_key, network)
        return Tally(credential.created_at, condition & (credential.created_at > since), window)
    if tally == EMAIL_ISSUED:
        condition = _from(credential.user_email_key == email_key, network)
        return Tally(credential.created_at, condition & (credential.created_at > since), window)
    if tally == ORGANIZATION_ACTIVE:
        condition = (
            _from(credential.organization_key == organization_key, network)
            & credential.revoked_at.is_(None)
            & (credential.expires_at > now)
        )
        return Tally(credential.expires_at, condition, None)
    if tally == ADDRESS_DECISIONS:
        # The counted decisions (every outcome but rate_limited) are the numbered ones.
        counted = decided.network_ordinal.is_not(None)
        condition = (decided.client_network == network) & counted & (decided.created_at > since)
        numbered = _address_decisions_since(network, since)
        return Tally(decided.created_at, condition, window, numbered)
    if tally != REFUSALS_STORED:
        raise ValueError(f"unknown tally {tally!r}")
    refused = decided.outcome == RATE_LIMITED_OUTCOME
    condition = (decided.client_network == network) & refused & (decided.created_at > since)
    return Tally(decided.created_at, condition, window)


# The figure holding the client network's newest running number (0: none yet), which the
# decision's own row continues when it counts (``CredentialRequestRecord.network_ordinal``).
NETWORK_ORDINAL = "network_ordinal"


def _network_newest(network: Any, column: Any) -> ScalarSelect[Any]:
    """``column`` of the network's newest counted decision (NULL if none): the newest by time
    is the newest by number, as a counted decision is never stamped before the one it follows
    (``CredentialService``). One look-up in the partial index (client_network, created_at,
    network_ordinal)."""
    decided = CredentialRequestRecord
    return (
        select(column)
        .where(decided.client_network == network, decided.network_ordinal.is_not(None))
        .order_by(decided.created_at.desc(), decided.network_ordinal.desc())
        .limit(1)
        .scalar_subquery()
    )


def _address_decisions_since(network: Any, since: Any) -> ColumnElement[int]:
    """The network's counted decisions made after ``since``: the newest running number less
    the first one after ``since``, plus one (0 if none is). Only rows of the window are read,
    and no row of a window is ever deleted (``db prune`` keeps at least the longest window),
    whereas rows before it may be, or kept out of order (a live credential's decision)."""
    decided = CredentialRequestRecord
    first_after = (
        select(decided.network_ordinal)
        .where(
            decided.client_network == network,
            decided.network_ordinal.is_not(None),
            decided.created_at > since,
        )
        .order_by(decided.created_at, decided.network_ordinal)
        .limit(1)
        .scalar_subquery()
    )
    newest = _network_newest(network, decided.network_ordinal)
    return func.coalesce(newest - first_after + 1, 0)


def _decided_at(dialect: Any, value: Any) -> datetime | None:
    """A ``credential_requests.created_at`` read as the driver gives it, as a UTC instant."""
    process = _DECIDED_AT_READERS.get(dialect.name)
    if process is None:
        column_type = CredentialRequestRecord.__table__.c.created_at.type
        found = column_type.dialect_impl(dialect).result_processor(dialect, None)
        process = _DECIDED_AT_READERS[dialect.name] = found or (lambda raw: raw)
    decided_at: datetime | None = process(value)
    return decided_at


# The result processor of that column per dialect (SQLite stores text), found once.
_DECIDED_AT_READERS: dict[str, Callable[[Any], Any]] = {}


_STATEMENTS: dict[Any, Any] = {}
# Built statements kept by shape; a policy has a handful of shapes (with or without an e-mail).
_STATEMENTS_KEPT = 64


def _kept(key: Any, build: Any) -> Any:
    found = _STATEMENTS.get(key)
    if found is None:
        if len(_STATEMENTS) >= _STATEMENTS_KEPT:
            _STATEMENTS.clear()
        found = _STATEMENTS[key] = build()
    return found


def _figure_values(values: dict[str, Any], wanted: tuple[Figure, ...], now: datetime) -> None:
    """The bound values of ``wanted``'s counts (``_figure_count``): caps and window starts."""
    for figure in wanted:
        values[f"cap_{figure.name}"] = figure.cap
        if figure.window is not None:
            values[f"since_{figure.name}"] = now - figure.window


def _figure_count(figure: Figure) -> Label[int]:
    """``figure``'s count on bound parameters (``organization_key``, ``email_key``,
    ``network``, ``now``, and its own cap and window start), labelled with its name."""
    tally = tally_of(
        figure.tally,
        organization_key=bindparam("organization_key"),
        email_key=bindparam("email_key"),
        network=bindparam("network") if figure.per_network else None,
        since=bindparam(f"since_{figure.name}") if figure.window is not None else None,
        now=bindparam("now"),
    )
    return tally.count(bindparam(f"cap_{figure.name}")).label(figure.name)


def _figures_statement(
    wanted: tuple[Figure, ...], constants: tuple[tuple[str, ScalarSelect[int]], ...]
) -> Select[Any]:
    def build() -> Select[Any]:
        network: BindParameter[str] = bindparam("network")
        columns: list[Label[Any]] = [_figure_count(figure) for figure in wanted]
        columns += [constant.label(name) for name, constant in constants]
        decided = CredentialRequestRecord
        columns.append(_network_newest(network, decided.network_ordinal).label(NETWORK_ORDINAL))
        # Last: when it was stamped (``figures`` reads it apart from the counts).
        columns.append(_network_newest(network, decided.created_at).label("newest_decided_at"))
        statement: Select[Any] = select(*columns)
        return statement

    shape = tuple(figure.shape for figure in wanted)
    return cast_select(_kept(("figures", shape, constants), build))


def record_if_room_statement(
    clear: tuple[Figure, ...], none: tuple[tuple[str, ScalarSelect[int]], ...]
) -> Select[Any]:
    """``record_if_room``'s statement: the figures read once (a materialized CTE), then
    migration 0015's function (the locks, the client network's quotas counted afresh, the
    inserts) called only if each is clear; a volatile function is never called otherwise."""

    def build() -> Select[Any]:
        columns: list[Label[Any]] = [_figure_count(figure) for figure in clear]
        columns += [figure.label(name) for name, figure in none]
        checked = select(*columns).cte("checked").prefix_with("MATERIALIZED")
        conditions = [checked.c[f.name] < bindparam(f"cap_{f.name}") for f in clear]
        conditions += [checked.c[name] == 0 for name, _ in none]
        moment = UTCDateTime()
        call = func.agentkeys_record_decision(
            bindparam("locks", type_=ARRAY(TextType())),
            bindparam("network", type_=TextType()),
            bindparam("organization_key", type_=TextType()),
            bindparam("email_key", type_=TextType()),
            bindparam("now", type_=moment),
            bindparam("organization_issued_since", type_=moment),
            bindparam("organization_issued_limit", type_=BigInteger()),
            bindparam("email_issued_since", type_=moment),
            bindparam("email_issued_limit", type_=BigInteger()),
            bindparam("organization_active_limit", type_=BigInteger()),
            bindparam("address_since", type_=moment),
            bindparam("address_limit", type_=BigInteger()),
            cast(bindparam("ledger", type_=TextType()), JSON),
            cast(bindparam("credential", type_=TextType()), JSON),
            bindparam("durable", type_=Boolean()),
            type_=Boolean(),
        )
        written = case((and_(true(), *conditions), call), else_=null())
        statement: Select[Any] = select(*checked.c, written.label("recorded"))
        return statement

    shape = tuple(figure.shape for figure in clear)
    return cast_select(_kept(("record_if_room", shape, none), build))


def _ledger_and_credential(decision: tuple[str, ...], credential: tuple[str, ...]) -> Any:
    def build() -> Any:
        requests, credentials = cast_table(CredentialRequestRecord), cast_table(CredentialRecord)
        inserted = (
            insert(requests)
            .values(
                {name: bindparam(f"r_{name}", type_=requests.c[name].type) for name in decision}
            )
            .returning(requests.c.id)
            .cte("ledger_row")
        )
        names = [name for name in credential if name != "credential_request_id"]
        return insert(credentials).from_select(
            [*names, "credential_request_id"],
            select(
                *(bindparam(f"c_{name}", type_=credentials.c[name].type) for name in names),
                inserted.c.id,
            ),
        )

    return _kept(("ledger", decision, credential), build)


def cast_select(statement: Any) -> Select[Any]:
    assert isinstance(statement, Select)  # noqa: S101 - kept by _figures_statement only
    return statement


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


def cast_table(model: type[CredentialRecord] | type[CredentialRequestRecord]) -> Table:
    """The model's Core table (for statements executed once per row of a batch)."""
    table = model.__table__
    assert isinstance(table, Table)  # noqa: S101 - a declarative model maps one table
    return table


_INSERT_LEDGER_ROW = insert(cast_table(CredentialRequestRecord))
_INSERT_CREDENTIAL = insert(cast_table(CredentialRecord))
