"""Wire shapes of the bill routes: monthly, period, the inline-home period and the rate-plan quote.

Usage and export are one array per local day, each exactly 96 quarter-hour kWh values >= 0.
Every violated rule is named with its day and interval: ``usage[3][17]``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Self

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from agentkeys.sandbox.tariffs.engine import Bill, ChargeKind, ChargeLine
from agentkeys.sandbox.tariffs.model import SLOTS_PER_DAY
from agentkeys.sandbox.utility.schemas import ZipCode
from agentkeys.sandbox.wire import CamelResponse
from agentkeys.validation import CamelRequestBody, DayText, Year, parse_day

MAX_DAYS = 366
# As a home's solarSystemSizeKw: far beyond any home, finite.
MAX_SOLAR_KW = 10_000.0
# 1 GWh in a quarter-hour is far beyond any meter; the bound keeps every total finite.
MAX_SLOT_KWH = 1_000_000.0
KilowattHours = Annotated[float, Field(ge=0, le=MAX_SLOT_KWH, allow_inf_nan=False)]
# pydantic names each failing value by its day and slot: usage[3][17].
Day = Annotated[list[KilowattHours], Field(min_length=SLOTS_PER_DAY, max_length=SLOTS_PER_DAY)]


IntervalDays = Annotated[list[Day], Field(min_length=1, max_length=MAX_DAYS)]


def as_many_days_as(
    other: str, *, wire_name: str, other_wire_name: str
) -> Callable[[list[Day] | None, ValidationInfo], list[Day] | None]:
    """A field validator: the field, when sent, has as many days as the field ``other``
    (declared before it)."""

    def check(days: list[Day] | None, info: ValidationInfo) -> list[Day] | None:
        others = info.data.get(other)
        if days is not None and others is not None and len(days) != len(others):
            raise PydanticCustomError(
                "export_days",
                "{name} has {days} days but {other} has {others}",
                {
                    "name": wire_name,
                    "days": len(days),
                    "other": other_wire_name,
                    "others": len(others),
                },
            )
        return days

    return check


class _UsageBody(CamelRequestBody):
    usage: IntervalDays = Field(description="One array of 96 quarter-hour kWh imports per day.")
    export: IntervalDays | None = Field(
        default=None, description="Optional exports, same shape and number of days as usage."
    )
    debug: bool | None = None
    """true: debugInfo says what computed the bill."""

    _export_days = field_validator("export")(
        as_many_days_as("usage", wire_name="export", other_wire_name="usage")
    )


def _this_year() -> int:
    return datetime.now(UTC).year


class MonthlyBillRequestDto(_UsageBody):
    month: Annotated[int, Field(ge=1, le=12)]
    """Month number (1-12, where 1 = January)."""
    year: Year = Field(default_factory=_this_year)
    """Year (2000-2100); default this year."""


class PeriodFields(CamelRequestBody):
    """``startDate`` and ``endDate`` of a period, parsed once when the body is validated."""

    start_date: DayText = Field(description="First day billed (YYYY-MM-DD or ISO 8601).")
    end_date: DayText = Field(description="Day after the last day billed (exclusive).")
    # The days as parsed once, when the body is validated (the wire text is kept as sent).
    _start: date = PrivateAttr()
    _end: date = PrivateAttr()

    @model_validator(mode="after")
    def _parse_days(self) -> Self:
        self._start = parse_day(self.start_date)
        self._end = parse_day(self.end_date)
        return self

    @property
    def start(self) -> date:
        return self._start

    @property
    def end(self) -> date:
        return self._end


class PeriodBillRequestDto(PeriodFields, _UsageBody):
    """One usage array per day from ``startDate`` up to, not including, ``endDate``."""


class InlineHomeDto(CamelRequestBody):
    """A home described in the request, billed without being stored."""

    rate_plan_id: Annotated[str, Field(max_length=64)] = Field(
        description="A ratePlans[].id from /v1/utility/get."
    )
    zipcode: ZipCode = Field(description="Must be served by the rate plan's utility.")
    name: Annotated[str, Field(max_length=255)] | None = Field(
        default=None, description="Accepted for WattShift clients; not used by the bill."
    )
    utility_id: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="If given, must be the rate plan's utility."
    )
    solar_capacity_kw: Annotated[float, Field(ge=0, le=MAX_SOLAR_KW)] | None = Field(
        default=None,
        description=(
            "Accepted for WattShift clients; the bill prices the metered usage and export as "
            "sent, which already reflect any solar."
        ),
    )


class PeriodBillWithHomeRequestDto(PeriodBillRequestDto):
    """A period bill for a home described inline (nothing is stored)."""

    home: InlineHomeDto
    """The home, described inline (not stored)."""


class ChargeLineDto(CamelResponse):
    kind: ChargeKind = Field(description="fixed, energy, export_credit or minimum_charge")
    description: str
    """What the line charges, in words."""
    season: str | None
    """The plan's season the line belongs to, if any."""
    period: str | None = Field(description="The plan's period (energy, export credit).")
    tier: int | None = Field(default=None, description="1, 2, ... on a tiered period's energy.")
    kwh: float
    """kWh the line prices (0 for a fixed charge)."""
    rate: float = Field(
        description="$ per kWh (energy, credit); $ per month or per day (fixed, minimum)."
    )
    amount: float = Field(description="$; credits are negative.")


class BillBreakdownDto(CamelResponse):
    fixed_charges: float
    """Fixed charges ($/month, $/day), in dollars."""
    energy_charges: float
    """Energy charges net of export credits, in dollars."""
    export_credit: float = Field(description="$; negative (a credit).")
    minimum_charges: float = Field(
        default=0.0, description="$ added to bring a month up to the plan's minimum charge."
    )
    lines: list[ChargeLineDto]
    """Every charge of the bill, one line each."""


class BillResponseDto(CamelResponse):
    bill_total: float = Field(description="Total in US dollars.")
    total_bill: float = Field(description="The same total, under the older response name.")
    start_date: str
    """First day billed (YYYY-MM-DD)."""
    end_date: str = Field(description="Exclusive.")
    days: int
    """Number of days billed."""
    currency: str = "USD"
    """Always USD."""
    rate_plan_id: str
    """The rate plan billed (its current id)."""
    import_kwh: float
    """kWh imported over the period (the sum of usage)."""
    export_kwh: float
    """kWh exported over the period (the sum of export)."""
    breakdown: BillBreakdownDto
    """The bill split by kind of charge and line by line."""
    debug_info: dict[str, Any] | None = None
    """With debug: true, what computed the bill; otherwise null."""

    @classmethod
    def of(cls, bill: Bill, *, rate_plan_id: str, debug: bool) -> BillResponseDto:
        return cls(
            bill_total=bill.total,
            total_bill=bill.total,
            start_date=bill.start.isoformat(),
            end_date=bill.end.isoformat(),
            days=bill.days,
            rate_plan_id=rate_plan_id,
            import_kwh=round(bill.import_kwh, 6),
            export_kwh=round(bill.export_kwh, 6),
            breakdown=BillBreakdownDto(
                fixed_charges=bill.fixed_charges,
                energy_charges=bill.energy_charges,
                export_credit=bill.export_credit,
                minimum_charges=bill.minimum_charges,
                lines=[_line(line) for line in bill.lines],
            ),
            debug_info={"engine": "agentkeys sandbox tariff engine"} if debug else None,
        )


def _line(line: ChargeLine) -> ChargeLineDto:
    return ChargeLineDto(
        kind=line.kind,
        description=line.description,
        season=line.season,
        period=line.period,
        tier=line.tier,
        kwh=round(line.kwh, 6),
        rate=line.rate,
        amount=line.amount,
    )
