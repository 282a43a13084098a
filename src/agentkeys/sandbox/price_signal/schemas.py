"""Wire shapes of ``POST /v1/homes/{id}/price_signal`` (WattShift's price-signal DTOs)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from agentkeys.clock import format_instant
from agentkeys.errors import FieldError, ValidationFailed
from agentkeys.sandbox.tariffs.engine import PricePoint
from agentkeys.validation import CamelRequestBody, CamelResponse

# The confidence of a price read from the tariff itself: certain.
TARIFF_CONFIDENCE = 1.0


# Tariffs are priced for years 2000-2100 (as bills are); the bound also keeps every conversion
# to a home's local time inside the calendar.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2101, 1, 1, tzinfo=UTC)


def parse_instant(value: str) -> datetime:
    """ISO 8601 within 2000-2100; a time without an offset is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PydanticCustomError("datetime", "Must be an ISO 8601 date-time") from None
    instant = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if not EARLIEST <= instant < LATEST:
        raise PydanticCustomError("datetime_range", "Must lie in the years 2000 to 2100")
    return instant


class GetPriceSignalRequestDto(CamelRequestBody):
    """Both ``startTime`` and ``endTime``, or neither (then: the next 24 hours)."""

    start_time: Annotated[str, Field(max_length=64)] | None = None
    end_time: Annotated[str, Field(max_length=64)] | None = None

    @field_validator("start_time", "end_time")
    @classmethod
    def _an_instant(cls, value: str | None) -> str | None:
        if value is not None:
            parse_instant(value)
        return value

    def window(self) -> tuple[datetime, datetime] | None:
        """The requested window, or ``None`` for the default; refuses one time without the other."""
        if self.start_time is None and self.end_time is None:
            return None
        if self.start_time is None or self.end_time is None:
            missing = "startTime" if self.start_time is None else "endTime"
            raise ValidationFailed(
                [FieldError(missing, "Send both startTime and endTime, or neither")]
            )
        return parse_instant(self.start_time), parse_instant(self.end_time)


class PriceBlockDto(CamelResponse):
    """A run of quarter-hours with the same prices."""

    start_time: str
    end_time: str
    price: float = Field(description="$ per kWh imported.")
    import_price: float = Field(alias="import", description="$ per kWh imported.")
    export_price: float = Field(alias="export", description="$ per kWh exported.")
    confidence: float
    period: str
    season: str


class GetPriceSignalResponseDto(CamelResponse):
    home_id: str
    start_time: str
    end_time: str
    timezone: str
    data: list[PriceBlockDto]
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
