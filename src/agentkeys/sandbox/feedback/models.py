"""The feedback table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from agentkeys.db.base import Base, UTCDateTime


class FeedbackRecord(Base):
    __tablename__ = "feedback"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"), index=True)
    request_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    feedback_type: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    company: Mapped[str | None] = mapped_column(String(255))
    summary: Mapped[str | None] = mapped_column(String(500))
    message: Mapped[str] = mapped_column(Text())
    agent: Mapped[str | None] = mapped_column(String(128))
    endpoint: Mapped[str | None] = mapped_column(String(255))
    # The whole validated body (evidence, URLs, routing tags, submitter, contact) as sent.
    details: Mapped[dict[str, Any]] = mapped_column(JSON())
    # The client network that sent it, and the bytes it stores: the network's storage budget.
    client_network: Mapped[str | None] = mapped_column(String(64))
    stored_bytes: Mapped[int] = mapped_column(Integer(), server_default=text("0"))

    __table_args__ = (
        Index("ix_feedback_client_network_created_at", "client_network", "created_at"),
    )
