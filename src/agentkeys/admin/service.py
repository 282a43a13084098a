"""The admin feature's operations. Services never commit: the unit of work (the request's, or
the command line's) does, then announces revocations.

``AdminKeyService``: admin keys' life cycle for the command line (create, the secret shown once;
list; revoke). ``AdminCredentialService``: the admin API over every credential (list with
filters and cursor pages, read, revoke one or in bulk), through the credential feature's
``CredentialAdministration``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

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
    CredentialStatus,
)
from agentkeys.clock import Clock, format_instant, to_millisecond
from agentkeys.credentials.identity import AdminIdentity, AdminRole
from agentkeys.credentials.keys import ADMIN_KEYS
from agentkeys.credentials.models import CredentialRecord, CredentialRequestRecord
from agentkeys.credentials.policy import ScopeCatalog
from agentkeys.credentials.quota_keys import email_key, organization_key
from agentkeys.credentials.repository import CredentialFilter, Position
from agentkeys.credentials.service import CredentialAdministration
from agentkeys.db.engine import begin_write
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


def check_name(name: str) -> str:
    if NAME_PATTERN.fullmatch(name) is None:
        raise AdminKeyProblem(
            f"invalid name '{echo(name)}': 1-{NAME_MAX_LENGTH} characters, letters, digits and "
            ". _ @ - only, starting with a letter or digit"
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


@dataclass(frozen=True, slots=True)
class CredentialQuery:
    """The listing's filters as an operator gives them (validated by the route)."""

    organization: str | None = None
    user_email: str | None = None
    status: str | None = None
    scope: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def cursor_problem() -> ValidationFailed:
    return ValidationFailed(
        [FieldError("cursor", "Not a cursor this API gave: pass next_cursor back unchanged")]
    )


class CursorCodec:
    """Opaque cursors: the last row's (created_at, id), signed with the server secret, so a
    cursor cannot be forged or altered (any change is refused, 400) and says nothing useful."""

    def __init__(self, server_secret: bytes) -> None:
        self._secret = server_secret

    def _signature(self, payload: bytes) -> bytes:
        digest = hmac.new(self._secret, CURSOR_CONTEXT + payload, hashlib.sha256).digest()
        return digest[:CURSOR_SIGNATURE_BYTES]

    def encode(self, position: Position) -> str:
        milliseconds = round(position.created_at.timestamp() * 1000)
        payload = f"{milliseconds}:{position.credential_id}".encode()
        return _b64(payload) + "." + _b64(self._signature(payload))

    def decode(self, cursor: str) -> Position:
        encoded_payload, dot, encoded_signature = cursor.partition(".")
        try:
            payload = _unb64(encoded_payload)
            signature = _unb64(encoded_signature)
        except ValueError:
            raise cursor_problem() from None
        if not dot or not hmac.compare_digest(signature, self._signature(payload)):
            raise cursor_problem()
        milliseconds, _, credential_id = payload.decode().partition(":")
        created_at = datetime.fromtimestamp(int(milliseconds) / 1000, tz=UTC)
        return Position(created_at=created_at, credential_id=credential_id)


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


def decision_view(decision: CredentialRequestRecord) -> AdminDecisionDto:
    return AdminDecisionDto(
        credential_request_id=decision.id,
        request_id=decision.request_id,
        decided_at=format_instant(decision.created_at),
        outcome=decision.outcome,
        client_address=decision.client_address,
        client_network=decision.client_network,
        request=decision.request,
        details=decision.details,
    )


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

    async def list(
        self, query: CredentialQuery, *, cursor: str | None, limit: int
    ) -> AdminCredentialPageDto:
        where = CredentialFilter(
            organization_key=(
                organization_key(query.organization) if query.organization is not None else None
            ),
            user_email_key=email_key(query.user_email) if query.user_email is not None else None,
            status=query.status,
            granted_any=self._granting(query.scope) if query.scope is not None else None,
            created_after=query.created_after,
            created_before=query.created_before,
        )
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

    async def get(self, credential_id: str) -> AdminCredentialDetailDto:
        record, decision = await self._credentials.get(credential_id)
        view = credential_view(record, decision, now=self._credentials.now())
        return AdminCredentialDetailDto(**view.model_dump(), decision=decision_view(decision))

    async def revoke(
        self, credential_id: str, *, admin: AdminIdentity, reason: str
    ) -> AdminCredentialDto:
        admin.require_admin()
        record, decision = await self._credentials.revoke(
            credential_id, actor=admin.actor, reason=reason
        )
        return credential_view(record, decision, now=self._credentials.now())

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
