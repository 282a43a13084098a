"""The admin feature's operations. Services never commit: the unit of work (the request's, or
the command line's) does, then announces revocations.

``AdminKeyService``: admin keys' life cycle for the command line (create, the secret shown once;
list; revoke). ``AdminCredentialService``: the admin API over every credential (list with
filters and cursor pages, read, revoke one or in bulk), through the credential feature's
``CredentialAdministration``. ``AdminDecisionService`` and ``DecisionExport``: the decision
ledger (pages, stats, the JSON Lines export), through the credential feature's ``DecisionLedger``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agentkeys import ids
from agentkeys.admin.models import NAME_MAX_LENGTH, AdminKeyRecord
from agentkeys.admin.repository import AdminKeyRepository
from agentkeys.admin.schemas import (
    AdminBulkRevocationDto,
    AdminBulkRevokeRequestDto,
    AdminCredentialDetailDto,
    AdminCredentialDto,
    AdminCredentialPageDto,
    AdminDecisionDto,
    AdminDecisionPageDto,
    AdminStatsDto,
    CredentialStatsDto,
    CredentialStatus,
    DecisionStatsDto,
    HourStatsDto,
    OrganizationStatsDto,
    OutcomeCountsDto,
    RevocationStatsDto,
)
from agentkeys.clock import Clock, format_instant, to_millisecond
from agentkeys.credentials.identity import AdminIdentity, AdminRole
from agentkeys.credentials.keys import ADMIN_KEYS
from agentkeys.credentials.ledger import DecisionFilter, DecisionLedger, LedgerPosition
from agentkeys.credentials.models import CredentialRecord, CredentialRequestRecord
from agentkeys.credentials.policy import Outcome, ScopeCatalog
from agentkeys.credentials.quota_keys import email_key, organization_key
from agentkeys.credentials.repository import CredentialFilter, CredentialOrder, Position
from agentkeys.credentials.service import CredentialAdministration
from agentkeys.db.engine import begin_write
from agentkeys.durations import parse_duration
from agentkeys.errors import DomainError, FieldError, NotFound, ValidationFailed, echo
from agentkeys.validation import parse_instant

# Shown in tables, logs and `revoked_by` (`admin:<name>`): letters, digits and . _ @ - only.
NAME_PATTERN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._@-]{{0,{NAME_MAX_LENGTH - 1}}}")


class AdminKeyProblem(DomainError):
    """A command-line request about admin keys that cannot be done (named, no traceback)."""


@dataclass(frozen=True, slots=True)
class CreatedAdminKey:
    record: AdminKeyRecord
    secret: str


# Who revokes through `agentkeys credentials revoke` (the people on the server): recorded as
# `admin:cli`, a name no admin key may take.
COMMAND_LINE = AdminIdentity(id="cli", name="cli", role=AdminRole.ADMIN)


def check_name(name: str) -> str:
    if NAME_PATTERN.fullmatch(name) is None:
        raise AdminKeyProblem(
            f"invalid name '{echo(name)}': 1-{NAME_MAX_LENGTH} characters, letters, digits and "
            ". _ @ - only, starting with a letter or digit"
        )
    if name.casefold() == COMMAND_LINE.name:
        raise AdminKeyProblem(
            f"the name '{name}' is reserved: revocations from the command line are recorded "
            f"as {COMMAND_LINE.actor}"
        )
    return name


class AdminKeyService:
    def __init__(self, session: AsyncSession, *, clock: Clock, server_secret: bytes) -> None:
        self._session = session
        self._repository = AdminKeyRepository(session)
        self._clock = clock
        self._server_secret = server_secret

    async def create(self, name: str, *, role: AdminRole) -> CreatedAdminKey:
        check_name(name)
        await begin_write(self._session, f"admin_key:{name}")
        if await self._repository.get_by_name(name) is not None:
            raise AdminKeyProblem(f"an admin key named '{name}' already exists")
        minted = ADMIN_KEYS.mint(server_secret=self._server_secret)
        record = AdminKeyRecord(
            id=ids.new_admin_key_id(),
            name=name,
            role=role.value,
            key_digest=minted.digest,
            created_at=to_millisecond(self._clock.now()),
        )
        self._repository.add(record)
        try:
            await self._repository.flush()
        except IntegrityError:  # a name taken meanwhile by another process
            raise AdminKeyProblem(f"an admin key named '{name}' already exists") from None
        return CreatedAdminKey(record=record, secret=minted.secret)

    async def list(self) -> list[AdminKeyRecord]:
        return await self._repository.all()

    async def active(self, key_id: str) -> AdminKeyRecord | None:
        """The admin key with this id unless it is unknown or revoked (read now, no cache: the
        console checks its sessions' keys on every request)."""
        record = await self._repository.get(key_id)
        return record if record is not None and record.revoked_at is None else None

    async def revoke(self, key_id: str) -> tuple[AdminKeyRecord, bool]:
        """Revoke at once; the record and whether this call revoked it (False: already was)."""
        await begin_write(self._session)
        record = await self._repository.get(key_id, for_update=True)
        if record is None:
            raise NotFound(f"no admin key with id '{echo(key_id)}' (see agentkeys admin list-keys)")
        if record.revoked_at is not None:
            return record, False
        record.revoked_at = to_millisecond(self._clock.now())
        await self._repository.flush()
        return record, True


# The admin API over every credential.

CURSOR_CONTEXT = b"agentkeys admin credentials cursor:"
CURSOR_SIGNATURE_BYTES = 16
# A bulk revocation's page names the organization as stored: its few spellings, not hundreds.
ORGANIZATION_NAMES_SHOWN = 10
# Credential ids per query (one bound parameter each: far below every database's limit).
ID_BATCH = 500


@dataclass(frozen=True, slots=True)
class CredentialQuery:
    """The listing's filters as an operator gives them (validated by the route)."""

    organization: str | None = None
    user_email: str | None = None
    status: str | None = None
    scope: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


@dataclass(frozen=True, slots=True)
class CredentialTable:
    """A page of the console's table and how many credentials match in all."""

    items: list[AdminCredentialDto]
    total: int


def cursor_problem() -> ValidationFailed:
    return ValidationFailed(
        [FieldError("cursor", "Not a cursor this API gave: pass next_cursor back unchanged")]
    )


class CursorCodec:
    """Opaque cursors: the last row's (created_at, id), signed with the server secret, so a
    cursor cannot be forged or altered (any change is refused, 400) and says nothing useful.
    Each listing signs with a context of its own: one listing's cursor is refused by another."""

    def __init__(self, server_secret: bytes, *, context: bytes = CURSOR_CONTEXT) -> None:
        self._secret = server_secret
        self._context = context

    def for_context(self, context: bytes) -> CursorCodec:
        """The same secret, signing for another listing."""
        return CursorCodec(self._secret, context=context)

    def _signature(self, payload: bytes) -> bytes:
        digest = hmac.new(self._secret, self._context + payload, hashlib.sha256).digest()
        return digest[:CURSOR_SIGNATURE_BYTES]

    def encode(self, position: Position) -> str:
        return self.encode_key(position.created_at, position.credential_id)

    def decode(self, cursor: str) -> Position:
        created_at, credential_id = self.decode_key(cursor)
        return Position(created_at=created_at, credential_id=credential_id)

    def encode_key(self, instant: datetime, row_id: str) -> str:
        milliseconds = round(instant.timestamp() * 1000)
        payload = f"{milliseconds}:{row_id}".encode()
        return _b64(payload) + "." + _b64(self._signature(payload))

    def decode_key(self, cursor: str) -> tuple[datetime, str]:
        encoded_payload, dot, encoded_signature = cursor.partition(".")
        try:
            payload = _unb64(encoded_payload)
            signature = _unb64(encoded_signature)
        except ValueError:
            raise cursor_problem() from None
        if not dot or not hmac.compare_digest(signature, self._signature(payload)):
            raise cursor_problem()
        milliseconds, _, row_id = payload.decode().partition(":")
        return datetime.fromtimestamp(int(milliseconds) / 1000, tz=UTC), row_id


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    if not text or not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError("not base64url")
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("not base64url") from None
    # One spelling per value: the last character's unused bits could otherwise be changed and
    # still decode to the same bytes (an altered cursor that is accepted).
    if _b64(decoded) != text:
        raise ValueError("not canonical base64url")
    return decoded


def _instant(value: datetime | None) -> str | None:
    return None if value is None else format_instant(value)


def _text(request: Mapping[str, Any], field: str) -> str | None:
    value = request.get(field)
    return value if isinstance(value, str) else None


def credential_view(
    record: CredentialRecord, decision: CredentialRequestRecord, *, now: datetime
) -> AdminCredentialDto:
    request = decision.request
    status: CredentialStatus
    if record.revoked_at is not None:
        status = "revoked"
    elif now >= record.expires_at:
        status = "expired"
    else:
        status = "active"
    return AdminCredentialDto(
        credential_id=record.id,
        organization_name=decision.organization_name,
        user_name=_text(request, "user_name"),
        user_email=_text(request, "user_email"),
        agent=_text(request, "agent"),
        client=_text(request, "client"),
        assignment=_text(request, "assignment"),
        scopes=list(record.scopes),
        environment=record.environment,
        status=status,
        created_at=format_instant(record.created_at),
        expires_at=format_instant(record.expires_at),
        last_used_at=_instant(record.last_used_at),
        revoked_at=_instant(record.revoked_at),
        revoked_by=record.revoked_by,
        revocation_reason=record.revocation_reason,
        credential_request_id=record.credential_request_id,
    )


def decision_view(
    decision: CredentialRequestRecord, *, credential_id: str | None
) -> AdminDecisionDto:
    """A ledger row as an operator sees it: one shape for the ledger and a credential's detail."""
    details = decision.details
    needs_more_info = decision.outcome == Outcome.NEEDS_MORE_INFO
    rate_limited = decision.outcome == Outcome.RATE_LIMITED
    exhausted = [str(kind) for kind in details.get("exhausted", [])] if rate_limited else None
    retry_after = details.get("retry_after_seconds") if rate_limited else None
    return AdminDecisionDto(
        credential_request_id=decision.id,
        request_id=decision.request_id,
        decided_at=format_instant(decision.created_at),
        outcome=decision.outcome,
        organization_name=decision.organization_name,
        user_email=_text(decision.request, "user_email"),
        client_address=decision.client_address,
        client_network=decision.client_network,
        credential_id=credential_id,
        request=decision.request,
        missing_fields=_names(details, "missing_fields") if needs_more_info else None,
        unknown_scopes=_names(details, "unknown_scopes") if needs_more_info else None,
        unclear_fields=_names(details, "unclear_fields") if needs_more_info else None,
        retry_after_seconds=retry_after if isinstance(retry_after, int) else None,
        quota=exhausted[0] if exhausted else None,
        exhausted_quotas=exhausted,
        details=details,
    )


def _names(details: Mapping[str, Any], field: str) -> list[str]:
    value = details.get(field)
    return [str(name) for name in value] if isinstance(value, list) else []


class AdminCredentialService:
    """The admin API's operations; credentials' own rules (and SQL) stay in ``credentials``."""

    def __init__(
        self,
        credentials: CredentialAdministration,
        *,
        catalog: ScopeCatalog,
        cursors: CursorCodec,
    ) -> None:
        self._credentials = credentials
        self._catalog = catalog
        self._cursors = cursors

    def _granting(self, scope: str) -> tuple[str, ...]:
        """Granted names that let a credential use ``scope``: itself, and every coarse name
        including it (``homes:read``: ``homes``); a coarse name matches itself only."""
        if not self._catalog.is_known(scope):
            raise ValidationFailed(
                [
                    FieldError(
                        "scope",
                        f"Unknown scope '{echo(scope)}'; known: "
                        + ", ".join(self._catalog.grantable_names()),
                    )
                ]
            )
        coarse = [name for name, members in self._catalog.aliases.items() if scope in members]
        return (scope, *sorted(coarse))

    def _filter(self, query: CredentialQuery) -> CredentialFilter:
        return CredentialFilter(
            organization_key=(
                organization_key(query.organization) if query.organization is not None else None
            ),
            user_email_key=email_key(query.user_email) if query.user_email is not None else None,
            status=query.status,
            granted_any=self._granting(query.scope) if query.scope is not None else None,
            created_after=query.created_after,
            created_before=query.created_before,
        )

    async def list(
        self, query: CredentialQuery, *, cursor: str | None, limit: int
    ) -> AdminCredentialPageDto:
        where = self._filter(query)
        after = self._cursors.decode(cursor) if cursor is not None else None
        now = self._credentials.now()
        # One row more than asked: whether another page exists, without a count.
        rows = await self._credentials.page(where, after=after, limit=limit + 1, now=now)
        shown = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = shown[-1][0]
            next_cursor = self._cursors.encode(
                Position(created_at=last.created_at, credential_id=last.id)
            )
        return AdminCredentialPageDto(
            items=[credential_view(record, decision, now=now) for record, decision in shown],
            next_cursor=next_cursor,
        )

    async def table(
        self,
        query: CredentialQuery,
        *,
        search: str | None,
        order: CredentialOrder,
        descending: bool,
        offset: int,
        limit: int,
    ) -> CredentialTable:
        """The operator console's table: the listing's filters, a search, one sort column, and
        numbered pages (with the count of every match)."""
        now = self._credentials.now()
        rows, total = await self._credentials.table(
            self._filter(query),
            search=search,
            order=order,
            descending=descending,
            offset=offset,
            limit=limit,
            now=now,
        )
        return CredentialTable(
            items=[credential_view(record, decision, now=now) for record, decision in rows],
            total=total,
        )

    async def count_revocable(self, organization: str) -> int:
        """How many credentials a bulk revocation of ``organization`` would revoke now."""
        where = self._filter(CredentialQuery(organization=organization, status="active"))
        return await self._credentials.count(where, now=self._credentials.now())

    async def revocable_organization_names(self, organization: str) -> tuple[str, ...]:
        """The organization's names as stored (the agents' spelling, not the operator's) on the
        active credentials a bulk revocation of ``organization`` would revoke now."""
        where = self._filter(CredentialQuery(organization=organization, status="active"))
        return tuple(
            await self._credentials.organization_names(
                where, now=self._credentials.now(), limit=ORGANIZATION_NAMES_SHOWN
            )
        )

    async def organization_names_of(self, credential_ids: Sequence[str]) -> tuple[str, ...]:
        """The organization names as stored of these credentials (a bulk revocation's)."""
        names: set[str] = set()
        now = self._credentials.now()
        for start in range(0, len(credential_ids), ID_BATCH):
            batch = tuple(credential_ids[start : start + ID_BATCH])
            names.update(
                await self._credentials.organization_names(
                    CredentialFilter(credential_ids=batch), now=now, limit=ORGANIZATION_NAMES_SHOWN
                )
            )
        return tuple(sorted(names)[:ORGANIZATION_NAMES_SHOWN])

    async def get(self, credential_id: str) -> AdminCredentialDetailDto:
        record, decision = await self._credentials.get(credential_id)
        view = credential_view(record, decision, now=self._credentials.now())
        return AdminCredentialDetailDto(
            **view.model_dump(), decision=decision_view(decision, credential_id=record.id)
        )

    async def revoke(
        self, credential_id: str, *, admin: AdminIdentity, reason: str
    ) -> AdminCredentialDto:
        return (await self.revoke_reporting(credential_id, admin=admin, reason=reason))[0]

    async def revoke_reporting(
        self, credential_id: str, *, admin: AdminIdentity, reason: str
    ) -> tuple[AdminCredentialDto, bool]:
        """``revoke``, and whether this call revoked it (False: it already was; the first
        revocation's time, actor and reason are kept)."""
        admin.require_admin()
        (record, decision), revoked = await self._credentials.revoke_reporting(
            credential_id, actor=admin.actor, reason=reason
        )
        return credential_view(record, decision, now=self._credentials.now()), revoked

    async def revoke_matching(
        self, body: AdminBulkRevokeRequestDto, *, admin: AdminIdentity
    ) -> AdminBulkRevocationDto:
        admin.require_admin()
        where = CredentialFilter(
            organization_key=(
                organization_key(body.organization) if body.organization is not None else None
            ),
            user_email_key=email_key(body.user_email) if body.user_email is not None else None,
            created_before=(
                parse_instant(body.created_before) if body.created_before is not None else None
            ),
        )
        revoked = await self._credentials.revoke_matching(
            where, actor=admin.actor, reason=body.reason
        )
        return AdminBulkRevocationDto(revoked=len(revoked), credential_ids=revoked)


# The decision ledger: pages, the export, and the stats.

DECISIONS_CURSOR_CONTEXT = b"agentkeys admin decisions cursor:"
# Rows per export batch: each batch is one short read in a session of its own.
EXPORT_BATCH_ROWS = 500
TOP_ORGANIZATIONS = 10
SHORTEST_WINDOW = timedelta(hours=1)
LONGEST_WINDOW = timedelta(days=30)
ONE_MILLISECOND = timedelta(milliseconds=1)
ONE_HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class DecisionQuery:
    """The ledger's filters as an operator gives them (validated by the route or command)."""

    outcome: str | None = None
    organization: str | None = None
    user_email: str | None = None
    client_address: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def decision_filter(query: DecisionQuery) -> DecisionFilter:
    """The ledger's filter: names and e-mails by their quota identity, an IP address in its
    canonical form (as the ledger stores it), anything else as given."""
    if query.outcome is not None and query.outcome not in {o.value for o in Outcome}:
        raise ValidationFailed(
            [FieldError("outcome", "Must be one of: " + ", ".join(o.value for o in Outcome))]
        )
    return DecisionFilter(
        outcome=query.outcome,
        organization_key=(
            organization_key(query.organization) if query.organization is not None else None
        ),
        user_email_key=email_key(query.user_email) if query.user_email is not None else None,
        client_address=(
            _canonical_address(query.client_address) if query.client_address is not None else None
        ),
        since=query.since,
        until=query.until,
    )


def _canonical_address(text: str) -> str:
    try:
        return str(ip_address(text.strip().split("%", 1)[0]))
    except ValueError:
        return text


def parse_window(text: str) -> timedelta:
    """``1h`` to ``30d``: hours (``h``) or days (``d``); anything else is refused, naming it."""
    try:
        window: timedelta | None = parse_duration(text)
    except ValueError:
        window = None
    if window is None or not SHORTEST_WINDOW <= window <= LONGEST_WINDOW:
        raise ValidationFailed(
            [
                FieldError(
                    "window",
                    "Must be from 1h to 30d, written as a whole number and m, h, d or w, "
                    "like 1h, 24h, 7d or 30d",
                )
            ]
        )
    return window


def _hour_start(instant: datetime) -> datetime:
    return instant.replace(minute=0, second=0, microsecond=0)


def _by_outcome(counts: Mapping[str, int]) -> OutcomeCountsDto:
    return OutcomeCountsDto(**{outcome.value: counts.get(outcome.value, 0) for outcome in Outcome})


@dataclass(frozen=True, slots=True)
class DailyCounts:
    """Decisions per outcome on one UTC day."""

    day: datetime
    by_outcome: dict[str, int]


class AdminDecisionService:
    """The ledger read by operators: filtered pages newest first, and the stats of a window."""

    def __init__(self, ledger: DecisionLedger, *, clock: Clock, cursors: CursorCodec) -> None:
        self._ledger = ledger
        self._clock = clock
        self._cursors = cursors

    async def list(
        self, query: DecisionQuery, *, cursor: str | None, limit: int
    ) -> AdminDecisionPageDto:
        where = decision_filter(query)
        after = None
        if cursor is not None:
            decided_at, row_id = self._cursors.decode_key(cursor)
            after = LedgerPosition(decided_at=decided_at, credential_request_id=row_id)
        # One row more than asked: whether another page exists, without a count.
        rows = await self._ledger.page(where, after=after, limit=limit + 1)
        shown = rows[:limit]
        next_cursor = None
        if len(rows) > limit:
            last = shown[-1][0]
            next_cursor = self._cursors.encode_key(last.created_at, last.id)
        return AdminDecisionPageDto(
            items=[decision_view(row, credential_id=issued) for row, issued in shown],
            next_cursor=next_cursor,
        )

    async def daily(self, *, days: int) -> tuple[DailyCounts, ...]:
        """Decisions per UTC day and outcome over the last ``days`` days (today included), every
        day listed, counted by the database (one GROUP BY)."""
        now = to_millisecond(self._clock.now())
        first = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
        counted: dict[datetime, dict[str, int]] = {
            first + timedelta(days=offset): {} for offset in range(days)
        }
        for row in await self._ledger.count_by_day(since=first, until=now + ONE_MILLISECOND):
            counted.setdefault(row.hour, {})[row.outcome] = row.count
        return tuple(
            DailyCounts(day=day, by_outcome=counts) for day, counts in sorted(counted.items())
        )

    async def stats(self, window_text: str) -> AdminStatsDto:
        window = parse_window(window_text)
        now = to_millisecond(self._clock.now())
        since = now - window
        # The window is [since, now]: a decision made at this very millisecond counts.
        until = now + ONE_MILLISECOND
        by_outcome = {
            row.name: row.count
            for row in await self._ledger.count_by_outcome(since=since, until=until)
        }
        hours: dict[datetime, dict[str, int]] = {}
        hour = _hour_start(since)
        while hour <= now:
            hours[hour] = {}
            hour += ONE_HOUR
        for counted in await self._ledger.count_by_hour(since=since, until=until):
            hours.setdefault(counted.hour, {})[counted.outcome] = counted.count
        top = await self._ledger.top_organizations(
            since=since, until=until, limit=TOP_ORGANIZATIONS
        )
        revokers = await self._ledger.revocations_by(since=since, until=until)
        return AdminStatsDto(
            window=window_text,
            window_seconds=int(window.total_seconds()),
            since=format_instant(since),
            until=format_instant(now),
            decisions=DecisionStatsDto(
                total=sum(by_outcome.values()), by_outcome=_by_outcome(by_outcome)
            ),
            decisions_by_hour=[
                HourStatsDto(
                    hour=format_instant(start),
                    total=sum(counts.values()),
                    by_outcome=_by_outcome(counts),
                )
                for start, counts in sorted(hours.items())
            ],
            credentials=CredentialStatsDto(
                issued=await self._ledger.credentials_issued(since=since, until=until),
                active=await self._ledger.credentials_active(now=now),
            ),
            top_organizations=[
                OrganizationStatsDto(
                    organization=row.organization_key,
                    organization_name=row.organization_name,
                    decisions=row.count,
                )
                for row in top
            ],
            revocations=RevocationStatsDto(
                total=sum(row.count for row in revokers),
                by_revoked_by={row.name: row.count for row in revokers},
            ),
        )


class DecisionExport:
    """The ledger as JSON Lines, oldest first, the listing's entry shape one per line.

    Memory is bounded by one batch whatever the ledger's size, and each batch is read in a
    short session of its own: no connection, transaction or SQLite lock is held while the
    client reads, and a client that goes away stops the reading at the next batch. The export
    ends at the instant it began (a later ``until`` is cut there), so it always ends.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        clock: Clock,
        batch_rows: int | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._batch_rows = batch_rows or EXPORT_BATCH_ROWS

    def prepare(self, query: DecisionQuery) -> DecisionFilter:
        """The filter the export will read: refused here, before any line is sent."""
        where = decision_filter(query)
        began = to_millisecond(self._clock.now()) + ONE_MILLISECOND
        until = began if where.until is None else min(where.until, began)
        return replace(where, until=until)

    async def lines(self, where: DecisionFilter) -> AsyncIterator[bytes]:
        """Each batch's lines as one chunk."""
        after: LedgerPosition | None = None
        while True:
            async with self._sessions() as session:
                rows = await DecisionLedger(session).page(
                    where, after=after, limit=self._batch_rows, newest_first=False
                )
            if not rows:
                return
            yield b"".join(
                decision_view(row, credential_id=issued).model_dump_json().encode() + b"\n"
                for row, issued in rows
            )
            if len(rows) < self._batch_rows:
                return
            last = rows[-1][0]
            after = LedgerPosition(decided_at=last.created_at, credential_request_id=last.id)
