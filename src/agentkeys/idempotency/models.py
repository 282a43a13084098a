"""The table of Idempotency-Keys: one row per (caller, route, key), running or answered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agentkeys.db.base import Base, UTCDateTime


class IdempotencyRecord(Base):
    """A request made with an Idempotency-Key: running while ``status`` is None, then its
    answer, sealed. Never the key itself: only its HMAC digest."""

    __tablename__ = "idempotency_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The client network (unauthenticated issuance) or the digest of the key(s) presented.
    caller: Mapped[str] = mapped_column(String(80))
    route: Mapped[str] = mapped_column(String(128))
    key_digest: Mapped[str] = mapped_column(String(64))
    request_digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[int | None] = mapped_column(Integer())
    sealed_answer: Mapped[bytes | None] = mapped_column(LargeBinary())

    __table_args__ = (
        # Concurrent first requests race on this: exactly one INSERT wins and does the work.
        UniqueConstraint("caller", "route", "key_digest"),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )
