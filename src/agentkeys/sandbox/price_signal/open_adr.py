"""Wire shape of ``POST /v1/homes/{id}/price_signal/open_adr``: the price signal as an OpenADR 3.0
``event`` object (camelCase as OpenADR spells it, ``programID`` included).

One interval per quarter-hour of the window, in order: ids 0, 1, ...; none carries its own
``intervalPeriod``, so each inherits the event's (``start`` = the window's start, ``duration``
``PT15M``) and follows the one before. Each holds a ``PRICE`` payload (import $/kWh) and, when the
plan credits exports, an ``EXPORT_PRICE`` payload; ``payloadDescriptors`` give their units and
currency. The event is computed, never stored: no ``id`` or creation times, which a VTN assigns to
events it keeps.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from agentkeys.clock import format_instant
from agentkeys.sandbox.tariffs.engine import PricePoint
from agentkeys.sandbox.tariffs.model import RatePlan
from agentkeys.sandbox.wire import CamelResponse

PayloadType = Literal["PRICE", "EXPORT_PRICE"]
QUARTER_HOUR: Literal["PT15M"] = "PT15M"


class EventPayloadDescriptorDto(CamelResponse):
    object_type: Literal["EVENT_PAYLOAD_DESCRIPTOR"] = "EVENT_PAYLOAD_DESCRIPTOR"
    """Always EVENT_PAYLOAD_DESCRIPTOR."""
    payload_type: PayloadType
    """PRICE (import $/kWh) or EXPORT_PRICE (export credit $/kWh)."""
    units: Literal["KWH"] = Field(default="KWH", description="Prices are per kWh.")
    currency: Literal["USD"] = "USD"
    """Always USD."""


class IntervalPeriodDto(CamelResponse):
    start: str = Field(description="The first interval's start (ISO 8601, UTC).")
    duration: Literal["PT15M"] = Field(
        default=QUARTER_HOUR, description="Each interval's length (ISO 8601 duration)."
    )


class ValuesMapDto(CamelResponse):
    type: PayloadType
    """PRICE (import $/kWh) or EXPORT_PRICE (export credit $/kWh)."""
    values: list[float] = Field(description="One value: $ per kWh in this interval.")


class IntervalDto(CamelResponse):
    id: int = Field(description="The quarter-hour's index in the window, from 0.")
    payloads: list[ValuesMapDto]
    """The interval's prices: PRICE, and EXPORT_PRICE when the plan credits exports."""


class OpenAdrEventDto(CamelResponse):
    """An OpenADR 3.0 event: the home's 15-minute import (and export) prices."""

    object_type: Literal["EVENT"] = "EVENT"
    """Always EVENT."""
    program_id: str = Field(alias="programID", description="The home's rate plan (ratePlanId).")
    event_name: str
    """The event's name (the home and the window)."""
    payload_descriptors: list[EventPayloadDescriptorDto]
    """What the intervals' payloads hold."""
    interval_period: IntervalPeriodDto
    """Start and duration (PT15M) of the first interval."""
    intervals: list[IntervalDto]
    """One interval per quarter-hour, ids from 0."""

    @classmethod
    def of(
        cls, *, home_id: str, plan: RatePlan, start: datetime, points: list[PricePoint]
    ) -> OpenAdrEventDto:
        exports = plan.export_credit.type != "none"
        types: list[PayloadType] = ["PRICE", "EXPORT_PRICE"] if exports else ["PRICE"]
        return cls(
            program_id=plan.id,
            event_name=f"Price signal for {home_id} ({plan.name})",
            payload_descriptors=[EventPayloadDescriptorDto(payload_type=kind) for kind in types],
            interval_period=IntervalPeriodDto(start=format_instant(start)),
            intervals=[
                IntervalDto(id=index, payloads=_payloads(point, exports=exports))
                for index, point in enumerate(points)
            ],
        )


def _payloads(point: PricePoint, *, exports: bool) -> list[ValuesMapDto]:
    payloads = [ValuesMapDto(type="PRICE", values=[point.import_price])]
    if exports:
        payloads.append(ValuesMapDto(type="EXPORT_PRICE", values=[point.export_price]))
    return payloads
