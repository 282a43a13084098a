"""Tables of the credential ledger: every decision, and every credential minted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agentkeys.db.base import Base, UTCDateTime

NETWORK_ORDINAL_INDEX = "ix_credential_requests_network_ordinal"


class CredentialRequestRecord(Base):
    """One issuance decision, whatever its outcome: the audit ledger of who asked for what."""

    __tablename__ = "credential_requests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(32))
    client_address: Mapped[str] = mapped_column(String(64))
    # The client's network (CIDR): the unit of every per-address quota.
    client_network: Mapped[str] = mapped_column(String(64))
    organization_name: Mapped[str] = mapped_column(Text())
    organization_key: Mapped[str] = mapped_column(Text())
    user_email_key: Mapped[str | None] = mapped_column(Text())
    requested_environment: Mapped[str] = mapped_column(String(16))
    # The validated request as sent (it holds no secret), kept for the audit; for a rate_limited
    # decision only its identity fields, truncated, and a digest of the whole (see the service).
    request: Mapped[dict[str, Any]] = mapped_column(JSON())
    # What the decision said beyond its outcome: missing fields, quotas hit, TTL granted.
    details: Mapped[dict[str, Any]] = mapped_column(JSON())
    # This decision's running number among its client network's counted decisions (every
    # outcome but rate_limited): 1, 2, 3... in the order they were made, under the network's
    # quota lock. The address quota counts a window as the difference of two of these numbers,
    # each one index look-up, however many decisions the window holds. NULL when rate_limited.
    network_ordinal: Mapped[int | None] = mapped_column(BigInteger())

    credential: Mapped[CredentialRecord | None] = relationship(
        back_populates="credential_request", lazy="raise"
    )

    __table_args__ = (
        Index("ix_credential_requests_client_network_created_at", "client_network", "created_at"),
        # The address quota's running numbers, newest first (the figures of a decision).
        Index(
            NETWORK_ORDINAL_INDEX,
            "client_network",
            "created_at",
            "network_ordinal",
            sqlite_where=text("network_ordinal IS NOT NULL"),
            postgresql_where=text("network_ordinal IS NOT NULL"),
        ),
        # A decision's per-network counts by outcome (the address quota, the refusals stored).
        Index(
            "ix_credential_requests_client_network_outcome_created_at",
            "client_network",
            "outcome",
            "created_at",
        ),
        Index(
            "ix_credential_requests_organization_key_created_at", "organization_key", "created_at"
        ),
        # The admin ledger's order and cursor (newest first, the id breaking ties), the stats'
        # windows, and its filters each in that order.
        Index("ix_credential_requests_created_at_id", "created_at", "id"),
        Index("ix_credential_requests_outcome_created_at_id", "outcome", "created_at", "id"),
        Index(
            "ix_credential_requests_user_email_key_created_at_id",
            "user_email_key",
            "created_at",
            "id",
        ),
        Index(
            "ix_credential_requests_client_address_created_at_id",
            "client_address",
            "created_at",
            "id",
        ),
    )


class CredentialRecord(Base):
    """A minted credential. Only the HMAC digest of its secret is kept."""

    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_digest: Mapped[str] = mapped_column(String(64), unique=True)
    credential_request_id: Mapped[str] = mapped_column(
        ForeignKey("credential_requests.id"), unique=True
    )
    organization_key: Mapped[str] = mapped_column(Text())
    user_email_key: Mapped[str | None] = mapped_column(Text())
    # The network of the client that asked: organization and e-mail quotas count per network.
    client_network: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(JSON())
    environment: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Who revoked it: `self` (its own key) or `admin:<admin key name>`.
    revoked_by: Mapped[str | None] = mapped_column(String(64))
    revocation_reason: Mapped[str | None] = mapped_column(Text())
    # The last verified use, written in batches (``credentials.usage``): at most a flush
    # interval late, and never moved back.
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    credential_request: Mapped[CredentialRequestRecord] = relationship(
        back_populates="credential", lazy="raise"
    )

    __table_args__ = (
        Index("ix_credentials_organization_key_created_at", "organization_key", "created_at"),
        # The admin listing's order and cursor: newest first, the id breaking ties.
        Index("ix_credentials_created_at_id", "created_at", "id"),
        Index("ix_credentials_user_email_key_created_at", "user_email_key", "created_at"),
        # The stats: revocations within a window.
        Index("ix_credentials_revoked_at", "revoked_at"),
        # The credentials active now (the stats and the metrics' gauge): a range of this
        # partial index.
        Index(
            "ix_credentials_active_expires_at",
            "expires_at",
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
        # The organization's active credentials (its quota per network, its alarm over every
        # network): a range of the active ones only, however many expired or revoked it has.
        Index(
            "ix_credentials_active_organization",
            "organization_key",
            "expires_at",
            "client_network",
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
        Index(
            "ix_credentials_organization_key_client_network_created_at",
            "organization_key",
            "client_network",
            "created_at",
        ),
        Index(
            "ix_credentials_user_email_key_client_network_created_at",
            "user_email_key",
            "client_network",
            "created_at",
        ),
    )
