"""All SQL of webhooks. Built with a session; never commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentkeys.credentials.models import CredentialRecord, CredentialRequestRecord
from agentkeys.webhooks.models import (
    WebhookAttemptRecord,
    WebhookEndpointRecord,
    WebhookMessageRecord,
    WebhookSweepRecord,
)

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"


class WebhookRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def add(
        self, record: WebhookEndpointRecord | WebhookMessageRecord | WebhookAttemptRecord
    ) -> None:
        self._session.add(record)

    async def flush(self) -> None:
        await self._session.flush()

    async def endpoint(
        self, endpoint_id: str, *, for_update: bool = False
    ) -> WebhookEndpointRecord | None:
        statement = select(WebhookEndpointRecord).where(WebhookEndpointRecord.id == endpoint_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self._session.execute(statement)).scalar_one_or_none()

    async def endpoints(self) -> list[WebhookEndpointRecord]:
        statement = select(WebhookEndpointRecord).order_by(
            WebhookEndpointRecord.created_at, WebhookEndpointRecord.id
        )
        return list((await self._session.execute(statement)).scalars())

    async def enabled_endpoints(self) -> list[WebhookEndpointRecord]:
        statement = select(WebhookEndpointRecord).where(WebhookEndpointRecord.enabled.is_(True))
        return list((await self._session.execute(statement)).scalars())

    async def delete_endpoint(self, endpoint_id: str) -> None:
        # Attempts and messages first: SQLite enforces the keys but cascades only when asked.
        for model in (WebhookAttemptRecord, WebhookMessageRecord):
            await self._session.execute(delete(model).where(model.endpoint_id == endpoint_id))
        await self._session.execute(
            delete(WebhookEndpointRecord).where(WebhookEndpointRecord.id == endpoint_id)
        )

    async def attempts(self, endpoint_id: str, *, limit: int) -> list[WebhookAttemptRecord]:
        statement = (
            select(WebhookAttemptRecord)
            .where(WebhookAttemptRecord.endpoint_id == endpoint_id)
            .order_by(WebhookAttemptRecord.attempted_at.desc(), WebhookAttemptRecord.id.desc())
            .limit(limit)
        )
        return list((await self._session.execute(statement)).scalars())

    async def message(self, message_id: str) -> WebhookMessageRecord | None:
        return await self._session.get(WebhookMessageRecord, message_id)

    async def any_due(self, *, now: datetime) -> bool:
        statement = (
            select(WebhookMessageRecord.id)
            .join(
                WebhookEndpointRecord, WebhookEndpointRecord.id == WebhookMessageRecord.endpoint_id
            )
            .where(
                WebhookMessageRecord.status == PENDING,
                WebhookMessageRecord.next_attempt_at <= now,
                WebhookEndpointRecord.enabled.is_(True),
            )
            .limit(1)
        )
        return (await self._session.execute(statement)).first() is not None

    async def claim_due(self, *, now: datetime, limit: int) -> list[WebhookMessageRecord]:
        """Pending messages due by ``now`` to enabled endpoints, locked: on PostgreSQL another
        replica's claim skips them (``SKIP LOCKED``), so each message is claimed by one."""
        statement = (
            select(WebhookMessageRecord)
            .join(
                WebhookEndpointRecord, WebhookEndpointRecord.id == WebhookMessageRecord.endpoint_id
            )
            .where(
                WebhookMessageRecord.status == PENDING,
                WebhookMessageRecord.next_attempt_at <= now,
                WebhookEndpointRecord.enabled.is_(True),
            )
            .order_by(WebhookMessageRecord.next_attempt_at, WebhookMessageRecord.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=WebhookMessageRecord)
        )
        return list((await self._session.execute(statement)).scalars())

    async def sweep_mark(self, name: str) -> WebhookSweepRecord | None:
        statement = (
            select(WebhookSweepRecord).where(WebhookSweepRecord.name == name).with_for_update()
        )
        return (await self._session.execute(statement)).scalar_one_or_none()

    def add_sweep_mark(self, record: WebhookSweepRecord) -> None:
        self._session.add(record)

    async def expired_between(
        self, after: datetime, until: datetime
    ) -> list[tuple[CredentialRecord, str]]:
        """Credentials unrevoked whose life ended in (after, until], oldest first, each with
        its organization's name as the request gave it. A range of the partial index
        ``ix_credentials_active_expires_at``: a key revoked after it expired but before the
        sweep saw it (at most ``SWEEP_SECONDS``) is reported revoked only."""
        statement = (
            select(CredentialRecord, CredentialRequestRecord.organization_name)
            .join(
                CredentialRequestRecord,
                CredentialRequestRecord.id == CredentialRecord.credential_request_id,
            )
            .where(
                CredentialRecord.expires_at > after,
                CredentialRecord.expires_at <= until,
                CredentialRecord.revoked_at.is_(None),
            )
            .order_by(CredentialRecord.expires_at, CredentialRecord.id)
        )
        return [(row[0], row[1]) for row in (await self._session.execute(statement)).all()]

    async def organization_of(self, credential_request_id: str) -> str | None:
        statement = select(CredentialRequestRecord.organization_name).where(
            CredentialRequestRecord.id == credential_request_id
        )
        return (await self._session.execute(statement)).scalar_one_or_none()
