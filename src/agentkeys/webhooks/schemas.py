"""Wire shapes of the webhook admin API. The secret appears only in the answer that creates or
rotates it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from agentkeys.validation import DescribedModel, NonBlank, RequestBody
from agentkeys.webhooks.models import DESCRIPTION_MAX_LENGTH, URL_MAX_LENGTH

DateTimeString = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
WebhookUrl = Annotated[str, Field(min_length=1, max_length=URL_MAX_LENGTH), NonBlank]
# The event types (events.EventType) as literals: strict bodies take JSON strings for them.
EventName = Literal[
    "credential.issued",
    "credential.denied",
    "credential.revoked",
    "credential.leaked",
    "credential.expired",
]
Events = Annotated[list[EventName], Field(min_length=1, max_length=5)]
Description = Annotated[str, Field(max_length=DESCRIPTION_MAX_LENGTH)]


class WebhookCreateRequestDto(RequestBody):
    url: WebhookUrl
    """Where events are POSTed: https to a public address (checked when sent, too)."""
    events: Events
    """The event types sent there (credential.issued, .denied, .revoked, .leaked, .expired)."""
    description: Description = ""
    """Free text for operators."""


class WebhookUpdateRequestDto(RequestBody):
    url: WebhookUrl | None = None
    """A new URL (checked as on creation); unchanged if absent."""
    events: Events | None = None
    """A new list of event types; unchanged if absent."""
    description: Description | None = None
    """A new description; unchanged if absent."""
    enabled: bool | None = None
    """true re-enables an endpoint (disabled by an operator, a 410 or 5 days of failures)."""


class WebhookEndpointDto(DescribedModel):
    """A webhook endpoint. Never its secret (shown once, when created or rotated)."""

    endpoint_id: str
    """The endpoint's id (ws_webhook_…)."""
    url: str
    """Where events are POSTed."""
    description: str
    """Free text for operators."""
    events: list[str]
    """The event types sent there."""
    enabled: bool
    """Whether events are delivered; messages wait while disabled."""
    disabled_reason: str | None
    """admin, gone (the receiver answered 410) or failing (5 days of failures); null if enabled."""
    previous_secret_expires_at: DateTimeString | None
    """After a rotation: until when the previous secret also signs (ISO 8601 UTC)."""
    created_at: DateTimeString
    """When it was created (ISO 8601 UTC)."""
    updated_at: DateTimeString
    """When it last changed (ISO 8601 UTC)."""


class WebhookEndpointWithSecretDto(WebhookEndpointDto):
    secret: str
    """The signing secret (whsec_…), shown this once: verify webhook-signature with it."""


class WebhookEndpointListDto(DescribedModel):
    items: list[WebhookEndpointDto]
    """Every endpoint, oldest first."""


class WebhookAttemptDto(DescribedModel):
    attempt_id: str
    """The attempt's id."""
    message_id: str
    """The message (webhook-id header): the same on each retry of one event."""
    attempted_at: DateTimeString
    """When it was sent (ISO 8601 UTC)."""
    succeeded: bool
    """Whether the receiver answered 2xx."""
    status_code: int | None
    """The receiver's status; null if no answer (refused address, timeout, connection error)."""
    error: str | None
    """Why no answer came, or null."""
    duration_ms: int
    """How long the attempt took."""


class WebhookAttemptListDto(DescribedModel):
    items: list[WebhookAttemptDto]
    """The latest attempts, newest first."""


class WebhookTestDto(DescribedModel):
    message_id: str
    """The test message queued (webhook.test), delivered like any event."""
