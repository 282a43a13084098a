"""Wire shapes of ``POST /v1/homes/{id}/price_signal`` (WattShift's price-signal DTOs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, Field, PrivateAttr, model_validator
from pydantic_core import PydanticCustomError

from agentkeys.clock import format_instant
from agentkeys.errors import FieldError, ValidationFailed
from agentkeys.sandbox.tariffs.engine import PricePoint
from agentkeys.sandbox.wire import CamelResponse
from agentkeys.validation import EARLIEST_INSTANT, LIMIT_INSTANT, CamelRequestBody, parse_instant

# The confidence of a price read from the tariff itself: certain.
TARIFF_CONFIDENCE = 1.0
# The widest UTC offset of a U.S. time zone's wall clock (Guam's +10, Samoa's -11 and Alaska's
# daylight -8 all fall inside): a wall-clock time's range is checked this far either way here,
# and exactly once the home's time zone is known (``PriceSignalService``).
_WIDEST_OFFSET = timedelta(hours=14)
_RANGE_MESSAGE = "Must lie in the years 2000 to 2100"


def parse_wall_clock_or_instant(value: str) -> datetime:
    """An ISO 8601 date-time: with an offset (or ``Z``), that instant in UTC; without one, the
    wall-clock time as given (naive), to be read in the home's time zone."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PydanticCustomError("datetime", "Must be an ISO 8601 date-time") from None
    if parsed.tzinfo is not None:
        return parse_instant(value)
    as_utc = parsed.replace(tzinfo=UTC)
    if not EARLIEST_INSTANT - _WIDEST_OFFSET <= as_utc <= LIMIT_INSTANT + _WIDEST_OFFSET:
        raise PydanticCustomError("datetime_range", _RANGE_MESSAGE)
    return parsed


def _wall_clock_or_instant_text(value: str) -> str:
    parse_wall_clock_or_instant(value)
    return value


WallClockOrInstantText = Annotated[
    str,
    Field(
        max_length=64,
        description="ISO 8601 date-time in the years 2000-2100. With an offset (`Z`, `-07:00`) "
        "it is that instant; without one (`2026-07-01T16:00:00`) it is the home's local time, "
        "in the home's `timezone` (a time a daylight-saving change repeats is its first "
        "occurrence; one it skips is read with the offset in force before the change).",
    ),
    AfterValidator(_wall_clock_or_instant_text),
]


class GetPriceSignalRequestDto(CamelRequestBody):
    """Both ``startTime`` and ``endTime``, or neither (then: the next 24 hours). A time without
    an offset is the home's local time."""

    start_time: WallClockOrInstantText | None = None
    end_time: WallClockOrInstantText | None = None
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
