"""Wire shapes of ``POST /v1/homes/{id}/battery/estimate_savings``.

The request is WattShift's ``BatteryAnnualEstimatedSavingsRequestDto``. The wholesale-program
fields (``leap``, ``dispatchHoursPerDay``, ``numBiddingHours``) are accepted only as null: the
sandbox does not simulate LEAP programs, and says so rather than ignoring them.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from agentkeys.sandbox.battery.estimate import (
    BatteryEstimate,
    BatteryParameters,
    Efficiency,
    Fraction,
    Kilowatts,
    MonthNumber,
    SimulatedDays,
    SolarKilowatts,
    soc_bounds_ordered,
    soc_within_bounds,
)
from agentkeys.sandbox.tariffs.model import ALL_MONTHS
from agentkeys.sandbox.wire import CamelResponse
from agentkeys.validation import CamelRequestBody, FreeFormJson


# The wire names of ``BatteryParameters``: the same types (ranges) and the same SOC rule,
# refused here so each refusal names its JSON field; ``parameters()`` maps the names.
class BatteryAnnualEstimatedSavingsRequestDto(CamelRequestBody):
    days: SimulatedDays = Field(description="Days simulated per month.")
    solar_capacity: SolarKilowatts | None = Field(
        default=None, description="Solar array in kW; null for no solar."
    )
    max_capacity_kilo_watt_hours: Kilowatts = Field(description="Battery capacity in kWh.")
    charging_power_kilo_watts: Kilowatts
    """Maximum charging power in kW."""
    discharging_power_kilo_watts: Kilowatts
    """Maximum discharging power in kW."""
    charging_efficiency: Efficiency
    """Charging efficiency, (0, 1]; typical 0.95."""
    discharging_efficiency: Efficiency
    """Discharging efficiency, (0, 1]; typical 0.95."""
    min_preferred_soc: Fraction = Field(alias="minPreferredSOC")
    """Lowest state of charge to keep, 0-1 (at most currentSOC)."""
    max_preferred_soc: Fraction = Field(alias="maxPreferredSOC")
    """Highest state of charge to reach, 0-1 (at least currentSOC)."""
    # After the bounds, so its validator can compare with them.
    current_soc: Fraction = Field(alias="currentSOC")
    """State of charge at the start of each simulated day, 0-1; typical 0.5."""
    months: Annotated[list[MonthNumber], Field(max_length=12)] | None = Field(
        default=None, description="Calendar months 1-12; null or absent for all."
    )
    dispatch_hours_per_day: FreeFormJson = None
    num_bidding_hours: FreeFormJson = None
    leap: Literal["CAISO", "NYISO"] | None = None
    """A LEAP wholesale program: accepted only as null (the sandbox does not simulate them; a
    value is refused, 400)."""

    @field_validator("max_preferred_soc")
    @classmethod
    def _not_below_minimum(cls, high: float, info: ValidationInfo) -> float:
        low = info.data.get("min_preferred_soc")
        if low is not None and not soc_bounds_ordered(low, high):
            raise PydanticCustomError("soc_order", "Need minPreferredSOC <= maxPreferredSOC")
        return high

    @field_validator("current_soc")
    @classmethod
    def _within_preferred_bounds(cls, current: float, info: ValidationInfo) -> float:
        low, high = info.data.get("min_preferred_soc"), info.data.get("max_preferred_soc")
        if low is not None and high is not None and not soc_within_bounds(low, high, current):
            raise PydanticCustomError(
                "soc_order", "Need minPreferredSOC <= currentSOC <= maxPreferredSOC"
            )
        return current

    @field_validator("dispatch_hours_per_day", "num_bidding_hours", "leap")
    @classmethod
    def _not_simulated(cls, value: object) -> object:
        if value is not None:
            raise PydanticCustomError(
                "not_simulated", "Wholesale (LEAP) programs are not simulated in the sandbox"
            )
        return value

    def parameters(self) -> BatteryParameters:
        return BatteryParameters(
            days=self.days,
            solar_capacity_kw=self.solar_capacity,
            max_capacity_kwh=self.max_capacity_kilo_watt_hours,
            charging_kw=self.charging_power_kilo_watts,
            discharging_kw=self.discharging_power_kilo_watts,
            charging_efficiency=self.charging_efficiency,
            discharging_efficiency=self.discharging_efficiency,
            current_soc=self.current_soc,
            min_soc=self.min_preferred_soc,
            max_soc=self.max_preferred_soc,
            months=tuple(sorted(set(self.months))) if self.months else ALL_MONTHS,
        )


class MonthSavingsDto(CamelResponse):
    month: int
    """Calendar month, 1-12."""
    days_in_month: int
    """Days the month has (what the simulated days are scaled to)."""
    days_simulated: int
    """Days simulated for this month."""
    load_kwh: float
    """The simulated home's load over the month, in kWh."""
    solar_kwh: float
    """The simulated solar production over the month, in kWh."""
    baseline_cost: float
    """The month's bill without the battery, in dollars."""
    optimized_cost: float
    """The month's bill with the battery dispatched, in dollars."""
    dollars_saved: float
    """baselineCost minus optimizedCost, in dollars."""


class BatteryEstimatedSavingsResponseDto(CamelResponse):
    baseline_cost: float = Field(description="$ over the requested months without a battery.")
    optimized_cost: float = Field(description="$ with the battery dispatched optimally.")
    dollars_saved: float
    """baselineCost minus optimizedCost for the year, in dollars."""
    percentage_saved: float = Field(description="0-1 of the baseline cost.")
    months: list[MonthSavingsDto]
    """The estimate of each month simulated."""
    assumptions: dict[str, Any] = Field(description="The simulated load, solar and location.")

    @classmethod
    def of(cls, estimate: BatteryEstimate) -> BatteryEstimatedSavingsResponseDto:
        return cls(
            baseline_cost=estimate.baseline_cost,
            optimized_cost=estimate.optimized_cost,
            dollars_saved=estimate.dollars_saved,
            percentage_saved=estimate.percentage_saved,
            months=[MonthSavingsDto.model_validate(asdict(month)) for month in estimate.months],
            assumptions=asdict(estimate.assumptions),
        )
