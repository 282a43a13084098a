"""The feedback table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
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
