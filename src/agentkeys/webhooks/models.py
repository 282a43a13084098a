"""The webhook tables: endpoints (secrets sealed), the outbox of messages, delivery attempts, and
the expiry sweep's high-water mark."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from agentkeys.db.base import Base, UTCDateTime

URL_MAX_LENGTH = 2048
DESCRIPTION_MAX_LENGTH = 255


class WebhookEndpointRecord(Base):
    """Where events are sent. The secret is kept sealed (``sealing.SecretBox``), never in clear."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(URL_MAX_LENGTH))
    description: Mapped[str] = mapped_column(String(DESCRIPTION_MAX_LENGTH))
    events: Mapped[list[str]] = mapped_column(JSON())
    enabled: Mapped[bool] = mapped_column(Boolean())
    # Why it was disabled: `admin`, `gone` (410) or `failing` (5 days of failures).
    disabled_reason: Mapped[str | None] = mapped_column(String(16))
    secret_sealed: Mapped[str] = mapped_column(Text())
    # After a rotation, the old secret signs too until `previous_secret_expires_at`.
    previous_secret_sealed: Mapped[str | None] = mapped_column(Text())
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The first failure since the last success: 5 days later the endpoint is disabled.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookMessageRecord(Base):
    """One event for one endpoint: the outbox row, written in the transaction of its cause."""

    __tablename__ = "webhook_messages"
    __table_args__ = (
        Index("ix_webhook_messages_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    event_type: Mapped[str] = mapped_column(String(32))
    # The body exactly as signed and sent.
    payload: Mapped[str] = mapped_column(Text())
    # `pending`, `delivered` or `failed` (the schedule ran out).
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer())
    # When the next attempt is due; while a worker delivers, its claim's end (a lease).
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookAttemptRecord(Base):
    """One delivery attempt: its answer's status (or the error) and how long it took."""

    __tablename__ = "webhook_attempts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("webhook_messages.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    succeeded: Mapped[bool] = mapped_column(Boolean())
    status_code: Mapped[int | None] = mapped_column(Integer())
    error: Mapped[str | None] = mapped_column(String(255))
    duration_ms: Mapped[int] = mapped_column(Integer())


class WebhookSweepRecord(Base):
    """The expiry sweep's high-water mark: credentials expiring up to ``swept_until`` have had
    their ``credential.expired``. One row, locked by the replica sweeping."""

    __tablename__ = "webhook_sweeps"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    swept_until: Mapped[datetime] = mapped_column(UTCDateTime())
