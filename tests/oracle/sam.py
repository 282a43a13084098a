"""NREL's System Advisor Model (SAM: nrel-pysam's ``Utilityrate5``) pricing a rate plan's year.

An oracle written by others: a plan goes in as SAM's own inputs (``ur_ec_tou_mat``, 12 x 24
schedules, a monthly fixed and minimum charge) with 8,760 hourly loads and no generation, and the
twelve monthly bills come out. SAM's year has 8,760 hours, starts on a Monday and knows neither
daylight saving nor holidays, so our side bills ``SAM_YEAR`` (2029 starts on a Monday and is not
a leap year) for plans without holidays.

Four things SAM cannot take as they are, each put into SAM's terms without changing a price:

- ``$/day`` fixed or minimum charges: SAM has one ``$/month`` figure for every month, so SAM runs
  once per distinct monthly amount (at most three: months of 28, 30 and 31 days) and each month is
  read from its run.
- Tier limits that differ between periods: SAM refuses them ("Tiers should have the same Max.
  Usage across Periods"), so every period gets the union of all limits, a tier split at a limit
  keeping its price (the same kWh at the same price cost the same).
- Negative prices: SAM's net-metering option (the one used) floors a month's energy charge at
  zero, so a plan with a credit runs under net billing (``metering_option``).
- Holidays: SAM has none; callers remove the plan's holiday rule and say so.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentkeys.sandbox.tariffs.model import Period, RatePlan, Tier
from tests.support.private_services import unavailable

SAM_YEAR = 2029
HOURS_PER_YEAR = 8760
MONTHS = tuple(range(1, 13))
# SAM's "no upper limit" for the last tier.
UNBOUNDED_KWH = 1e38
# ur_ec_tou_mat's unit column: 0 = kWh per month, 2 = kWh per day (x the month's days).
TIER_UNIT_CODES = {"month": 0, "day": 2}
# ur_metering_option 0, net energy metering: with no generation every kWh is bought, so the bill is
# the import alone whatever the plan's export rule. Chosen over the net-billing options (2-4) for
# how tiers meet time-of-use periods: here SAM bills the month's totals, each period's kWh filling
# the tiers in proportion to its share of the month (a utility's rule: the bill reads the month's
# meter totals); options 2-4 fill the tiers hour by hour in time order, so which period's kWh fall
# in a cheap tier depends on the hours of the month they came in.
NET_METERING = 0
# ur_metering_option 2, net billing: for plans with a negative price (a credit), which net metering
# would not bill: there a month's energy charge never falls below zero. Net billing fills tiers
# hour by hour, which is the pro-rata split only when a month's periods tier alike, so such a plan
# must not have several periods in a month with tiers (``metering_option`` refuses it).
NET_BILLING = 2
NOT_INSTALLED = "nrel-pysam is not installed: pip install '.[dev]'"


@dataclass(frozen=True, slots=True)
class SamYear:
    """SAM's twelve monthly bills of a plan and their parts (index 0 = January)."""

    total: tuple[float, ...]
    energy: tuple[float, ...]
    fixed: tuple[float, ...]
    minimum: tuple[float, ...]


def utilityrate5() -> Any:
    """``PySAM.Utilityrate5``; skips (fails, with ``AGENTKEYS_REQUIRE_SERVICES=1``) if missing."""
    try:
        from PySAM import Utilityrate5  # noqa: PLC0415 - optional: only the oracle needs it
    except ImportError:
        unavailable(NOT_INSTALLED)
    return Utilityrate5


def tier_limits(plan: RatePlan) -> tuple[float | None, ...]:
    """Every period's tier limits merged (then ``None``: the last tier is unbounded)."""
    limits = {tier.max_kwh for period in plan.periods for tier in period.tiers}
    return (*sorted(limit for limit in limits if limit is not None), None)


def tier_up_to(period: Period, limit: float | None) -> Tier:
    """The period's tier that prices the kWh just below ``limit`` (the unbounded one: ``None``)."""
    if limit is None:
        return period.tiers[-1]
    return next(t for t in period.tiers if t.max_kwh is None or t.max_kwh >= limit)


def tou_matrix(plan: RatePlan) -> tuple[tuple[float, ...], ...]:
    """``ur_ec_tou_mat``: rows [period, tier (both from 1), max kWh, unit, buy, sell ($/kWh)]."""
    unit = TIER_UNIT_CODES[plan.tier_unit]
    rows = []
    for period_number, period in enumerate(plan.periods, start=1):
        for tier_number, limit in enumerate(tier_limits(plan), start=1):
            tier = tier_up_to(period, limit)
            maximum = UNBOUNDED_KWH if limit is None else limit
            sell = tier.sell or 0.0
            rows.append((period_number, tier_number, maximum, unit, tier.price, sell))
    return tuple(rows)


def tiered_time_of_use(plan: RatePlan) -> bool:
    """Whether some month uses several periods, one of them tiered."""
    for weekday, weekend in zip(plan.weekday_schedule, plan.weekend_schedule, strict=True):
        used = {int(char) for char in weekday + weekend}
        if len(used) > 1 and any(len(plan.periods[index].tiers) > 1 for index in used):
            return True
    return False


def metering_option(plan: RatePlan) -> int:
    """``NET_METERING``, or ``NET_BILLING`` for a plan with a negative price."""
    if all(tier.price >= 0 for period in plan.periods for tier in period.tiers):
        return NET_METERING
    if tiered_time_of_use(plan):
        raise ValueError("SAM cannot bill negative prices with tiers shared between periods")
    return NET_BILLING


def sam_schedule(schedule: Sequence[str]) -> tuple[tuple[int, ...], ...]:
    """A 12 x 24 schedule of period numbers from 1 (ours are digits from 0)."""
    return tuple(tuple(int(char) + 1 for char in month) for month in schedule)


def days_in(month: int) -> int:
    return calendar.monthrange(SAM_YEAR, month)[1]


def monthly_fixed(plan: RatePlan, month: int) -> float:
    """The plan's fixed charges for the whole ``month`` of ``SAM_YEAR``, in dollars."""
    days = days_in(month)
    return sum(c.amount * (days if c.per == "day" else 1) for c in plan.fixed_charges)


def monthly_minimum(plan: RatePlan, month: int) -> float:
    """The least the whole ``month``'s bill may come to (0: no minimum)."""
    minimum = plan.minimum_charge
    if minimum is None:
        return 0.0
    return minimum.amount * (days_in(month) if minimum.per == "day" else 1)


def sam_year(plan: RatePlan, hourly_kwh: Sequence[float]) -> SamYear:
    """SAM's monthly bills of ``plan`` for a year of hourly imports (no generation)."""
    if plan.holidays is not None:
        raise ValueError("SAM has no holidays: remove the plan's holiday rule first")
    if len(hourly_kwh) != HOURS_PER_YEAR:
        raise ValueError(f"SAM needs {HOURS_PER_YEAR} hourly loads, not {len(hourly_kwh)}")
    runs: dict[tuple[float, float], SamYear] = {}
    read_from: dict[int, SamYear] = {}
    for month in MONTHS:
        charges = (monthly_fixed(plan, month), monthly_minimum(plan, month))
        if charges not in runs:
            runs[charges] = _run(plan, hourly_kwh, fixed=charges[0], minimum=charges[1])
        read_from[month] = runs[charges]
    return SamYear(
        total=tuple(read_from[month].total[month - 1] for month in MONTHS),
        energy=tuple(read_from[month].energy[month - 1] for month in MONTHS),
        fixed=tuple(read_from[month].fixed[month - 1] for month in MONTHS),
        minimum=tuple(read_from[month].minimum[month - 1] for month in MONTHS),
    )


def _run(plan: RatePlan, hourly_kwh: Sequence[float], *, fixed: float, minimum: float) -> SamYear:
    """One SAM run (one monthly fixed and minimum charge for every month): its monthly parts."""
    model = utilityrate5().new()
    model.Lifetime.assign(
        {"analysis_period": 1, "inflation_rate": 0, "system_use_lifetime_output": 0}
    )
    model.ElectricityRates.assign(
        {
            "en_electricity_rates": 1,
            "rate_escalation": (0,),
            "ur_metering_option": metering_option(plan),
            "ur_monthly_fixed_charge": fixed,
            "ur_monthly_min_charge": minimum,
            "ur_annual_min_charge": 0,
            "ur_dc_enable": 0,
            "ur_en_ts_buy_rate": 0,
            "ur_en_ts_sell_rate": 0,
            "ur_sell_eq_buy": 0,
            "ur_nm_yearend_sell_rate": 0,
            "ur_ec_tou_mat": tou_matrix(plan),
            "ur_ec_sched_weekday": sam_schedule(plan.weekday_schedule),
            "ur_ec_sched_weekend": sam_schedule(plan.weekend_schedule),
        }
    )
    model.SystemOutput.assign({"gen": (0.0,) * HOURS_PER_YEAR, "degradation": (0,)})
    model.Load.assign({"load": tuple(hourly_kwh), "load_escalation": (0,)})
    model.execute(0)
    # Read while ``model`` is alive: Outputs of a freed model crash the interpreter (PySAM 7.1.1).
    outputs = model.Outputs
    return SamYear(
        total=tuple(outputs.year1_monthly_utility_bill_w_sys),
        energy=tuple(outputs.year1_monthly_ec_charge_with_system),
        fixed=tuple(outputs.year1_monthly_fixed_with_system),
        minimum=tuple(outputs.year1_monthly_minimum_with_system),
    )
