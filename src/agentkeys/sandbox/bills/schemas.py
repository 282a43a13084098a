"""Wire shapes of the bill routes: monthly, period, and the no-home rate-plan quote.

Usage and export are one array per local day, each exactly 96 quarter-hour kWh values >= 0.
Every violated rule is named with its day and interval: ``usage[3][17]``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from agentkeys.sandbox.tariffs.engine import Bill, ChargeKind, ChargeLine
from agentkeys.sandbox.tariffs.model import SLOTS_PER_DAY
from agentkeys.sandbox.wire import CamelResponse
from agentkeys.validation import CamelRequestBody, DayText, Year, parse_day

MAX_DAYS = 366
# 1 GWh in a quarter-hour is far beyond any meter; the bound keeps every total finite.
MAX_SLOT_KWH = 1_000_000.0
KilowattHours = Annotated[float, Field(ge=0, le=MAX_SLOT_KWH, allow_inf_nan=False)]
# pydantic names each failing value by its day and slot: usage[3][17].
Day = Annotated[list[KilowattHours], Field(min_length=SLOTS_PER_DAY, max_length=SLOTS_PER_DAY)]


IntervalDays = Annotated[list[Day], Field(min_length=1, max_length=MAX_DAYS)]


class _UsageBody(CamelRequestBody):
    usage: IntervalDays = Field(description="One array of 96 quarter-hour kWh imports per day.")
    export: IntervalDays | None = Field(
        default=None, description="Optional exports, same shape and number of days as usage."
    )
    debug: bool | None = None

    @field_validator("export")
    @classmethod
    def _as_many_days_as_usage(
        cls, export: list[Day] | None, info: ValidationInfo
    ) -> list[Day] | None:
        usage = info.data.get("usage")
        if export is not None and usage is not None and len(export) != len(usage):
            raise PydanticCustomError(
                "export_days",
                "export has {export} days but usage has {usage}",
                {"export": len(export), "usage": len(usage)},
            )
        return export


def _this_year() -> int:
    return datetime.now(UTC).year


class MonthlyBillRequestDto(_UsageBody):
    month: Annotated[int, Field(ge=1, le=12)]
    year: Year = Field(default_factory=_this_year)


class PeriodBillRequestDto(_UsageBody):
    start_date: DayText = Field(description="First day billed (YYYY-MM-DD or ISO 8601).")
    end_date: DayText = Field(description="Day after the last day billed (exclusive).")
    # The days as parsed once, when the body is validated (the wire text is kept as sent).
    _start: date = PrivateAttr()
    _end: date = PrivateAttr()

    @model_validator(mode="after")
    def _parse_days(self) -> PeriodBillRequestDto:
        self._start = parse_day(self.start_date)
        self._end = parse_day(self.end_date)
        return self

    @property
    def start(self) -> date:
        return self._start

    @property
    def end(self) -> date:
        return self._end


class ChargeLineDto(CamelResponse):
    kind: ChargeKind = Field(description="fixed, energy, export_credit or minimum_charge")
    description: str
    season: str | None
    period: str | None = Field(description="The plan's period (energy, export credit).")
    tier: int | None = Field(default=None, description="1, 2, ... on a tiered period's energy.")
    kwh: float
    rate: float = Field(
        description="$ per kWh (energy, credit); $ per month or per day (fixed, minimum)."
    )
    amount: float = Field(description="$; credits are negative.")


class BillBreakdownDto(CamelResponse):
    fixed_charges: float
    energy_charges: float
    export_credit: float = Field(description="$; negative (a credit).")
    minimum_charges: float = Field(
        default=0.0, description="$ added to bring a month up to the plan's minimum charge."
    )
    lines: list[ChargeLineDto]


class BillResponseDto(CamelResponse):
    bill_total: float = Field(description="Total in US dollars.")
    total_bill: float = Field(description="The same total, under the older response name.")
    start_date: str
    end_date: str = Field(description="Exclusive.")
    days: int
    currency: str = "USD"
    rate_plan_id: str
    import_kwh: float
    export_kwh: float
    breakdown: BillBreakdownDto
    debug_info: dict[str, Any] | None = None

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
