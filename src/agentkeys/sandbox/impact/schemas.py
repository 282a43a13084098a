"""Wire shapes of the impact routes: a baseline and a modified load over one period.

The body is the period bill's (``usage``, ``export``, ``startDate``, ``endDate``) plus the
modified load (``modifiedUsage``, ``modifiedExport``) of the same shape; the answer is both
bills as the period bill answers them, their difference (modified - baseline) and the savings
(baseline - modified, positive when the modification saves money).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from agentkeys.sandbox.bills.schemas import (
    MAX_SOLAR_KW,
    BillResponseDto,
    IntervalDays,
    PeriodBillRequestDto,
    PeriodFields,
    as_many_days_as,
)
from agentkeys.sandbox.money import cents
from agentkeys.sandbox.tariffs.engine import Bill
from agentkeys.sandbox.utility.schemas import ZipCode
from agentkeys.sandbox.wire import CamelResponse

_MODIFIED_USAGE = (
    "The modified (e.g. shifted) load: one array of 96 quarter-hour kWh imports per day of the "
    "period, as many days as the period has."
)
_MODIFIED_EXPORT = "Exports of the modified load; same shape and number of days as modifiedUsage."


_MODIFIED_EXPORT_DAYS = as_many_days_as(
    "modified_usage", wire_name="modifiedExport", other_wire_name="modifiedUsage"
)


class HomeImpactRequestDto(PeriodBillRequestDto):
    """The period bill's body plus the modified load, billed under the home's plan."""

    modified_usage: IntervalDays = Field(description=_MODIFIED_USAGE)
    modified_export: IntervalDays | None = Field(default=None, description=_MODIFIED_EXPORT)

    _modified_export_days = field_validator("modified_export")(_MODIFIED_EXPORT_DAYS)


class ImpactRequestDto(PeriodFields):
    """An impact without a stored home: a rate plan, a ZIP code its utility serves, a period."""

    rate_plan_id: Annotated[str, Field(max_length=64)] = Field(
        description="A ratePlans[].id from /v1/utility/get."
    )
    zipcode: ZipCode = Field(
        description="Must be served by the rate plan's utility; places the default load's solar."
    )
    usage: IntervalDays | None = Field(
        default=None,
        description="The baseline load: one array of 96 quarter-hour kWh imports per day. Send "
        "it, or useDefaultUsage: true.",
    )
    export: IntervalDays | None = Field(
        default=None, description="Exports of the baseline; same shape and days as usage."
    )
    use_default_usage: bool | None = Field(
        default=None,
        description="true: the baseline is the sandbox's typical home (the battery estimate's "
        "load: EIA's average of 10,791 kWh a year, shaped by month and hour) for the period.",
    )
    solar_capacity_kw: Annotated[float, Field(ge=0, le=MAX_SOLAR_KW)] | None = Field(
        default=None,
        description="Without modifiedUsage: the modification is adding this much solar (kW DC, "
        "clear-sky profile at the ZIP code) to the baseline, netted per quarter-hour.",
    )
    modified_usage: IntervalDays | None = Field(default=None, description=_MODIFIED_USAGE)
    modified_export: IntervalDays | None = Field(default=None, description=_MODIFIED_EXPORT)
    debug: bool | None = None
    """true: each bill's debugInfo says what computed it."""

    _export_days = field_validator("export")(
        as_many_days_as("usage", wire_name="export", other_wire_name="usage")
    )
    _modified_export_days = field_validator("modified_export")(_MODIFIED_EXPORT_DAYS)


class BillDifferenceDto(CamelResponse):
    """Modified minus baseline, field by field (negative: the modification costs less)."""

    bill_total: float = Field(description="$, modified billTotal - baseline billTotal.")
    energy_charges: float = Field(description="$, difference of the energy charges.")
    fixed_charges: float = Field(description="$, difference of the fixed charges.")
    export_credit: float = Field(
        description="$, difference of the export credits (negative: more credit)."
    )
    minimum_charges: float = Field(description="$, difference of the minimum-charge top-ups.")
    import_kwh: float
    """Modified minus baseline kWh imported."""
    export_kwh: float
    """Modified minus baseline kWh exported."""

    @classmethod
    def between(cls, baseline: Bill, modified: Bill) -> BillDifferenceDto:
        return cls(
            bill_total=cents(modified.total - baseline.total),
            energy_charges=cents(modified.energy_charges - baseline.energy_charges),
            fixed_charges=cents(modified.fixed_charges - baseline.fixed_charges),
            export_credit=cents(modified.export_credit - baseline.export_credit),
            minimum_charges=cents(modified.minimum_charges - baseline.minimum_charges),
            import_kwh=round(modified.import_kwh - baseline.import_kwh, 6) + 0.0,
            export_kwh=round(modified.export_kwh - baseline.export_kwh, 6) + 0.0,
        )


BaselineSource = Literal["sent", "typical-home"]
ModifiedSource = Literal["sent", "baseline-with-solar"]


class ImpactAssumptionsDto(CamelResponse):
    baseline: BaselineSource = Field(
        description="sent: usage/export as sent; typical-home: the sandbox's typical load."
    )
    modified: ModifiedSource = Field(
        description="sent: modifiedUsage/modifiedExport as sent; baseline-with-solar: the "
        "baseline with solarCapacityKw of solar netted per quarter-hour."
    )
    solar_capacity_kw: float | None = None
    """The solar netted from the modified load, in kW, if any."""
    notes: list[str] = Field(description="Where the generated loads come from.")


class ImpactResponseDto(CamelResponse):
    start_date: str
    """First day billed (YYYY-MM-DD)."""
    end_date: str = Field(description="Exclusive.")
    days: int
    """Number of days billed."""
    currency: str = "USD"
    """Always USD."""
    rate_plan_id: str
    """The rate plan both loads are billed under."""
    baseline: BillResponseDto = Field(description="The baseline's bill, as the period bill.")
    modified: BillResponseDto = Field(description="The modified load's bill, as the period bill.")
    difference: BillDifferenceDto
    """Modified minus baseline: the total and each charge."""
    savings: float = Field(
        description="$, baseline billTotal - modified billTotal: positive when the "
        "modification saves money."
    )
    assumptions: ImpactAssumptionsDto
    """Which loads were billed and where generated ones come from."""
