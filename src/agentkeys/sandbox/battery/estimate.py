"""Annual battery savings for a home on a rate plan, from a few simulated days of each month.

For every requested month of ``year`` the first ``days`` calendar days (capped at the month's
length) are simulated as one horizon: the typical load shape, clear-sky PV production at the
home's location (``solar``: pvlib's PVWatts chain), and the plan's quarter-hour prices. The cost
without a battery and with the optimal dispatch are scaled by days-in-month / days-simulated and
summed. Costs are energy charges less export credits only: the plan's fixed monthly charge is
the same with or without a battery. Tiered plans are priced at their first tier (the engine's
marginal-price simplification). Money is rounded to cents only in the returned figures.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentkeys.sandbox.battery.load import DEFAULT_LOAD, LoadAssumptions, quarter_hour_load_kwh
from agentkeys.sandbox.battery.optimizer import Battery, baseline_cost, optimize_dispatch
from agentkeys.sandbox.battery.solar import (
    DEFAULT_SOLAR,
    SolarAssumptions,
    as_zone_info,
    quarter_hour_solar_kwh,
)
from agentkeys.sandbox.money import cents
from agentkeys.sandbox.tariffs.engine import day_prices
from agentkeys.sandbox.tariffs.model import ALL_MONTHS, RatePlan

MAX_DAYS_PER_MONTH = 31
MAX_KILOWATTS = 1000
# At 1 % or less a battery returns nothing worth simulating, and smaller values overflow the
# linear program's coefficients (1/efficiency).
MIN_EFFICIENCY = 0.01

# The ranges an estimate accepts, written once: ``BatteryParameters`` checks them and the
# request DTO declares its wire fields with the same types (so the OpenAPI description shows
# them). Only ``Kilowatts`` is the wire's own: a request describes a battery, so its capacity
# and power are > 0; an estimate of no battery at all (0) is still a valid computation.
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Efficiency = Annotated[float, Field(ge=MIN_EFFICIENCY, le=1, allow_inf_nan=False)]
BatteryKilowatts = Annotated[float, Field(ge=0, le=MAX_KILOWATTS, allow_inf_nan=False)]
Kilowatts = Annotated[float, Field(gt=0, le=MAX_KILOWATTS, allow_inf_nan=False)]
SolarKilowatts = Annotated[float, Field(ge=0, le=MAX_KILOWATTS, allow_inf_nan=False)]
SimulatedDays = Annotated[int, Field(ge=1, le=MAX_DAYS_PER_MONTH)]
MonthNumber = Annotated[int, Field(ge=1, le=12)]


# The one rule between the three states of charge: min ≤ current ≤ max.
def soc_bounds_ordered(low: float, high: float) -> bool:
    return low <= high


def soc_within_bounds(low: float, high: float, current: float) -> bool:
    return low <= current <= high


class BatteryParameters(BaseModel):
    """What a savings estimate simulates (WattShift's ``BatteryAnnualEstimatedSavingsRequestDto``
    in SI-ish units and fractions), with every range the sandbox accepts. The request DTO maps
    its wire names onto these fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    days: SimulatedDays
    solar_capacity_kw: SolarKilowatts | None
    max_capacity_kwh: BatteryKilowatts
    charging_kw: BatteryKilowatts
    discharging_kw: BatteryKilowatts
    charging_efficiency: Efficiency
    discharging_efficiency: Efficiency
    current_soc: Fraction
    min_soc: Fraction
    max_soc: Fraction
    months: tuple[MonthNumber, ...] = ALL_MONTHS

    @model_validator(mode="after")
    def _soc_order(self) -> BatteryParameters:
        if not soc_bounds_ordered(self.min_soc, self.max_soc):
            raise ValueError("min_soc must not exceed max_soc")
        if not soc_within_bounds(self.min_soc, self.max_soc, self.current_soc):
            raise ValueError("current_soc must lie between min_soc and max_soc")
        return self

    def battery(self) -> Battery:
        return Battery(
            capacity_kwh=self.max_capacity_kwh,
            charging_kw=self.charging_kw,
            discharging_kw=self.discharging_kw,
            charging_efficiency=self.charging_efficiency,
            discharging_efficiency=self.discharging_efficiency,
            current_soc=self.current_soc,
            min_soc=self.min_soc,
            max_soc=self.max_soc,
        )


@dataclass(frozen=True, slots=True)
class SimulatedLocation:
    """Where the simulated home is (its ZIP code's coordinates) and its time zone."""

    latitude: float
    longitude: float
    timezone: str


@dataclass(frozen=True, slots=True)
class EstimateAssumptions:
    """What the simulated home was: its load, its solar model and size, where and when."""

    location: SimulatedLocation
    year: int
    solar_capacity_kw: float | None
    load: LoadAssumptions = DEFAULT_LOAD
    solar: SolarAssumptions = DEFAULT_SOLAR
    cost_basis: str = (
        "energy charges minus export credits at the plan's quarter-hour prices; fixed monthly "
        "charges excluded (equal with and without a battery); tiered plans at their first tier"
    )
    scaling: str = "each month: simulated days' costs x days in month / days simulated"


@dataclass(frozen=True, slots=True)
class MonthEstimate:
    """One month's figures, already scaled to the whole month (dollars rounded to cents)."""

    month: int
    days_in_month: int
    days_simulated: int
    load_kwh: float
    solar_kwh: float
    baseline_cost: float
    optimized_cost: float
    dollars_saved: float


@dataclass(frozen=True, slots=True)
class BatteryEstimate:
    """Annual (requested months) costs without and with the battery; money in dollars, to cents."""

    baseline_cost: float
    optimized_cost: float
    dollars_saved: float
    percentage_saved: float  # 0-1 of the baseline; 0 when the baseline is not positive
    months: tuple[MonthEstimate, ...]
    assumptions: EstimateAssumptions = field(repr=False)


@dataclass(frozen=True, slots=True)
class _MonthTotals:
    month: int
    days_in_month: int
    days_simulated: int
    load_kwh: float
    solar_kwh: float
    baseline: float
    optimized: float


def estimate_annual_savings(
    *,
    plan: RatePlan,
    timezone: ZoneInfo | str,
    latitude: float,
    longitude: float,
    year: int,
    request: BatteryParameters,
    load: LoadAssumptions = DEFAULT_LOAD,
    solar: SolarAssumptions = DEFAULT_SOLAR,
) -> BatteryEstimate:
    """Baseline and battery-optimised energy cost of ``year`` (or its requested months)."""
    local_zone = as_zone_info(timezone)
    battery = request.battery()
    totals = [
        _simulate_month(
            plan=plan,
            timezone=local_zone,
            latitude=latitude,
            longitude=longitude,
            first_day=date(year, month, 1),
            request=request,
            battery=battery,
            load=load,
            solar=solar,
        )
        for month in sorted(set(request.months))
    ]
    baseline = sum(month.baseline for month in totals)
    optimized = sum(month.optimized for month in totals)
    assumptions = EstimateAssumptions(
        location=SimulatedLocation(latitude=latitude, longitude=longitude, timezone=local_zone.key),
        year=year,
        solar_capacity_kw=request.solar_capacity_kw,
        load=load,
        solar=solar,
    )
    return BatteryEstimate(
        baseline_cost=cents(baseline),
        optimized_cost=cents(optimized),
        dollars_saved=cents(cents(baseline) - cents(optimized)),
        percentage_saved=(baseline - optimized) / baseline if baseline > 0 else 0.0,
        months=tuple(_month_estimate(month) for month in totals),
        assumptions=assumptions,
    )


def _simulate_month(
    *,
    plan: RatePlan,
    timezone: ZoneInfo,
    latitude: float,
    longitude: float,
    first_day: date,
    request: BatteryParameters,
    battery: Battery,
    load: LoadAssumptions,
    solar: SolarAssumptions,
) -> _MonthTotals:
    days_in_month = calendar.monthrange(first_day.year, first_day.month)[1]
    simulated = min(request.days, days_in_month)
    load_kwh: list[float] = []
    solar_kwh: list[float] = []
    import_price: list[float] = []
    export_price: list[float] = []
    for offset in range(simulated):
        day = first_day + timedelta(days=offset)
        load_kwh += quarter_hour_load_kwh(day=day, assumptions=load)
        solar_kwh += quarter_hour_solar_kwh(
            capacity_kw=request.solar_capacity_kw or 0.0,
            latitude=latitude,
            longitude=longitude,
            timezone=timezone,
            day=day,
            assumptions=solar,
        )
        day_import, day_export = day_prices(plan, day)
        import_price += day_import
        export_price += day_export
    baseline = baseline_cost(
        load_kwh=load_kwh,
        solar_kwh=solar_kwh,
        import_price=import_price,
        export_price=export_price,
    )
    dispatch = optimize_dispatch(
        load_kwh=load_kwh,
        solar_kwh=solar_kwh,
        import_price=import_price,
        export_price=export_price,
        battery=battery,
    )
    # The baseline is a feasible dispatch; solver round-off must not read as negative savings.
    optimized = min(dispatch.cost, baseline)
    scale = days_in_month / simulated
    return _MonthTotals(
        month=first_day.month,
        days_in_month=days_in_month,
        days_simulated=simulated,
        load_kwh=sum(load_kwh) * scale,
        solar_kwh=sum(solar_kwh) * scale,
        baseline=baseline * scale,
        optimized=optimized * scale,
    )


def _month_estimate(totals: _MonthTotals) -> MonthEstimate:
    return MonthEstimate(
        month=totals.month,
        days_in_month=totals.days_in_month,
        days_simulated=totals.days_simulated,
        load_kwh=round(totals.load_kwh, 3),
        solar_kwh=round(totals.solar_kwh, 3),
        baseline_cost=cents(totals.baseline),
        optimized_cost=cents(totals.optimized),
        dollars_saved=cents(cents(totals.baseline) - cents(totals.optimized)),
    )
