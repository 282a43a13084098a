"""Wire shapes of ``POST /v1/homes/{id}/price_signal`` (WattShift's price-signal DTOs)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, PrivateAttr, model_validator

from agentkeys.clock import format_instant
from agentkeys.errors import FieldError, ValidationFailed
from agentkeys.sandbox.tariffs.engine import PricePoint
from agentkeys.sandbox.wire import CamelResponse
from agentkeys.validation import (
    CamelRequestBody,
    WallClockOrInstantText,
    parse_wall_clock_or_instant,
)

# The confidence of a price read from the tariff itself: certain.
TARIFF_CONFIDENCE = 1.0


class GetPriceSignalRequestDto(CamelRequestBody):
    """Both ``startTime`` and ``endTime``, or neither (then: the next 24 hours). A time without
    an offset is the home's local time."""

    start_time: WallClockOrInstantText | None = None
    """Start of the window (with endTime)."""
    end_time: WallClockOrInstantText | None = None
    """End of the window (with startTime), at most 31 days after it."""
    # The times as parsed once, when the body is validated (the wire text is kept as sent):
    # aware instants, or naive wall-clock times the service reads in the home's time zone.
    _start: datetime | None = PrivateAttr(default=None)
    _end: datetime | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _parse_instants(self) -> GetPriceSignalRequestDto:
        self._start = (
            None if self.start_time is None else parse_wall_clock_or_instant(self.start_time)
        )
        self._end = None if self.end_time is None else parse_wall_clock_or_instant(self.end_time)
        return self

    def window(self) -> tuple[datetime, datetime] | None:
        """The requested window, or ``None`` for the default; refuses one time without the other.
        A naive bound is a wall-clock time of the home's time zone."""
        if self._start is None and self._end is None:
            return None
        if self._start is None or self._end is None:
            missing = "startTime" if self._start is None else "endTime"
            raise ValidationFailed(
                [FieldError(missing, "Send both startTime and endTime, or neither")]
            )
        return self._start, self._end


class PriceBlockDto(CamelResponse):
    """A run of quarter-hours with the same prices."""

    start_time: str
    """Start of the run (ISO 8601 UTC)."""
    end_time: str
    """End of the run (ISO 8601 UTC)."""
    price: float = Field(description="$ per kWh imported.")
    import_price: float = Field(alias="import", description="$ per kWh imported.")
    export_price: float = Field(alias="export", description="$ per kWh exported.")
    confidence: float
    """How sure the price is, 0-1: always 1, read from the tariff."""
    period: str
    """The plan's period in force (e.g. peak)."""
    season: str
    """The plan's season in force."""


class GetPriceSignalResponseDto(CamelResponse):
    home_id: str
    """The home priced."""
    start_time: str
    """Start of the window (ISO 8601 UTC)."""
    end_time: str
    """End of the window (ISO 8601 UTC)."""
    timezone: str
    """The home's time zone, in which the plan's periods are read."""
    data: list[PriceBlockDto]
    """Runs of quarter-hours with the same prices."""
    prices: list[float] = Field(description="Expected price in $/kWh in 15-minute intervals.")
    import_prices: list[float] = Field(alias="import", description="$/kWh imported, per slot.")
    export_prices: list[float] = Field(alias="export", description="$/kWh exported, per slot.")

    @classmethod
    def of(
        cls,
        *,
        home_id: str,
        timezone: str,
        start: datetime,
        end: datetime,
        points: list[PricePoint],
    ) -> GetPriceSignalResponseDto:
        return cls(
            home_id=home_id,
            start_time=format_instant(start),
            end_time=format_instant(end),
            timezone=timezone,
            data=_blocks(points, end),
            prices=[point.import_price for point in points],
            import_prices=[point.import_price for point in points],
            export_prices=[point.export_price for point in points],
        )


def _blocks(points: list[PricePoint], end: datetime) -> list[PriceBlockDto]:
    blocks: list[PriceBlockDto] = []
    for index, point in enumerate(points):
        block_end = points[index + 1].start if index + 1 < len(points) else end
        last = blocks[-1] if blocks else None
        if (
            last is not None
            and last.import_price == point.import_price
            and last.export_price == point.export_price
            and last.period == point.period
            and last.season == point.season
        ):
            last.end_time = format_instant(block_end)
            continue
        blocks.append(
            PriceBlockDto(
                start_time=format_instant(point.start),
                end_time=format_instant(block_end),
                price=point.import_price,
                import_price=point.import_price,
                export_price=point.export_price,
                confidence=TARIFF_CONFIDENCE,
                period=point.period,
                season=point.season,
            )
        )
    return blocks
