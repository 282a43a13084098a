"""The tariff engine on plans built here in the catalog's shape: bills worked out by hand.

Every expected amount is written out in a comment so a reader can check it with a calculator.
Lines are rounded to the cent one by one (``round(kwh * rate, 2)``); totals add rounded lines.
Slots are the 96 wall-clock quarter-hours of a local day: slot 64 is 16:00, slot 84 is 21:00.
July 2026 has 31 days and starts on a Wednesday; 2026-07-06 is a Monday; 2026-07-04 (Independence
Day) is a Saturday, observed on Friday 2026-07-03.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agentkeys.sandbox.tariffs.engine import (
    Bill,
    ChargeKind,
    ChargeLine,
    compute_bill,
    day_prices,
    price_signal,
)
from agentkeys.sandbox.tariffs.model import SLOTS_PER_DAY, RatePlan

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
PEAK_SLOTS = range(64, 84)  # 16:00 up to 21:00 local: 20 quarter-hours
ALL_YEAR = {"all_year": list(range(1, 13))}
SUMMER_WINTER = {"summer": [6, 7, 8, 9], "winter": [1, 2, 3, 4, 5, 10, 11, 12]}
# Period 1 from 16:00 to 21:00, period 0 the rest of the day.
PEAK_ROW = "0" * 16 + "1" * 5 + "0" * 3
FLAT_ROW = "0" * 24


def every_month(row: str) -> list[str]:
    return [row] * 12


def period(name: str, *tiers: tuple[float, float | None], sell: float | None = None) -> Any:
    """A period of (price, maxKwh) tiers; the last tier's limit is None."""
    found: list[dict[str, Any]] = [{"price": price, "maxKwh": limit} for price, limit in tiers]
    if sell is not None:
        found[0]["sell"] = sell
    return {"name": name, "tiers": found}


def make_plan(**changes: Any) -> RatePlan:
    """A flat 0.20 $/kWh plan in the catalog's shape, with ``changes`` (by JSON name)."""
    values: dict[str, Any] = {
        "id": "0123456789abcdef01234567",
        "rateID": "TEST",
        "ratePlanName": "Test plan",
        "supportedType": "flat",
        "description": "Built by the engine's tests.",
        "dataSource": "ratebook",
        "source": "https://example.org/tariff",
        "effectiveDate": "2026-01-01",
        "seasons": ALL_YEAR,
        "periods": [period("all_day", (0.20, None))],
        "weekdaySchedule": every_month(FLAT_ROW),
        "weekendSchedule": every_month(FLAT_ROW),
        "exportCredit": {"type": "none"},
        **changes,
    }
    return RatePlan.model_validate(values)


def tou_plan(**changes: Any) -> RatePlan:
    """Off-peak 0.20, peak 0.50 $/kWh from 16:00 to 21:00 on weekdays; weekends off-peak."""
    values: dict[str, Any] = {
        "supportedType": "tou",
        "periods": [period("off_peak", (0.20, None)), period("peak", (0.50, None))],
        "weekdaySchedule": every_month(PEAK_ROW),
    }
    return make_plan(**{**values, **changes})


def constant_days(count: int, kwh_per_slot: float) -> list[list[float]]:
    return [[kwh_per_slot] * SLOTS_PER_DAY for _ in range(count)]


def day_with(slots: dict[int, float], *, elsewhere: float = 0.0) -> list[float]:
    """A day of ``elsewhere`` kWh per slot, except the slots given."""
    return [slots.get(slot, elsewhere) for slot in range(SLOTS_PER_DAY)]


LineKey = tuple[str, str | None, str | None, int | None]


def amounts(bill: Bill) -> dict[LineKey, float]:
    """Each line's amount keyed by (kind, season, period, tier); no two lines share a key."""
    keyed = {
        (line.kind.value, line.season, line.period, line.tier): line.amount for line in bill.lines
    }
    assert len(keyed) == len(bill.lines), bill.lines
    return keyed


def the_line(bill: Bill, kind: str, description: str) -> ChargeLine:
    matching = [
        line for line in bill.lines if line.kind == kind and line.description == description
    ]
    assert len(matching) == 1, bill.lines
    return matching[0]


class TestFlatBill:
    def test_every_kwh_is_priced_at_the_one_rate(self) -> None:
        # July 2026: 31 days x 96 slots x 0.5 kWh = 1,488 kWh; 1,488 x 0.25 = 372.00.
        plan = make_plan(periods=[period("all_day", (0.25, None))])
        bill = compute_bill(plan, start=date(2026, 7, 1), usage=constant_days(31, 0.5))

        assert amounts(bill) == {("energy", "all_year", "all_day", None): 372.00}
        line = the_line(bill, "energy", "Energy, all_year all_day")
        assert (line.kwh, line.rate) == (1488, 0.25)
        assert (bill.total, bill.energy_charges, bill.import_kwh) == (372.00, 372.00, 1488)
        assert (bill.days, bill.end) == (31, date(2026, 8, 1))

    def test_a_bill_across_a_season_change_has_a_line_per_season(self) -> None:
        # 30 May - 2 June, 48 kWh a day: winter 2 x 48 = 96 x 0.20 = 19.20,
        # summer 96 x 0.30 = 28.80; total 48.00.
        plan = make_plan(
            seasons=SUMMER_WINTER,
            periods=[period("winter_day", (0.20, None)), period("summer_day", (0.30, None))],
            weekdaySchedule=[
                "1" * 24 if month in (6, 7, 8, 9) else FLAT_ROW for month in range(1, 13)
            ],
            weekendSchedule=[
                "1" * 24 if month in (6, 7, 8, 9) else FLAT_ROW for month in range(1, 13)
            ],
        )
        bill = compute_bill(plan, start=date(2026, 5, 30), usage=constant_days(4, 0.5))

        assert amounts(bill) == {
            ("energy", "winter", "winter_day", None): 19.20,
            ("energy", "summer", "summer_day", None): 28.80,
        }
        assert [line.season for line in bill.lines] == ["winter", "summer"]
        assert bill.total == 48.00

    def test_a_bill_with_no_usage_still_shows_its_energy_line(self) -> None:
        bill = compute_bill(make_plan(), start=date(2026, 7, 1), usage=constant_days(1, 0.0))

        assert amounts(bill) == {("energy", "all_year", "all_day", None): 0.0}
        assert bill.total == 0.0


class TestTiers:
    def test_a_monthly_tier_allows_its_kwh_in_a_whole_month(self) -> None:
        # July, 1,488 kWh; tier 1 up to 500 kWh a month:
        #   500 x 0.20 = 100.00; 988 x 0.30 = 296.40; total 396.40.
        plan = make_plan(periods=[period("all_day", (0.20, 500), (0.30, None))])
        bill = compute_bill(plan, start=date(2026, 7, 1), usage=constant_days(31, 0.5))

        assert amounts(bill) == {
            ("energy", "all_year", "all_day", 1): 100.00,
            ("energy", "all_year", "all_day", 2): 296.40,
        }
        assert the_line(bill, "energy", "Energy, all_year all_day, tier 1").kwh == 500
        assert the_line(bill, "energy", "Energy, all_year all_day, tier 2").kwh == 988
        assert bill.total == 396.40

    def test_a_monthly_tier_is_prorated_by_day_in_a_partial_month(self) -> None:
        # 1-10 July, 480 kWh; tier 1 allows 500 x 10/31 = 161.2903 kWh:
        #   161.2903 x 0.20 = 32.2581 -> 32.26; (480 - 161.2903) x 0.30 = 95.6129 -> 95.61;
        #   total 127.87.
        plan = make_plan(periods=[period("all_day", (0.20, 500), (0.30, None))])
        bill = compute_bill(plan, start=date(2026, 7, 1), usage=constant_days(10, 0.5))

        assert amounts(bill) == {
            ("energy", "all_year", "all_day", 1): 32.26,
            ("energy", "all_year", "all_day", 2): 95.61,
        }
        assert the_line(bill, "energy", "Energy, all_year all_day, tier 1").kwh == pytest.approx(
            5000 / 31
        )
        assert bill.total == 127.87

    def test_a_bill_over_two_months_gives_each_month_its_share_of_the_tier(self) -> None:
        # 21 June - 10 July: 10 June days and 10 July days of 48 kWh = 480 kWh each.
        #   tier 1: June 500 x 10/30 = 166.6667 + July 500 x 10/31 = 161.2903 = 327.9570 kWh
        #           x 0.20 = 65.5914 -> 65.59
        #   tier 2: 960 - 327.9570 = 632.0430 kWh x 0.30 = 189.6129 -> 189.61
        #   fixed 10 $/month: 10 x 10/30 + 10 x 10/31 = 3.3333 + 3.2258 = 6.5591 -> 6.56
        #   total 65.59 + 189.61 + 6.56 = 261.76
        plan = make_plan(
            periods=[period("all_day", (0.20, 500), (0.30, None))],
            fixedCharges=[{"name": "Customer charge", "amount": 10, "per": "month"}],
        )
        bill = compute_bill(plan, start=date(2026, 6, 21), usage=constant_days(20, 0.5))

        assert amounts(bill) == {
            ("fixed", None, None, None): 6.56,
            ("energy", "all_year", "all_day", 1): 65.59,
            ("energy", "all_year", "all_day", 2): 189.61,
        }
        tier_1 = the_line(bill, "energy", "Energy, all_year all_day, tier 1")
        assert tier_1.kwh == pytest.approx(500 / 3 + 5000 / 31)
        assert bill.total == 261.76

    def test_a_daily_tier_allows_its_kwh_times_the_days(self) -> None:
        # July (31 days), 1,488 kWh; tier 1 up to 10 kWh a day = 310 kWh:
        #   310 x 0.20 = 62.00; 1,178 x 0.30 = 353.40; total 415.40.
        plan = make_plan(tierUnit="day", periods=[period("all_day", (0.20, 10), (0.30, None))])
        bill = compute_bill(plan, start=date(2026, 7, 1), usage=constant_days(31, 0.5))

        assert amounts(bill) == {
            ("energy", "all_year", "all_day", 1): 62.00,
            ("energy", "all_year", "all_day", 2): 353.40,
        }
        assert bill.total == 415.40

    def test_a_daily_tier_in_a_partial_month_allows_the_days_billed(self) -> None:
        # 1-10 July, 480 kWh; 10 x 10 = 100 kWh in tier 1: 20.00; 380 x 0.30 = 114.00.
        plan = make_plan(tierUnit="day", periods=[period("all_day", (0.20, 10), (0.30, None))])
        bill = compute_bill(plan, start=date(2026, 7, 1), usage=constant_days(10, 0.5))

        assert amounts(bill) == {
            ("energy", "all_year", "all_day", 1): 20.00,
            ("energy", "all_year", "all_day", 2): 114.00,
        }

    def test_usage_within_the_first_tier_shows_one_line(self) -> None:
        # 1 July, 10 kWh at 03:00 <= 500 x 1/31 = 16.1290 kWh: all tier 1, 10 x 0.20 = 2.00.
        plan = make_plan(periods=[period("all_day", (0.20, 500), (0.30, None))])
        bill = compute_bill(plan, start=date(2026, 7, 1), usage=[day_with({12: 10.0})])

        assert amounts(bill) == {("energy", "all_year", "all_day", 1): 2.00}


class TestTimeOfUse:
    def test_peak_hours_of_weekdays_cost_the_peak_price(self) -> None:
        # Monday 6 - Sunday 12 July, 1 kWh per slot:
        #   peak: 5 weekdays x 20 slots = 100 kWh x 0.50 = 50.00
        #   off-peak: 5 x 76 + 2 x 96 = 572 kWh x 0.20 = 114.40
        #   total 164.40
        bill = compute_bill(tou_plan(), start=date(2026, 7, 6), usage=constant_days(7, 1.0))

        assert amounts(bill) == {
            ("energy", "all_year", "off_peak", None): 114.40,
            ("energy", "all_year", "peak", None): 50.00,
        }
        assert the_line(bill, "energy", "Energy, all_year peak").kwh == 100
        assert bill.total == 164.40

    def test_a_tou_window_keeps_its_wall_clock_hours_on_a_daylight_saving_day(self) -> None:
        # Monday 9 March 2026 (the day after the change): 1 kWh at 16:00 local is peak, 0.50.
        bill = compute_bill(tou_plan(), start=date(2026, 3, 9), usage=[day_with({64: 1.0})])

        assert amounts(bill) == {
            ("energy", "all_year", "off_peak", None): 0.0,
            ("energy", "all_year", "peak", None): 0.50,
        }


class TestTimeOfUseWithTiers:
    def test_tiers_count_the_months_total_and_split_each_period_pro_rata(self) -> None:
        # SAM's case (checked with PySAM Utilityrate5: 598.40). January: 00:00-12:00 "night"
        # and 12:00-24:00 "day", 0.25 kWh a slot = 12 kWh a half-day: 31 x 12 = 372 kWh each.
        # Total 744 kWh; 400 kWh in tier 1 (0.55), 344 in tier 2 (1.10); each period holds
        # half: 200 kWh x 0.55 = 110.00 and 172 kWh x 1.10 = 189.20. Total 2 x 299.20 = 598.40
        # (limits counted per period would put all 372 in tier 1: 744 x 0.55 = 409.20).
        tiers = ((0.55, 400), (1.10, None))
        plan = make_plan(
            supportedType="tou",
            periods=[period("night", *tiers), period("day", *tiers)],
            weekdaySchedule=every_month("0" * 12 + "1" * 12),
            weekendSchedule=every_month("0" * 12 + "1" * 12),
        )
        bill = compute_bill(plan, start=date(2026, 1, 1), usage=constant_days(31, 0.25))

        assert amounts(bill) == {
            ("energy", "all_year", "night", 1): 110.00,
            ("energy", "all_year", "night", 2): 189.20,
            ("energy", "all_year", "day", 1): 110.00,
            ("energy", "all_year", "day", 2): 189.20,
        }
        assert the_line(bill, "energy", "Energy, all_year day, tier 2").kwh == 172
        assert bill.total == 598.40

    def test_each_period_applies_its_own_limits_to_the_months_total(self) -> None:
        # January, 1 kWh an hour: "early" 00:00-08:00 = 248 kWh, "late" 08:00-24:00 = 496 kWh;
        # total 744 kWh.
        #   early, limit 300: tier 1 share 300/744 -> 248 x 300/744 = 100 kWh x 0.20 = 20.00;
        #                     tier 2 148 kWh x 0.40 = 59.20
        #   late, limit 500:  tier 1 share 500/744 -> 496 x 500/744 = 333.3333 kWh x 0.30 = 100.00;
        #                     tier 2 162.6667 kWh x 0.60 = 97.60
        #   total 276.80
        plan = make_plan(
            supportedType="tou",
            periods=[
                period("early", (0.20, 300), (0.40, None)),
                period("late", (0.30, 500), (0.60, None)),
            ],
            weekdaySchedule=every_month("0" * 8 + "1" * 16),
            weekendSchedule=every_month("0" * 8 + "1" * 16),
        )
        bill = compute_bill(plan, start=date(2026, 1, 1), usage=constant_days(31, 0.25))

        assert amounts(bill) == {
            ("energy", "all_year", "early", 1): 20.00,
            ("energy", "all_year", "early", 2): 59.20,
            ("energy", "all_year", "late", 1): 100.00,
            ("energy", "all_year", "late", 2): 97.60,
        }
        assert the_line(bill, "energy", "Energy, all_year late, tier 1").kwh == pytest.approx(
            1000 / 3
        )
        assert bill.total == 276.80

    def test_an_untiered_period_next_to_a_tiered_one_keeps_its_one_price(self) -> None:
        # January, 1 kWh an hour: "early" (limit 300) 248 kWh, "late" (one tier) 496 kWh.
        #   early: 248 x 300/744 = 100 kWh x 0.20 = 20.00; 148 kWh x 0.40 = 59.20
        #   late: 496 x 0.30 = 148.80
        plan = make_plan(
            supportedType="tou",
            periods=[period("early", (0.20, 300), (0.40, None)), period("late", (0.30, None))],
            weekdaySchedule=every_month("0" * 8 + "1" * 16),
            weekendSchedule=every_month("0" * 8 + "1" * 16),
        )
        bill = compute_bill(plan, start=date(2026, 1, 1), usage=constant_days(31, 0.25))

        assert amounts(bill) == {
            ("energy", "all_year", "early", 1): 20.00,
            ("energy", "all_year", "early", 2): 59.20,
            ("energy", "all_year", "late", None): 148.80,
        }


class TestFixedCharges:
    def fixed_plan(self) -> RatePlan:
        return make_plan(
            periods=[period("all_day", (0.0, None))],
            fixedCharges=[
                {"name": "Customer charge", "amount": 14.00, "per": "month"},
                {"name": "Storm recovery", "amount": 1.37, "per": "month"},
                {"name": "Basic service", "amount": 0.40, "per": "day"},
            ],
        )

    def test_each_charge_is_a_line_for_a_whole_month(self) -> None:
        # July: 14.00 + 1.37 (whole month) + 0.40 x 31 = 12.40; total 27.77.
        bill = compute_bill(self.fixed_plan(), start=date(2026, 7, 1), usage=constant_days(31, 1.0))

        assert [(line.description, line.rate, line.amount) for line in bill.lines[:3]] == [
            ("Customer charge", 14.00, 14.00),
            ("Storm recovery", 1.37, 1.37),
            ("Basic service (per day)", 0.40, 12.40),
        ]
        assert (bill.fixed_charges, bill.total) == (27.77, 27.77)

    def test_monthly_charges_are_prorated_by_day_and_daily_ones_counted(self) -> None:
        # 1-10 July: 14.00 x 10/31 = 4.5161 -> 4.52; 1.37 x 10/31 = 0.4419 -> 0.44;
        # 0.40 x 10 = 4.00; total 8.96.
        bill = compute_bill(self.fixed_plan(), start=date(2026, 7, 1), usage=constant_days(10, 1.0))

        assert [line.amount for line in bill.lines if line.kind is ChargeKind.FIXED] == [
            4.52,
            0.44,
            4.00,
        ]
        assert bill.total == 8.96

    def test_a_charge_over_two_months_adds_each_months_share(self) -> None:
        # 16 June - 15 July: 14.00 x 15/30 + 14.00 x 15/31 = 7.00 + 6.7742 = 13.7742 -> 13.77.
        bill = compute_bill(
            self.fixed_plan(), start=date(2026, 6, 16), usage=constant_days(30, 1.0)
        )

        assert the_line(bill, "fixed", "Customer charge").amount == 13.77


class TestMinimumCharge:
    def minimum_plan(
        self, minimum: dict[str, Any], *, fixed: float = 10.0, **changes: Any
    ) -> RatePlan:
        return make_plan(
            fixedCharges=[{"name": "Customer charge", "amount": fixed, "per": "month"}],
            minimumCharge=minimum,
            **changes,
        )

    def test_a_month_below_the_minimum_is_brought_up_to_it(self) -> None:
        # July, 15 kWh: energy 15 x 0.20 = 3.00 + fixed 10.00 = 13.00 < 15.00:
        # a minimum line of 2.00; total 15.00 (PySAM: ec 3.0, fixed 10.0, minimum 2.0).
        plan = self.minimum_plan({"amount": 15, "per": "month"})
        usage = [day_with({12: 15.0}), *constant_days(30, 0.0)]
        bill = compute_bill(plan, start=date(2026, 7, 1), usage=usage)

        assert amounts(bill) == {
            ("fixed", None, None, None): 10.00,
            ("energy", "all_year", "all_day", None): 3.00,
            ("minimum_charge", "all_year", None, None): 2.00,
        }
        line = the_line(bill, "minimum_charge", "Minimum charge, July 2026")
        assert (line.rate, line.kwh) == (15, 0)
        assert (bill.minimum_charges, bill.total) == (2.00, 15.00)

    def test_a_month_above_the_minimum_has_no_minimum_line(self) -> None:
        # July, 50 kWh: 10.00 + 10.00 = 20.00 >= 15.00; also energy 3.00 alone is below
        # the minimum, but the fixed charge counts (PySAM: fixed 10, min 13, 3.00 -> none).
        plan = self.minimum_plan({"amount": 15, "per": "month"})
        above = compute_bill(plan, start=date(2026, 7, 1), usage=[day_with({12: 50.0})])
        plan_13 = self.minimum_plan({"amount": 13, "per": "month"})
        at = compute_bill(
            plan_13, start=date(2026, 7, 1), usage=[day_with({12: 15.0}), *constant_days(30, 0.0)]
        )

        assert [line.kind for line in above.lines] == [ChargeKind.FIXED, ChargeKind.ENERGY]
        assert ChargeKind.MINIMUM not in [line.kind for line in at.lines]
        assert at.total == 13.00

    def test_export_credits_come_after_the_minimum(self) -> None:
        # July: 15 kWh imported (3.00) + fixed 10.00 = 13.00 -> minimum line 2.00;
        # 15 kWh exported at retail 0.20 = -3.00 after it; total 12.00.
        plan = self.minimum_plan({"amount": 15, "per": "month"}, exportCredit={"type": "retail"})
        usage = [day_with({12: 15.0}), *constant_days(30, 0.0)]
        export = [day_with({50: 15.0}), *constant_days(30, 0.0)]
        bill = compute_bill(plan, start=date(2026, 7, 1), usage=usage, export=export)

        assert (bill.minimum_charges, bill.export_credit, bill.total) == (2.00, -3.00, 12.00)

    def test_a_monthly_minimum_is_prorated_in_a_partial_month(self) -> None:
        # 1-10 July, no usage: fixed 10 x 10/31 = 3.2258 -> 3.23;
        # minimum 15 x 10/31 = 4.8387; line 4.8387 - 3.2258 = 1.6129 -> 1.61; total 4.84.
        plan = self.minimum_plan({"amount": 15, "per": "month"})
        bill = compute_bill(plan, start=date(2026, 7, 1), usage=constant_days(10, 0.0))

        assert the_line(bill, "minimum_charge", "Minimum charge, July 2026").amount == 1.61
        assert bill.total == 4.84

    def test_each_month_of_a_bill_meets_the_minimum_on_its_own(self) -> None:
        # 21 June - 10 July; June days use nothing, 1-10 July 10 kWh a day (100 kWh):
        #   June: minimum 15 x 10/30 = 5.00 - fixed 10 x 10/30 = 3.3333 -> line 1.6667 -> 1.67
        #   July: energy 100 x 0.20 = 20.00 + fixed 3.2258 > 4.8387: no line
        #   fixed 3.3333 + 3.2258 = 6.5591 -> 6.56; total 1.67 + 20.00 + 6.56 = 28.23
        plan = self.minimum_plan({"amount": 15, "per": "month"})
        usage = [*constant_days(10, 0.0), *[day_with({12: 10.0}) for _ in range(10)]]
        bill = compute_bill(plan, start=date(2026, 6, 21), usage=usage)

        assert [line.description for line in bill.lines if line.kind is ChargeKind.MINIMUM] == [
            "Minimum charge, June 2026"
        ]
        assert (bill.minimum_charges, bill.total) == (1.67, 28.23)

    def test_a_daily_minimum_is_the_amount_times_the_days(self) -> None:
        # July, no fixed charge, 0.5 kWh a day: 15.5 x 0.20 = 3.10;
        # minimum 0.392 x 31 = 12.152; line 12.152 - 3.10 = 9.052 -> 9.05; total 12.15.
        plan = self.minimum_plan({"amount": 0.392, "per": "day"}, fixed=0.0)
        usage = [day_with({12: 0.5}) for _ in range(31)]
        bill = compute_bill(plan, start=date(2026, 7, 1), usage=usage)

        line = the_line(bill, "minimum_charge", "Minimum charge, July 2026")
        assert (line.rate, line.amount) == (0.392, 9.05)
        assert bill.total == 12.15

    def test_a_daily_minimum_below_the_charges_adds_nothing(self) -> None:
        # July, 2 kWh a day: 62 x 0.20 = 12.40 >= 12.152: no minimum line.
        plan = self.minimum_plan({"amount": 0.392, "per": "day"}, fixed=0.0)
        bill = compute_bill(
            plan, start=date(2026, 7, 1), usage=[day_with({12: 2.0}) for _ in range(31)]
        )

        assert bill.minimum_charges == 0.0
        assert bill.total == 12.40


class TestHolidays:
    def test_an_observed_holiday_is_priced_as_a_weekend_day(self) -> None:
        # Friday 3 July 2026 (Independence Day, a Saturday, observed): all 96 kWh off-peak,
        # 96 x 0.20 = 19.20 (a weekday would be 76 x 0.20 + 20 x 0.50 = 25.20).
        plan = tou_plan(holidays={"days": ["independence_day"], "observed": True})
        bill = compute_bill(plan, start=date(2026, 7, 3), usage=constant_days(1, 1.0))

        assert amounts(bill) == {("energy", "all_year", "off_peak", None): 19.20}
        assert day_prices(plan, date(2026, 7, 3))[0] == [0.20] * SLOTS_PER_DAY

    def test_without_observance_the_friday_is_a_weekday(self) -> None:
        # Friday 3 July 2026 is a weekday when only the day itself is a holiday: 25.20.
        plan = tou_plan(holidays={"days": ["independence_day"]})
        bill = compute_bill(plan, start=date(2026, 7, 3), usage=constant_days(1, 1.0))

        assert bill.total == 25.20

    def test_a_holiday_on_a_weekday_is_off_peak(self) -> None:
        # Monday 7 September 2026 is Labor Day: 96 x 0.20 = 19.20; Tuesday is a weekday: 25.20.
        plan = tou_plan(holidays={"days": ["labor_day", "christmas"]})
        bill = compute_bill(plan, start=date(2026, 9, 7), usage=constant_days(2, 1.0))

        # 96 + 76 = 172 kWh x 0.20 = 34.40; 20 x 0.50 = 10.00.
        assert amounts(bill) == {
            ("energy", "all_year", "off_peak", None): 34.40,
            ("energy", "all_year", "peak", None): 10.00,
        }


class TestExportCredit:
    def test_a_sell_credit_pays_each_periods_sell_price(self) -> None:
        # Monday 6 July, 1 kWh exported per slot: peak 20 x 0.15 = 3.00; off-peak 76 x 0.05 = 3.80.
        plan = tou_plan(
            periods=[
                period("off_peak", (0.20, None), sell=0.05),
                period("peak", (0.50, None), sell=0.15),
            ],
            exportCredit={"type": "sell"},
        )
        bill = compute_bill(
            plan, start=date(2026, 7, 6), usage=constant_days(1, 0.0), export=constant_days(1, 1.0)
        )

        credits = {
            line.period: (line.kwh, line.rate, line.amount)
            for line in bill.lines
            if line.kind is ChargeKind.EXPORT_CREDIT
        }
        assert credits == {"off_peak": (76, 0.05, -3.80), "peak": (20, 0.15, -3.00)}
        assert the_line(bill, "export_credit", "Export credit, all_year peak").amount == -3.00
        assert (bill.export_credit, bill.total) == (-6.80, -6.80)

    def test_a_fixed_credit_pays_one_price_everywhere(self) -> None:
        # 76 x 0.08 = 6.08; 20 x 0.08 = 1.60.
        plan = tou_plan(exportCredit={"type": "fixed", "pricePerKwh": 0.08})
        bill = compute_bill(
            plan, start=date(2026, 7, 6), usage=constant_days(1, 0.0), export=constant_days(1, 1.0)
        )

        assert [line.amount for line in bill.lines if line.kind is ChargeKind.EXPORT_CREDIT] == [
            -6.08,
            -1.60,
        ]
        assert bill.export_credit == -7.68

    def test_no_credit_counts_the_kwh_but_pays_nothing(self) -> None:
        plan = tou_plan(exportCredit={"type": "none"})
        bill = compute_bill(
            plan, start=date(2026, 7, 6), usage=constant_days(1, 0.0), export=constant_days(1, 1.0)
        )

        assert ChargeKind.EXPORT_CREDIT not in [line.kind for line in bill.lines]
        assert (bill.export_kwh, bill.export_credit) == (96, 0.0)

    def test_a_retail_credit_pays_the_first_tiers_price_whatever_tier_imports_reach(self) -> None:
        # 1 July, 48 kWh imported: 500 x 1/31 = 16.1290 kWh in tier 1 (0.20), the rest 0.30;
        # 96 kWh exported are credited at 0.20: -19.20.
        plan = make_plan(
            periods=[period("all_day", (0.20, 500), (0.30, None))],
            exportCredit={"type": "retail"},
        )
        bill = compute_bill(
            plan, start=date(2026, 7, 1), usage=constant_days(1, 0.5), export=constant_days(1, 1.0)
        )

        line = the_line(bill, "export_credit", "Export credit, all_year all_day")
        assert (line.kwh, line.rate, line.amount) == (96, 0.20, -19.20)


class TestNegativePrices:
    def negative_midday_plan(self) -> RatePlan:
        # 0.25 $/kWh, except -0.05 (rate + a negative adj) from 10:00 to 14:00.
        return make_plan(
            supportedType="tou",
            periods=[period("standard", (0.25, None)), period("midday", (-0.05, None))],
            weekdaySchedule=every_month("0" * 10 + "1" * 4 + "0" * 10),
            weekendSchedule=every_month("0" * 10 + "1" * 4 + "0" * 10),
            exportCredit={"type": "retail"},
        )

    def test_a_negative_price_credits_the_kwh_imported(self) -> None:
        # One day, 1 kWh a slot: midday 16 kWh x -0.05 = -0.80; the rest 80 x 0.25 = 20.00.
        bill = compute_bill(
            self.negative_midday_plan(), start=date(2026, 7, 1), usage=constant_days(1, 1.0)
        )

        assert amounts(bill) == {
            ("energy", "all_year", "standard", None): 20.00,
            ("energy", "all_year", "midday", None): -0.80,
        }
        assert bill.total == 19.20

    def test_exporting_at_a_negative_retail_price_costs_money(self) -> None:
        # 4 kWh exported at 11:00 (midday, -0.05): credit -(4 x -0.05) = +0.20.
        bill = compute_bill(
            self.negative_midday_plan(),
            start=date(2026, 7, 1),
            usage=constant_days(1, 0.0),
            export=[day_with({44: 4.0})],
        )

        assert the_line(bill, "export_credit", "Export credit, all_year midday").amount == 0.20

    def test_a_negative_tier_lowers_the_first_kwh(self) -> None:
        # July, 1,488 kWh; tier 1 (baseline credit: 0.10 - 0.15) up to 300: 300 x -0.05 = -15.00;
        # 1,188 x 0.30 = 356.40; total 341.40.
        plan = make_plan(periods=[period("all_day", (-0.05, 300), (0.30, None))])
        bill = compute_bill(plan, start=date(2026, 7, 1), usage=constant_days(31, 0.5))

        assert amounts(bill) == {
            ("energy", "all_year", "all_day", 1): -15.00,
            ("energy", "all_year", "all_day", 2): 356.40,
        }
        assert bill.total == 341.40


def reference_period(plan: RatePlan, day: date, slot: int) -> tuple[str, str]:
    """(season, period) of a slot read straight from the plan's 12 x 24 schedules and the
    holiday rule: what the engine's day tables must agree with."""
    season = next(name for name, months in plan.seasons.items() if day.month in months)
    weekend = day.weekday() >= 5 or plan.is_priced_as_weekend(day)
    schedule = plan.weekend_schedule if weekend else plan.weekday_schedule
    return season, plan.periods[int(schedule[day.month - 1][slot // 4])].name


def reference_kwh(
    plan: RatePlan, start: date, days: list[list[float]]
) -> dict[tuple[str, str], float]:
    """kWh per (season, period), added slot by slot in order as a reader would."""
    found: dict[tuple[str, str], float] = {}
    for offset, values in enumerate(days):
        day = start + timedelta(days=offset)
        for slot, kwh in enumerate(values):
            key = reference_period(plan, day, slot)
            found[key] = found.get(key, 0.0) + kwh
    return found


def busy_plan() -> RatePlan:
    """Two seasons, three periods, monthly tiers, both kinds of fixed charge, a minimum."""
    return make_plan(
        supportedType="tou",
        seasons=SUMMER_WINTER,
        periods=[
            period("off_peak", (0.21, 300), (0.27, None), sell=0.04),
            period("mid_peak", (0.33, 300), (0.41, None), sell=0.06),
            period("peak", (0.47, 300), (0.59, None), sell=0.09),
        ],
        weekdaySchedule=every_month("0" * 8 + "1" * 8 + "2" * 5 + "1" * 3),
        weekendSchedule=every_month("0" * 16 + "1" * 8),
        holidays={"days": ["independence_day", "labor_day"], "observed": True},
        fixedCharges=[
            {"name": "Customer charge", "amount": 12.5, "per": "month"},
            {"name": "Meter charge", "amount": 0.12, "per": "day"},
        ],
        minimumCharge={"amount": 30, "per": "month"},
        exportCredit={"type": "sell"},
    )


class TestBillTotals:
    def test_totals_are_the_sums_of_the_rounded_lines(self) -> None:
        # 45 irregular days from 2026-05-20, across the winter/summer change and June.
        draw = random.Random(11)
        usage = [[round(draw.uniform(0, 1.2), 3) for _ in range(96)] for _ in range(45)]
        export = [[round(draw.uniform(0, 0.6), 3) for _ in range(96)] for _ in range(45)]
        bill = compute_bill(busy_plan(), start=date(2026, 5, 20), usage=usage, export=export)

        def total_of(kind: str) -> float:
            return round(sum(line.amount for line in bill.lines if line.kind == kind), 2)

        for line in bill.lines:
            assert line.amount == round(line.amount, 2), line
        assert bill.fixed_charges == total_of("fixed")
        assert bill.energy_charges == total_of("energy")
        assert bill.export_credit == total_of("export_credit")
        assert bill.minimum_charges == total_of("minimum_charge")
        assert bill.total == round(sum(line.amount for line in bill.lines), 2)
        assert bill.import_kwh == pytest.approx(sum(map(sum, usage)))
        assert bill.export_kwh == pytest.approx(sum(map(sum, export)))
        assert bill.export_credit < 0

    def test_tier_lines_add_up_to_each_periods_kwh(self) -> None:
        draw = random.Random(12)
        usage = [[draw.uniform(0, 2) for _ in range(96)] for _ in range(70)]
        start = date(2026, 5, 10)
        bill = compute_bill(busy_plan(), start=start, usage=usage)

        by_period: dict[tuple[str, str], float] = {}
        for line in bill.lines:
            if line.kind is ChargeKind.ENERGY:
                assert line.season is not None
                assert line.period is not None
                key = (line.season, line.period)
                by_period[key] = by_period.get(key, 0.0) + line.kwh
        expected = reference_kwh(busy_plan(), start, usage)
        assert by_period == pytest.approx(expected)

    def test_bills_add_the_same_kwh_as_slot_by_slot_to_the_last_bit(self) -> None:
        draw = random.Random(13)
        plan = make_plan(
            supportedType="tou",
            seasons=SUMMER_WINTER,
            periods=[period("off_peak", (0.2, None)), period("peak", (0.5, None))],
            weekdaySchedule=every_month(PEAK_ROW),
            holidays={"days": ["memorial_day"]},
            exportCredit={"type": "retail"},
        )
        start = date(2026, 2, 20)  # 110 days: winter into summer, weekdays, weekends, a holiday
        usage = [[draw.uniform(0, 2) for _ in range(SLOTS_PER_DAY)] for _ in range(110)]
        export = [[draw.uniform(0, 1) for _ in range(SLOTS_PER_DAY)] for _ in range(110)]
        bill = compute_bill(plan, start=start, usage=usage, export=export)

        energy = reference_kwh(plan, start, usage)
        credited = reference_kwh(plan, start, export)
        lines = {(ln.season, ln.period): ln.kwh for ln in bill.lines if ln.kind == "energy"}
        credits = {
            (ln.season, ln.period): ln.kwh for ln in bill.lines if ln.kind == "export_credit"
        }
        assert lines == energy
        assert credits == credited
        assert bill.import_kwh == sum(energy.values())
        assert bill.export_kwh == sum(credited.values())

    def test_a_year_of_days_is_billed_month_by_month(self) -> None:
        # 2026, 1 kWh a slot = 96 kWh a day; customer charge 12.50 x 12 = 150.00, whole months.
        bill = compute_bill(busy_plan(), start=date(2026, 1, 1), usage=constant_days(365, 1.0))

        assert the_line(bill, "fixed", "Customer charge").amount == 150.00
        # 365 x 0.12 = 43.80.
        assert the_line(bill, "fixed", "Meter charge (per day)").amount == 43.80
        assert bill.import_kwh == 365 * 96
        assert bill.minimum_charges == 0.0


class TestPrices:
    def test_day_prices_are_the_first_tiers_and_the_export_rule(self) -> None:
        # Monday 6 July: off-peak 0.21 (first tier of 0.21/0.27), peak 0.47 from 16:00.
        imports, exports = day_prices(busy_plan(), date(2026, 7, 6))

        assert imports[:32] == [0.21] * 32
        assert imports[64:84] == [0.47] * 20
        assert exports[64:84] == [0.09] * 20
        assert exports[0] == 0.04

    def test_the_price_signal_follows_local_wall_clock_hours(self) -> None:
        # 2026-07-06 16:00 PDT = 23:00 UTC: the first peak quarter-hour.
        start = datetime(2026, 7, 6, 22, 45, tzinfo=UTC)
        points = price_signal(
            tou_plan(), timezone=LOS_ANGELES, start=start, end=start + timedelta(minutes=30)
        )

        assert [(p.period, p.import_price) for p in points] == [("off_peak", 0.20), ("peak", 0.50)]

    def test_a_daylight_saving_day_has_92_quarter_hours(self) -> None:
        start = datetime(2026, 3, 8, 8, tzinfo=UTC)  # local midnight, PST
        end = datetime(2026, 3, 9, 7, tzinfo=UTC)  # the next local midnight, PDT
        points = price_signal(tou_plan(), timezone=LOS_ANGELES, start=start, end=end)

        assert len(points) == 92

    def test_the_price_signal_prices_a_holiday_as_a_weekend(self) -> None:
        # Friday 3 July 2026, 16:00 PDT (observed Independence Day): off-peak.
        plan = tou_plan(holidays={"days": ["independence_day"], "observed": True})
        start = datetime(2026, 7, 3, 23, tzinfo=UTC)
        points = price_signal(
            plan, timezone=LOS_ANGELES, start=start, end=start + timedelta(hours=1)
        )

        assert {p.import_price for p in points} == {0.20}
