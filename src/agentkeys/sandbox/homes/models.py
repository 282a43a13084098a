"""The homes table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from agentkeys.db.base import Base, UTCDateTime


class HomeRecord(Base):
    """A sandbox home. Only the credential that created it may see or change it."""

    __tablename__ = "homes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    credential_id: Mapped[str] = mapped_column(ForeignKey("credentials.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    name: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    utility_id: Mapped[str | None] = mapped_column(String(64))
    rate_plan_id: Mapped[str | None] = mapped_column(String(64))
    timezone: Mapped[str | None] = mapped_column(String(64))
    unstructured_address: Mapped[str | None] = mapped_column(Text())
    client_id: Mapped[str | None] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(255))
    zipcode: Mapped[str | None] = mapped_column(String(16))
    street_address: Mapped[str | None] = mapped_column(String(255))
    solar_info: Mapped[dict[str, Any] | None] = mapped_column(JSON())
    solar_system_size_kw: Mapped[float | None] = mapped_column(Float())
    is_non_net_metered: Mapped[bool | None] = mapped_column(Boolean())
    carbon_signal_intensity: Mapped[str] = mapped_column(String(8))
    meter_id: Mapped[str | None] = mapped_column(String(255))
    meter_id_source: Mapped[str | None] = mapped_column(String(255))
    enabled: Mapped[bool] = mapped_column(Boolean())
    energy_market_bidding_enabled: Mapped[bool] = mapped_column(Boolean())
    channel_partner_id: Mapped[str | None] = mapped_column(String(255))
    # The client network that last wrote it, and the bytes it stores: the network's budget.
    client_network: Mapped[str | None] = mapped_column(String(64))
    stored_bytes: Mapped[int] = mapped_column(Integer(), server_default=text("0"))

    __table_args__ = (
        Index("ix_homes_credential_id_created_at", "credential_id", "created_at"),
        Index("ix_homes_client_network_updated_at", "client_network", "updated_at"),
    )
