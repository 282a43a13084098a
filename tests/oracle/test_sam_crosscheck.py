"""Our bills against NREL's System Advisor Model (SAM), an oracle we did not write.

Every shipped plan is billed month by month for a year of hourly loads (flat, and an evening-
peaking home with a summer swing; a low-use home too where a minimum charge applies) by our
engine and by SAM's ``Utilityrate5``; each month's bills must agree within a cent, or within our
rounding of each line to the cent (``differences``). Plans are put into SAM's terms as
``tests/oracle/sam.py`` explains (holidays removed: SAM has none). First, hand-priced plans check
that the harness says to SAM what the plan says: SAM must reproduce the hand arithmetic before it
may judge our engine.
"""

from __future__ import annotations

import calendar
from collections import Counter
from collections.abc import Callable, Collection
from datetime import date
from functools import cache
from typing import Any

import pytest

from agentkeys.sandbox.tariffs.catalog import load_catalog
from agentkeys.sandbox.tariffs.engine import Bill, ChargeKind, compute_bill
from agentkeys.sandbox.tariffs.holidays import HOLIDAY_NAMES
from agentkeys.sandbox.tariffs.model import RatePlan
from tests.oracle.loads import flat_year, low_use_year, peaky_year, quarter_hour_days
from tests.oracle.sam import (
    MONTHS,
    NET_BILLING,
    SAM_YEAR,
    SamYear,
    metering_option,
    sam_year,
)

# Each month's total must agree within a cent, or within half a cent per line of our bill when
# that is more: every line is rounded to the cent (as a printed bill is) and the total adds the
# rounded lines, while SAM's total is not rounded, so a bill of n lines may be n x $0.005 away.
# That rounding is the only difference is checked too: our energy lines before rounding
# (kWh x $/kWh) must add up to SAM's energy charge within a millionth of a dollar per dollar.
CENT = 0.01
HALF_CENT = 0.005
FLOAT_NOISE = 1e-9
UNROUNDED = 1e-6
PROFILES: dict[str, Callable[[], tuple[float, ...]]] = {
    "flat": flat_year,
    "peaky": peaky_year,
    "low": low_use_year,
}
# The low-use year only where it matters: a plan with a minimum charge, which it falls below.
EVERY_PLAN = ("flat", "peaky")
WITH_A_MINIMUM = ("flat", "peaky", "low")

# How a shipped plan was put into SAM's terms (tests/oracle/sam.py); counted and printed.
HOLIDAYS_REMOVED = "holidays removed (SAM has none); months without one compared with them on"
DAILY_CHARGES = "$/day fixed or minimum charge: one SAM run per month length"
TIER_LIMITS_MERGED = "tier limits differ between periods: each period given every limit"
LOW_USE = "minimum charge: a low-use year below it compared too"
NEGATIVE_PRICES = "negative price: SAM's net-billing option (net metering floors energy at $0)"
AS_SHIPPED = "compared as shipped"

# The month of each holiday a plan may name, in 2029 (a weekend one observed in the same month:
# Veterans Day, Sunday 11 November, on Monday 12). A holiday plan's other months are compared
# with its holiday rule on: the rule must not touch them.
HOLIDAY_MONTHS_2029 = {
    "new_years_day": 1,  # Monday 1 January
    "mlk_day": 1,  # third Monday: 15 January
    "washingtons_birthday": 2,  # third Monday: 19 February
    "memorial_day": 5,  # last Monday: 28 May
    "juneteenth": 6,  # Tuesday 19 June
    "independence_day": 7,  # Wednesday 4 July
    "labor_day": 9,  # first Monday: 3 September
    "columbus_day": 10,  # second Monday: 8 October
    "veterans_day": 11,  # Sunday 11 November (observed Monday 12)
    "thanksgiving": 11,  # fourth Thursday: 22 November
    "day_after_thanksgiving": 11,  # Friday 23 November
    "christmas": 12,  # Tuesday 25 December
}

# Plans SAM cannot price at all, by id, with the reason (counted by the census test).
NOT_COMPARED: dict[str, str] = {}
# Plans whose bills differ from SAM's, by id, with the explanation (strict xfail: a fix fails it).
KNOWN_DIFFERENCES: dict[str, str] = {}


@cache
def hourly_year(profile: str) -> tuple[float, ...]:
    return PROFILES[profile]()


@cache
def usage_by_month(profile: str) -> dict[int, list[list[float]]]:
    return quarter_hour_days(hourly_year(profile))


def our_year(plan: RatePlan, profile: str) -> list[Bill]:
    """Our bill of each calendar month of ``SAM_YEAR`` (a Monday-start, 365-day year)."""
    days = usage_by_month(profile)
    return [compute_bill(plan, start=date(SAM_YEAR, m, 1), usage=days[m]) for m in MONTHS]


def as_sam_sees_it(plan: RatePlan) -> tuple[RatePlan, tuple[str, ...]]:
    """The plan SAM is given (holidays removed) and how it was put into SAM's terms."""
    notes = []
    if plan.holidays is not None:
        plan = plan.model_copy(update={"holidays": None})
        notes.append(HOLIDAYS_REMOVED)
    daily = [charge.per for charge in plan.fixed_charges]
    if plan.minimum_charge is not None:
        daily.append(plan.minimum_charge.per)
    if "day" in daily:
        notes.append(DAILY_CHARGES)
    per_period = {tuple(tier.max_kwh for tier in period.tiers) for period in plan.periods}
    if len(per_period) > 1:
        notes.append(TIER_LIMITS_MERGED)
    if plan.minimum_charge is not None:
        notes.append(LOW_USE)
    if metering_option(plan) == NET_BILLING:
        notes.append(NEGATIVE_PRICES)
    return plan, tuple(notes)


def differences(ours: list[Bill], sam: SamYear, months: Collection[int] = MONTHS) -> list[str]:
    """``months`` where our bill and SAM's differ by more than rounding, with both sides' parts."""
    found = []
    for month, bill in zip(MONTHS, ours, strict=True):
        if month not in months:
            continue
        index = month - 1
        energy = sum(line.kwh * line.rate for line in bill.lines if line.kind is ChargeKind.ENERGY)
        rounding = max(CENT, HALF_CENT * len(bill.lines)) + FLOAT_NOISE
        unrounded_agrees = abs(energy - sam.energy[index]) <= UNROUNDED * max(1.0, abs(energy))
        if abs(bill.total - sam.total[index]) > rounding or not unrounded_agrees:
            found.append(
                f"{calendar.month_abbr[month]}: ours {bill.total:.2f} (energy "
                f"{bill.energy_charges:.2f}, unrounded {energy:.4f}; fixed "
                f"{bill.fixed_charges:.2f}; minimum {bill.minimum_charges:.2f}; "
                f"{len(bill.lines)} lines) vs SAM {sam.total[index]:.4f} (energy "
                f"{sam.energy[index]:.4f}, fixed {sam.fixed[index]:.4f}, minimum "
                f"{sam.minimum[index]:.4f})"
            )
    return found


def crosscheck(plan: RatePlan) -> list[str]:
    """Every profile's differing months of ``plan`` (empty: SAM agrees to the cent)."""
    sam_plan, _ = as_sam_sees_it(plan)
    found: list[str] = []
    profiles = EVERY_PLAN if plan.minimum_charge is None else WITH_A_MINIMUM
    for profile in profiles:
        months = differences(our_year(sam_plan, profile), sam_year(sam_plan, hourly_year(profile)))
        found.extend(f"{profile} {line}" for line in months)
    if plan.holidays is not None:
        holiday_months = {HOLIDAY_MONTHS_2029[name] for name in plan.holidays.days}
        others = [month for month in MONTHS if month not in holiday_months]
        sam = sam_year(sam_plan, hourly_year("flat"))
        months = differences(our_year(plan, "flat"), sam, others)
        found.extend(f"flat, holidays on, {line}" for line in months)
    return found


# --- Hand-priced plans ---------------------------------------------------------------------

ALL_HOURS = "0" * 24
MORNING_AND_AFTERNOON = "0" * 12 + "1" * 12
EVENING_PEAK = "1" * 16 + "0" * 5 + "1" * 3  # period 0 = peak 16:00-21:00, 1 = off-peak


def synthetic_plan(
    *,
    periods: list[list[dict[str, Any]]],
    weekday: str = ALL_HOURS,
    weekend: str | None = None,
    **fields: Any,
) -> RatePlan:
    """A plan of the shipped schema: ``periods`` lists each period's tiers; same hours all year."""
    return RatePlan.model_validate(
        {
            "id": "5a" * 12,
            "rateID": "synthetic",
            "ratePlanName": "Synthetic",
            "supportedType": "tou",
            "description": "Priced by hand in the test.",
            "dataSource": "ratebook",
            "source": "https://example.invalid/synthetic",
            "effectiveDate": None,
            "seasons": {"all_year": list(MONTHS)},
            "periods": [
                {"name": f"period_{number}", "tiers": tiers} for number, tiers in enumerate(periods)
            ],
            "weekdaySchedule": [weekday] * 12,
            "weekendSchedule": [weekend or weekday] * 12,
            "exportCredit": {"type": "none"},
            **fields,
        }
    )


# 2029: January has 744 hours (31 days, 23 weekdays: Monday 1st … Wednesday 31st), February 672
# (28 days from Thursday 1st: 20 weekdays). Flat load: 1 kWh every hour unless said.
HAND_PRICED: dict[str, tuple[RatePlan, float, float, float]] = {
    # 744 x 0.20 + 10 = 158.80; 672 x 0.20 + 10 = 144.40.
    "flat price, $/month fixed": (
        synthetic_plan(
            periods=[[{"price": 0.20}]],
            fixedCharges=[{"name": "Customer", "amount": 10.0, "per": "month"}],
        ),
        1.0,
        158.80,
        144.40,
    ),
    # 500 x 0.20 + 244 x 0.30 = 173.20; 500 x 0.20 + 172 x 0.30 = 151.60.
    "monthly tiers": (
        synthetic_plan(periods=[[{"price": 0.20, "maxKwh": 500}, {"price": 0.30}]]),
        1.0,
        173.20,
        151.60,
    ),
    # 10 kWh/day: Jan 310 x 0.20 + 434 x 0.30 = 192.20; Feb 280 x 0.20 + 392 x 0.30 = 173.60.
    "daily tiers": (
        synthetic_plan(periods=[[{"price": 0.20, "maxKwh": 10}, {"price": 0.30}]], tierUnit="day"),
        1.0,
        192.20,
        173.60,
    ),
    # Weekday 16:00-21:00 at 0.50, else 0.20. Jan: 23 x 5 = 115 kWh x 0.50 + 629 x 0.20 = 183.30;
    # Feb: 20 x 5 = 100 x 0.50 + 572 x 0.20 = 164.40.
    "time of use, weekday peak": (
        synthetic_plan(
            periods=[[{"price": 0.50}], [{"price": 0.20}]],
            weekday=EVENING_PEAK,
            weekend="1" * 24,
        ),
        1.0,
        183.30,
        164.40,
    ),
    # Time of use with tiers on the month's total, shared pro rata: Jan 372 kWh in each period,
    # tier 1 = 400 x 372/744 = 200 kWh of each: 200 x 0.20 + 172 x 0.30 + 200 x 0.40 + 172 x 0.70
    # = 292.00. (Tiers per period would give 372 x 0.20 + 372 x 0.40 = 223.20; tiers filled hour
    # by hour, as SAM's net-billing options do, 204 and 196 kWh in tier 1: 292.80.) Feb: 336 each:
    # 200 x 0.20 + 136 x 0.30 + 200 x 0.40 + 136 x 0.70 = 256.00.
    "time of use with monthly tiers": (
        synthetic_plan(
            periods=[
                [{"price": 0.20, "maxKwh": 400}, {"price": 0.30}],
                [{"price": 0.40, "maxKwh": 400}, {"price": 0.70}],
            ],
            weekday=MORNING_AND_AFTERNOON,
        ),
        1.0,
        292.00,
        256.00,
    ),
    # Tiers in one period only: period 0 (00:00-12:00) 0.20 up to 300 kWh then 0.30, period 1
    # (12:00-24:00) 0.40 flat; the limit counts the month's kWh, period 0's share being half.
    # Pro rata: Jan 150 x 0.20 + 222 x 0.30 + 372 x 0.40 = 245.40; Feb 150 x 0.20 + 186 x 0.30
    # + 336 x 0.40 = 220.20. (Period 0's kWh alone against 300: 300 x 0.20 + 72 x 0.30 + 148.80
    # = 230.40 in January.)
    "tiers in one period of two": (
        synthetic_plan(
            periods=[[{"price": 0.20, "maxKwh": 300}, {"price": 0.30}], [{"price": 0.40}]],
            weekday=MORNING_AND_AFTERNOON,
        ),
        1.0,
        245.40,
        220.20,
    ),
    # 744 x 0.10 + 31 x 0.50 = 89.90; 672 x 0.10 + 28 x 0.50 = 81.20.
    "$/day fixed charge": (
        synthetic_plan(
            periods=[[{"price": 0.10}]],
            fixedCharges=[{"name": "Basic service", "amount": 0.50, "per": "day"}],
        ),
        1.0,
        89.90,
        81.20,
    ),
    # A credit rider's negative price: 11 - 744 x 0.01 = 3.56; 11 - 672 x 0.01 = 4.28.
    "negative price": (
        synthetic_plan(
            periods=[[{"price": -0.01}]],
            fixedCharges=[{"name": "Customer", "amount": 11.0, "per": "month"}],
        ),
        1.0,
        3.56,
        4.28,
    ),
    # 0.02 kWh/h: Jan 14.88 x 0.10 + 5 = 6.488 < 10 → 10.00; Feb 13.44 x 0.10 + 5 = 6.344 → 10.00.
    "$/month minimum charge": (
        synthetic_plan(
            periods=[[{"price": 0.10}]],
            fixedCharges=[{"name": "Customer", "amount": 5.0, "per": "month"}],
            minimumCharge={"amount": 10.0, "per": "month"},
        ),
        0.02,
        10.00,
        10.00,
    ),
    # $0.40/day: Jan 6.488 < 31 x 0.40 = 12.40 → 12.40; Feb 6.344 < 28 x 0.40 = 11.20 → 11.20.
    "$/day minimum charge": (
        synthetic_plan(
            periods=[[{"price": 0.10}]],
            fixedCharges=[{"name": "Customer", "amount": 5.0, "per": "month"}],
            minimumCharge={"amount": 0.40, "per": "day"},
        ),
        0.02,
        12.40,
        11.20,
    ),
}


class TestSamYear:
    def test_sam_year_is_a_monday_start_year_of_8760_hours(self) -> None:
        # SAM's hour 0 is a Monday 00:00 and its year has 365 days: so must ours.
        assert date(SAM_YEAR, 1, 1).weekday() == calendar.MONDAY
        assert not calendar.isleap(SAM_YEAR)

    def test_every_holiday_a_plan_may_name_has_its_2029_month(self) -> None:
        assert set(HOLIDAY_MONTHS_2029) == set(HOLIDAY_NAMES)

    def test_a_credit_in_tiered_time_of_use_is_refused_not_misjudged(self) -> None:
        # Net billing, needed for a negative price, fills tiers hour by hour: not our pro rata.
        plan = synthetic_plan(
            periods=[[{"price": -0.01, "maxKwh": 300}, {"price": 0.30}], [{"price": 0.40}]],
            weekday=MORNING_AND_AFTERNOON,
        )
        with pytest.raises(ValueError, match="negative prices with tiers"):
            sam_year(plan, flat_year())


class TestHandPricedPlans:
    @pytest.mark.parametrize("case", HAND_PRICED)
    def test_sam_reproduces_the_hand_arithmetic(self, case: str) -> None:
        plan, kwh_per_hour, january, february = HAND_PRICED[case]
        sam = sam_year(plan, flat_year(kwh_per_hour))
        assert sam.total[:2] == pytest.approx((january, february), abs=1e-9)

    @pytest.mark.parametrize("case", HAND_PRICED)
    def test_our_bills_match_the_hand_arithmetic(self, case: str) -> None:
        plan, kwh_per_hour, january, february = HAND_PRICED[case]
        days = quarter_hour_days(flat_year(kwh_per_hour))
        bills = [compute_bill(plan, start=date(SAM_YEAR, m, 1), usage=days[m]) for m in (1, 2)]
        assert [bill.total for bill in bills] == pytest.approx([january, february], abs=1e-9)

    @pytest.mark.parametrize("case", HAND_PRICED)
    def test_our_bills_match_sam_every_month_of_both_profiles(self, case: str) -> None:
        plan = HAND_PRICED[case][0]
        assert crosscheck(plan) == []

    def test_a_holiday_is_the_one_thing_sam_cannot_see(self) -> None:
        # Priced as a weekend, New Year's Day (Monday 1 January 2029) moves 5 kWh from 0.50 to
        # 0.20: January is 183.30 - 5 x 0.30 = 181.80 with the holiday; SAM, which has none, is
        # given the plan without it and must still agree with us on the rest.
        plan = synthetic_plan(
            periods=[[{"price": 0.50}], [{"price": 0.20}]],
            weekday=EVENING_PEAK,
            weekend="1" * 24,
            holidays={"days": ["new_years_day"]},
        )
        january = compute_bill(plan, start=date(SAM_YEAR, 1, 1), usage=usage_by_month("flat")[1])
        assert january.total == pytest.approx(181.80, abs=1e-9)
        assert as_sam_sees_it(plan)[1] == (HOLIDAYS_REMOVED,)
        assert crosscheck(plan) == []
        with pytest.raises(ValueError, match="no holidays"):
            sam_year(plan, flat_year())


# --- Shipped plans --------------------------------------------------------------------------


def shipped_plans() -> list[RatePlan]:
    return [plan for utility in load_catalog().utilities for plan in utility.rate_plans]


def shipped_params() -> list[Any]:
    params = []
    for plan in shipped_plans():
        if plan.id in NOT_COMPARED:
            continue
        marks = []
        if plan.id in KNOWN_DIFFERENCES:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_DIFFERENCES[plan.id]))
        params.append(pytest.param(plan, id=plan.id, marks=marks))
    return params


class TestShippedPlans:
    def test_every_shipped_plan_is_compared_or_excused(self) -> None:
        plans = shipped_plans()
        census: Counter[str] = Counter()
        for plan in plans:
            if plan.id in NOT_COMPARED:
                census[f"not compared: {NOT_COMPARED[plan.id]}"] += 1
                continue
            notes = as_sam_sees_it(plan)[1]
            census.update(notes or (AS_SHIPPED,))
            census["compared"] += 1
        print(f"\n{len(plans)} shipped plans against SAM:")  # the census: shown with -s or -rP
        for reason, count in sorted(census.items()):
            print(f"  {count:5d}  {reason}")
        # Every id excused or explained is a shipped plan (no stale entries).
        ids = {plan.id for plan in plans}
        assert set(NOT_COMPARED) <= ids
        assert set(KNOWN_DIFFERENCES) <= ids
        assert census["compared"] + len(NOT_COMPARED) == len(plans)

    @pytest.mark.parametrize("plan", shipped_params())
    def test_bills_match_sam_every_month(self, plan: RatePlan) -> None:
        assert crosscheck(plan) == [], f"{plan.rate_id} ({plan.name}) differs from SAM"
