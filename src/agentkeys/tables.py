"""Every table of the service, imported in one place so the metadata is complete.

The composition layer, like ``api.app``: Alembic's environment and the tests read the metadata
here; no feature imports it."""

from agentkeys.admin.models import AdminKeyRecord
from agentkeys.credentials.models import CredentialRecord, CredentialRequestRecord
from agentkeys.db.base import Base
from agentkeys.idempotency.models import IdempotencyRecord
from agentkeys.sandbox.feedback.models import FeedbackRecord
from agentkeys.sandbox.homes.models import HomeRecord
from agentkeys.webhooks.models import (
    WebhookAttemptRecord,
    WebhookEndpointRecord,
    WebhookMessageRecord,
    WebhookSweepRecord,
)

metadata = Base.metadata

__all__ = [
    "AdminKeyRecord",
    "CredentialRecord",
    "CredentialRequestRecord",
    "FeedbackRecord",
    "HomeRecord",
    "IdempotencyRecord",
    "WebhookAttemptRecord",
    "WebhookEndpointRecord",
    "WebhookMessageRecord",
    "WebhookSweepRecord",
    "metadata",
]
