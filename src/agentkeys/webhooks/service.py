"""Webhook endpoints' life cycle for the admin API and the command line: create (the secret shown
once), list, show, update, disable, delete, rotate the secret, send a test event, read attempts.
Never commits: the unit of work does."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from agentkeys import ids
from agentkeys.clock import Clock, format_instant, to_millisecond
from agentkeys.errors import FieldError, NotFound, ValidationFailed, echo
from agentkeys.webhooks.events import PREVIOUS_SECRET_LIFETIME, TEST_EVENT
from agentkeys.webhooks.models import WebhookAttemptRecord, WebhookEndpointRecord
from agentkeys.webhooks.outbox import message_for
from agentkeys.webhooks.repository import WebhookRepository
from agentkeys.webhooks.schemas import (
    WebhookAttemptDto,
    WebhookAttemptListDto,
    WebhookCreateRequestDto,
    WebhookEndpointDto,
    WebhookEndpointListDto,
    WebhookEndpointWithSecretDto,
    WebhookTestDto,
    WebhookUpdateRequestDto,
)
from agentkeys.webhooks.sealing import SecretBox, new_secret
from agentkeys.webhooks.ssrf import RefusedDestination, parse_destination

logger = logging.getLogger(__name__)

ATTEMPTS_LIMIT = 100


def endpoint_view(record: WebhookEndpointRecord) -> WebhookEndpointDto:
    expires = record.previous_secret_expires_at
    return WebhookEndpointDto(
        endpoint_id=record.id,
        url=record.url,
        description=record.description,
        events=list(record.events),
        enabled=record.enabled,
        disabled_reason=record.disabled_reason,
        previous_secret_expires_at=format_instant(expires) if expires else None,
        created_at=format_instant(record.created_at),
        updated_at=format_instant(record.updated_at),
    )


def attempt_view(record: WebhookAttemptRecord) -> WebhookAttemptDto:
    return WebhookAttemptDto(
        attempt_id=record.id,
        message_id=record.message_id,
        attempted_at=format_instant(record.attempted_at),
        succeeded=record.succeeded,
        status_code=record.status_code,
        error=record.error,
        duration_ms=record.duration_ms,
    )


def _distinct(events: list[str]) -> list[str]:
    return sorted(set(events))


class WebhookService:
    def __init__(
        self, session: AsyncSession, *, clock: Clock, box: SecretBox, allow_private: bool
    ) -> None:
        self._session = session
        self._repository = WebhookRepository(session)
        self._clock = clock
        self._box = box
        self._allow_private = allow_private

    def _checked_url(self, url: str) -> str:
        """Refused with 400 if webhooks may not go there (scheme, literal private address); a
        host name is resolved and checked again at each delivery."""
        try:
            parse_destination(url, allow_private=self._allow_private)
        except RefusedDestination as refused:
            raise ValidationFailed([FieldError("url", str(refused))]) from None
        return url

    async def create(self, body: WebhookCreateRequestDto) -> WebhookEndpointWithSecretDto:
        """A new endpoint and its secret, returned this once (stored sealed only)."""
        url = self._checked_url(body.url)
        now = to_millisecond(self._clock.now())
        endpoint_id = ids.new_webhook_endpoint_id()
        secret = new_secret()
        record = WebhookEndpointRecord(
            id=endpoint_id,
            url=url,
            description=body.description,
            events=_distinct(list(body.events)),
            enabled=True,
            disabled_reason=None,
            secret_sealed=self._box.seal(secret, endpoint_id=endpoint_id),
            previous_secret_sealed=None,
            previous_secret_expires_at=None,
            failing_since=None,
            created_at=now,
            updated_at=now,
        )
        self._repository.add(record)
        await self._repository.flush()
        logger.info("webhook endpoint created", extra={"webhook_endpoint_id": endpoint_id})
        return WebhookEndpointWithSecretDto(**endpoint_view(record).model_dump(), secret=secret)

    async def list(self) -> WebhookEndpointListDto:
        return WebhookEndpointListDto(
            items=[endpoint_view(record) for record in await self._repository.endpoints()]
        )

    async def _found(self, endpoint_id: str, *, for_update: bool = True) -> WebhookEndpointRecord:
        record = await self._repository.endpoint(endpoint_id, for_update=for_update)
        if record is None:
            raise NotFound(f"No webhook endpoint '{echo(endpoint_id)}'.")
        return record

    async def get(self, endpoint_id: str) -> WebhookEndpointDto:
        return endpoint_view(await self._found(endpoint_id, for_update=False))

    async def update(self, endpoint_id: str, body: WebhookUpdateRequestDto) -> WebhookEndpointDto:
        record = await self._found(endpoint_id)
        if body.url is not None:
            record.url = self._checked_url(body.url)
        if body.events is not None:
            record.events = _distinct(list(body.events))
        if body.description is not None:
            record.description = body.description
        if body.enabled is True:
            record.enabled, record.disabled_reason, record.failing_since = True, None, None
        elif body.enabled is False:
            record.enabled, record.disabled_reason = False, "admin"
        record.updated_at = to_millisecond(self._clock.now())
        await self._repository.flush()
        return endpoint_view(record)

    async def disable(self, endpoint_id: str) -> WebhookEndpointDto:
        """No more deliveries; messages wait (re-enable with update ``enabled: true``)."""
        return await self.update(endpoint_id, WebhookUpdateRequestDto(enabled=False))

    async def delete(self, endpoint_id: str) -> None:
        """The endpoint, its pending messages and its attempts, for ever."""
        await self._found(endpoint_id)
        await self._repository.delete_endpoint(endpoint_id)
        logger.info("webhook endpoint deleted", extra={"webhook_endpoint_id": endpoint_id})

    async def rotate(self, endpoint_id: str) -> WebhookEndpointWithSecretDto:
        """A new secret, returned this once; the previous one keeps signing for 24 h, so
        receivers that still verify with it accept every message meanwhile."""
        record = await self._found(endpoint_id)
        now = to_millisecond(self._clock.now())
        secret = new_secret()
        record.previous_secret_sealed = record.secret_sealed
        record.previous_secret_expires_at = now + PREVIOUS_SECRET_LIFETIME
        record.secret_sealed = self._box.seal(secret, endpoint_id=record.id)
        record.updated_at = now
        await self._repository.flush()
        logger.info("webhook secret rotated", extra={"webhook_endpoint_id": endpoint_id})
        return WebhookEndpointWithSecretDto(**endpoint_view(record).model_dump(), secret=secret)

    async def send_test(self, endpoint_id: str) -> WebhookTestDto:
        """A ``webhook.test`` message for this endpoint only, delivered like any event."""
        record = await self._found(endpoint_id)
        now = self._clock.now()
        message = message_for(record.id, TEST_EVENT, data={"endpoint_id": record.id}, now=now)
        self._repository.add(message)
        await self._repository.flush()
        return WebhookTestDto(message_id=message.id)

    async def attempts(
        self, endpoint_id: str, *, limit: int = ATTEMPTS_LIMIT
    ) -> WebhookAttemptListDto:
        await self._found(endpoint_id, for_update=False)
        records = await self._repository.attempts(endpoint_id, limit=limit)
        return WebhookAttemptListDto(items=[attempt_view(record) for record in records])
