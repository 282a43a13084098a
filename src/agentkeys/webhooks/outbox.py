"""The outbox: an event becomes one message row per subscribed endpoint, added to the session of
its cause, so both commit together or neither does (no event without its cause, no cause
without its event). The delivery worker sends them after the commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ScalarSelect, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agentkeys import ids
from agentkeys.clock import format_instant, to_millisecond
from agentkeys.credentials.models import CredentialRecord
from agentkeys.webhooks.events import EventType, payload
from agentkeys.webhooks.models import WebhookEndpointRecord, WebhookMessageRecord
from agentkeys.webhooks.repository import PENDING, WebhookRepository

# What revoked_by records for a key reported leaked (leak reports).
LEAK_ACTOR = "leak"


def message_for(
    endpoint_id: str, event_type: str, *, data: dict[str, Any], now: datetime
) -> WebhookMessageRecord:
    now = to_millisecond(now)
    return WebhookMessageRecord(
        id=ids.new_webhook_message_id(),
        endpoint_id=endpoint_id,
        event_type=event_type,
        payload=payload(event_type, timestamp=now, data=data),
        status=PENDING,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


# How many endpoints are enabled, as a scalar count to read with a decision's quota counts:
# with none (the usual case) ``emit`` need not be called, and its look-up is saved.
ENABLED_ENDPOINTS: ScalarSelect[int] = (
    select(func.count()).where(WebhookEndpointRecord.enabled.is_(True)).scalar_subquery()
)


def _subscribed(endpoint: WebhookEndpointRecord, event_type: EventType) -> bool:
    return event_type.value in endpoint.events


async def emit(
    session: AsyncSession, event_type: EventType, *, data: dict[str, Any], now: datetime
) -> int:
    """Queue ``event_type`` for every enabled endpoint subscribed to it; how many messages."""
    repository = WebhookRepository(session)
    endpoints = [e for e in await repository.enabled_endpoints() if _subscribed(e, event_type)]
    for endpoint in endpoints:
        repository.add(message_for(endpoint.id, event_type, data=data, now=now))
    return len(endpoints)


def credential_data(record: CredentialRecord, *, organization: str | None) -> dict[str, Any]:
    """What every credential event says of the credential: ids, organization, scopes. Never
    its key (only a digest is stored anyway) nor the free-text reasons people type."""
    return {
        "credential_id": record.id,
        "credential_request_id": record.credential_request_id,
        "organization": organization,
        "scopes": list(record.scopes),
        "environment": record.environment,
        "created_at": format_instant(record.created_at),
        "expires_at": format_instant(record.expires_at),
    }


async def emit_revoked(session: AsyncSession, record: CredentialRecord, *, now: datetime) -> None:
    """``credential.revoked`` (with its actor), and ``credential.leaked`` as well when it was
    revoked because it leaked: a receiver following revocations sees every one."""
    organization = await WebhookRepository(session).organization_of(record.credential_request_id)
    data = credential_data(record, organization=organization)
    data["actor"] = record.revoked_by
    data["revoked_at"] = format_instant(record.revoked_at) if record.revoked_at else None
    await emit(session, EventType.REVOKED, data=data, now=now)
    if record.revoked_by == LEAK_ACTOR:
        await emit(session, EventType.LEAKED, data=data, now=now)
