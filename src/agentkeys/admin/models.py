"""The admin keys table: an operator's keys, created from the command line only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from agentkeys.db.base import Base, UTCDateTime

# `admin:<name>` is what a revocation records in credentials.revoked_by (64 characters).
NAME_MAX_LENGTH = 48


class AdminKeyRecord(Base):
    """An admin key. Only the HMAC digest of its secret is kept; the secret is shown once."""

    __tablename__ = "admin_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH), unique=True)
    # `admin` (read, revoke, verify), `viewer` (read only) or `verify` (verify agent keys only).
    role: Mapped[str] = mapped_column(String(16))
    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
