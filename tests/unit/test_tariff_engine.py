"""The tariff engine on the shipped catalog's real plans: bills worked out by hand, line by line.

Every expected amount is written out in a comment so a reader can check it with a calculator.
Lines are rounded to the cent one by one (``round(kwh * rate, 2)``); totals add rounded lines.
Slots are the 96 wall-clock quarter-hours of a local day: slot 64 is 16:00, slot 84 is 21:00.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from agentkeys.sandbox.tariffs.catalog import load_catalog
from agentkeys.sandbox.tariffs.engine import (
    Bill,
    ChargeLine,
    PricePoint,
    compute_bill,
    day_prices,
    price_signal,
)
from agentkeys.sandbox.tariffs.model import SLOTS_PER_DAY, PeriodWindow, RatePlan
from tests.support.catalog import DUKE_RS, E_1, E_TOU_C, SCE_TOU_D

LOS_ANGELES = ZoneInfo("America/Los_Angeles")
PEAK_SLOTS = range(64, 84)  # 16:00 up to 21:00 local: 20 quarter-hours


def catalog_plan(rate_plan_id: str) -> RatePlan:
    found = load_catalog().plan(rate_plan_id)
    assert found is not None, rate_plan_id
    return found[1]


def constant_days(count: int, kwh_per_slot: float) -> list[list[float]]:
    return [[kwh_per_slot] * SLOTS_PER_DAY for _ in range(count)]


def day_with(slots: dict[int, float], *, elsewhere: float = 0.0) -> list[float]:
    """A day of ``elsewhere`` kWh per slot, except the slots given."""
    return [slots.get(slot, elsewhere) for slot in range(SLOTS_PER_DAY)]


def amounts(bill: Bill) -> dict[tuple[str, str | None, str | None], float]:
    """Each line's amount keyed by (kind, season, period); no two lines share a key."""
    keyed: dict[tuple[str, str | None, str | None], float] = {
        (line.kind, line.season, line.period): line.amount for line in bill.lines
    }
    assert len(keyed) == len(bill.lines), bill.lines
    return keyed


def the_line(bill: Bill, kind: str, season: str | None, period: str | None) -> ChargeLine:
    matching = [
        line
        for line in bill.lines
        if (line.kind, line.season, line.period) == (kind, season, period)
    ]
    assert len(matching) == 1, bill.lines
    return matching[0]


def local_day_window(day: date) -> tuple[datetime, datetime]:
    """Local midnight to the next local midnight in Los Angeles."""
    start = datetime(day.year, day.month, day.day, tzinfo=LOS_ANGELES)
    following = day + timedelta(days=1)
    end = datetime(following.year, following.month, following.day, tzinfo=LOS_ANGELES)
    return start, end


def first_point_of(points: list[PricePoint], period: str) -> PricePoint:
    return next(point for point in points if point.period == period)


def plan_in_catalog_shape(**changes: Any) -> RatePlan:
    """A small TOU plan written as the catalog writes plans (peak 16:00-21:00 every day)."""
    values: dict[str, Any] = {
        "id": "0123456789abcdef01234567",
        "rateID": "test-tou-fixed-export",
        "ratePlanName": "Test TOU, fixed export",
        "supportedType": "tou",
        "description": "Peak 4-9 p.m. every day; exports credited at a fixed price.",
        "effectiveDate": "2026-01-01",
        "sources": [{"url": "https://example.com/tariff", "title": "Test tariff"}],
        "fixedMonthlyCharge": 0,
        "seasons": {"all_year": list(range(1, 13))},
        "periods": [
            {
                "name": "peak",
                "days": "all",
                "start": "16:00",
                "end": "21:00",
                "seasons": ["all_year"],
            }
        ],
        "defaultPeriod": "off_peak",
        "energyPrices": {"all_year": {"peak": 0.40, "off_peak": 0.20}},
        "tiers": None,
        "exportCredit": {"type": "fixed", "pricePerKwh": 0.05},
        **changes,
    }
    return RatePlan.model_validate(values)


class TestFlatBill:
    def test_duke_rs_prices_every_kwh_at_one_rate_plus_the_monthly_charge(self) -> None:
        # January 2026, 31 days of 0.25 kWh per slot = 24 kWh/day = 744 kWh.
        #   energy: 744 x 0.122604 = 91.217376 -> 91.22
        #   fixed:  14.00 (a whole month)
        #   total:  14.00 + 91.22 = 105.22
        bill = compute_bill(
            catalog_plan(DUKE_RS), start=date(2026, 1, 1), usage=constant_days(31, 0.25)
        )

        assert amounts(bill) == {
            ("fixed", None, None): 14.00,
            ("energy", "all_year", "all_day"): 91.22,
        }
        assert the_line(bill, "energy", "all_year", "all_day").rate == 0.122604
        assert the_line(bill, "energy", "all_year", "all_day").kwh == pytest.approx(744)
        assert bill.total == 105.22
        assert bill.days == 31
        assert bill.end == date(2026, 2, 1)

    def test_the_same_kwh_cost_the_same_at_any_hour(self) -> None:
        # One day, 12 kWh at 17:00 or 12 kWh at 03:00: 12 x 0.122604 = 1.471248 -> 1.47.
        plan = catalog_plan(DUKE_RS)
        evening = compute_bill(plan, start=date(2026, 1, 15), usage=[day_with({68: 12.0})])
        night = compute_bill(plan, start=date(2026, 1, 15), usage=[day_with({12: 12.0})])

        assert the_line(evening, "energy", "all_year", "all_day").amount == 1.47
        assert evening.total == night.total


class TestTimeOfUseBill:
    def test_e_tou_c_winter_month_prices_peak_and_off_peak_separately(self) -> None:
        # January 2026 (winter), every day 1 kWh in each of the 20 peak slots (16:00-21:00)
        # and 0.5 kWh in each of the 76 other slots.
        #   peak:     31 x 20 x 1.0 = 620 kWh  x 0.39757 = 246.4934  -> 246.49
        #   off-peak: 31 x 76 x 0.5 = 1178 kWh x 0.36757 = 432.99746 -> 433.00
        #   fixed:    24.13
        #   total:    24.13 + 246.49 + 433.00 = 703.62
        day = day_with(dict.fromkeys(PEAK_SLOTS, 1.0), elsewhere=0.5)
        bill = compute_bill(catalog_plan(E_TOU_C), start=date(2026, 1, 1), usage=[day] * 31)

        assert amounts(bill) == {
            ("fixed", None, None): 24.13,
            ("energy", "winter", "peak"): 246.49,
            ("energy", "winter", "off_peak"): 433.00,
        }
        assert the_line(bill, "energy", "winter", "peak").kwh == pytest.approx(620)
        assert the_line(bill, "energy", "winter", "off_peak").kwh == pytest.approx(1178)
        assert bill.total == 703.62

    def test_e_tou_c_summer_month_uses_the_summer_prices(self) -> None:
        # July 2026 (summer), 0.5 kWh in every slot.
        #   peak:     31 x 20 x 0.5 = 310 kWh  x 0.5224 = 161.944   -> 161.94
        #   off-peak: 31 x 76 x 0.5 = 1178 kWh x 0.3994 = 470.4932  -> 470.49
        #   total:    24.13 + 161.94 + 470.49 = 656.56
        bill = compute_bill(
            catalog_plan(E_TOU_C), start=date(2026, 7, 1), usage=constant_days(31, 0.5)
        )

        assert amounts(bill) == {
            ("fixed", None, None): 24.13,
            ("energy", "summer", "peak"): 161.94,
            ("energy", "summer", "off_peak"): 470.49,
        }
        assert bill.total == 656.56

    def test_the_peak_window_starts_at_16_00_and_ends_before_21_00(self) -> None:
        # 1 kWh at 15:45 (slot 63), 16:00 (64), 20:45 (83) and 21:00 (84), 2026-01-15.
        #   peak:     slots 64 and 83 = 2 kWh x 0.39757 = 0.79514 -> 0.80
        #   off-peak: slots 63 and 84 = 2 kWh x 0.36757 = 0.73514 -> 0.74
        usage = [day_with({63: 1.0, 64: 1.0, 83: 1.0, 84: 1.0})]
        bill = compute_bill(catalog_plan(E_TOU_C), start=date(2026, 1, 15), usage=usage)

        assert the_line(bill, "energy", "winter", "peak").kwh == 2
        assert the_line(bill, "energy", "winter", "peak").amount == 0.80
        assert the_line(bill, "energy", "winter", "off_peak").kwh == 2
        assert the_line(bill, "energy", "winter", "off_peak").amount == 0.74

    def test_sce_summer_weekday_is_on_peak_and_weekend_is_mid_peak(self) -> None:
        # Friday 2026-06-05 and Saturday 2026-06-06 (summer), 1 kWh in every slot.
        #   on-peak (Friday 16:00-21:00):   20 kWh x 0.58477 = 11.6954  -> 11.70
        #   mid-peak (Saturday 16:00-21:00): 20 kWh x 0.46482 = 9.2964   -> 9.30
        #   off-peak (both days, 76 + 76):  152 kWh x 0.34666 = 52.69232 -> 52.69
        #   fixed: 2 days of June's 30 = 24.15 x 2 / 30 = 1.61
        #   total: 1.61 + 11.70 + 9.30 + 52.69 = 75.30
        bill = compute_bill(
            catalog_plan(SCE_TOU_D), start=date(2026, 6, 5), usage=constant_days(2, 1.0)
        )

        assert amounts(bill) == {
            ("fixed", None, None): 1.61,
            ("energy", "summer", "on_peak"): 11.70,
            ("energy", "summer", "mid_peak"): 9.30,
            ("energy", "summer", "off_peak"): 52.69,
        }
        assert bill.total == 75.30

    def test_sce_winter_day_has_a_super_off_peak_from_08_00_to_16_00(self) -> None:
        # Thursday 2026-01-15 (winter), 1 kWh in every slot.
        #   mid-peak 16:00-21:00:       20 kWh x 0.51112 = 10.2224 -> 10.22
        #   super off-peak 08:00-16:00: 32 kWh x 0.33605 = 10.7536 -> 10.75
        #   off-peak (the other 44):    44 kWh x 0.37515 = 16.5066 -> 16.51
        #   fixed: 24.15 / 31 = 0.779032 -> 0.78
        #   total: 0.78 + 10.22 + 10.75 + 16.51 = 38.26
        bill = compute_bill(
            catalog_plan(SCE_TOU_D), start=date(2026, 1, 15), usage=constant_days(1, 1.0)
        )

        assert amounts(bill) == {
            ("fixed", None, None): 0.78,
            ("energy", "winter", "mid_peak"): 10.22,
            ("energy", "winter", "super_off_peak"): 10.75,
            ("energy", "winter", "off_peak"): 16.51,
        }
        assert the_line(bill, "energy", "winter", "super_off_peak").kwh == 32
        assert bill.total == 38.26


class TestTieredBill:
    def test_e_1_summer_usage_above_the_allowance_crosses_into_tier_2(self) -> None:
        # July 2026, 0.25 kWh per slot = 24 kWh/day = 744 kWh.
        # Summer allowance: 13.5 kWh/day x 31 days = 418.5 kWh at tier 1.
        #   tier 1: 418.5 kWh             x 0.32561 = 136.267785 -> 136.27
        #   tier 2: 744 - 418.5 = 325.5 kWh x 0.40702 = 132.48501 -> 132.49
        #   fixed:  24.13
        #   total:  24.13 + 136.27 + 132.49 = 292.89
        bill = compute_bill(
            catalog_plan(E_1), start=date(2026, 7, 1), usage=constant_days(31, 0.25)
        )

        assert amounts(bill) == {
            ("fixed", None, None): 24.13,
            ("energy", "summer", "tier_1"): 136.27,
            ("energy", "summer", "tier_2"): 132.49,
        }
        assert the_line(bill, "energy", "summer", "tier_1").kwh == pytest.approx(418.5)
        assert the_line(bill, "energy", "summer", "tier_2").kwh == pytest.approx(325.5)
        assert the_line(bill, "energy", "summer", "tier_2").rate == 0.40702
        assert bill.total == 292.89

    def test_e_1_usage_within_the_allowance_stays_in_tier_1(self) -> None:
        # July 2026, 0.125 kWh per slot = 12 kWh/day (under 13.5) = 372 kWh.
        #   tier 1: 372 x 0.32561 = 121.12692 -> 121.13; no tier 2 line
        #   total:  24.13 + 121.13 = 145.26
        bill = compute_bill(
            catalog_plan(E_1), start=date(2026, 7, 1), usage=constant_days(31, 0.125)
        )

        assert amounts(bill) == {
            ("fixed", None, None): 24.13,
            ("energy", "summer", "tier_1"): 121.13,
        }
        assert bill.total == 145.26

    def test_e_1_allowance_is_pooled_over_the_days_billed(self) -> None:
        # 2026-07-01 with 27 kWh and 2026-07-02 with none: the allowance is 13.5 x 2 = 27 kWh
        # for the period, so all 27 kWh are tier 1: 27 x 0.32561 = 8.79147 -> 8.79.
        usage = [[27 / SLOTS_PER_DAY] * SLOTS_PER_DAY, [0.0] * SLOTS_PER_DAY]
        bill = compute_bill(catalog_plan(E_1), start=date(2026, 7, 1), usage=usage)

        assert the_line(bill, "energy", "summer", "tier_1").amount == 8.79
        assert ("energy", "summer", "tier_2") not in amounts(bill)

    def test_e_1_period_across_seasons_uses_each_seasons_allowance(self) -> None:
        # 2026-05-31 (winter, 11 kWh/day) and 2026-06-01 (summer, 13.5 kWh/day), 24 kWh each.
        #   winter tier 1: 11 kWh     x 0.32561 = 3.58171  -> 3.58
        #   winter tier 2: 13 kWh     x 0.40702 = 5.29126  -> 5.29
        #   summer tier 1: 13.5 kWh   x 0.32561 = 4.395735 -> 4.40
        #   summer tier 2: 10.5 kWh   x 0.40702 = 4.27371  -> 4.27
        #   fixed: 24.13 / 31 (May) + 24.13 / 30 (June) = 0.778387 + 0.804333 = 1.58272 -> 1.58
        #   total: 1.58 + 3.58 + 5.29 + 4.40 + 4.27 = 19.12
        bill = compute_bill(
            catalog_plan(E_1), start=date(2026, 5, 31), usage=constant_days(2, 0.25)
        )

        assert amounts(bill) == {
            ("fixed", None, None): 1.58,
            ("energy", "winter", "tier_1"): 3.58,
            ("energy", "winter", "tier_2"): 5.29,
            ("energy", "summer", "tier_1"): 4.40,
            ("energy", "summer", "tier_2"): 4.27,
        }
        assert bill.total == 19.12


class TestDaylightSavingDays:
    @pytest.mark.parametrize(
        ("day", "fixed", "total"),
        [
            # 2026-03-08: clocks go forward at 02:00; fixed 24.13 / 31 = 0.778387 -> 0.78.
            (date(2026, 3, 8), 0.78, 36.67),
            # 2026-11-01: clocks go back at 02:00; fixed 24.13 / 30 = 0.804333 -> 0.80.
            (date(2026, 11, 1), 0.80, 36.69),
        ],
        ids=["spring-forward", "fall-back"],
    )
    def test_bill_prices_the_96_wall_clock_slots_by_local_time(
        self, day: date, fixed: float, total: float
    ) -> None:
        # 1 kWh in each of the 96 slots, whatever the day's real length.
        #   peak 16:00-21:00: 20 kWh x 0.39757 = 7.9514   -> 7.95
        #   off-peak:         76 kWh x 0.36757 = 27.93532 -> 27.94
        #   total: fixed + 7.95 + 27.94
        bill = compute_bill(catalog_plan(E_TOU_C), start=day, usage=constant_days(1, 1.0))

        assert amounts(bill) == {
            ("fixed", None, None): fixed,
            ("energy", "winter", "peak"): 7.95,
            ("energy", "winter", "off_peak"): 27.94,
        }
        assert the_line(bill, "energy", "winter", "peak").kwh == 20
        assert bill.total == total

    @pytest.mark.parametrize("day", [date(2026, 3, 8), date(2026, 11, 1)])
    def test_slot_64_is_16_00_local_on_a_daylight_saving_day(self, day: date) -> None:
        # 5 kWh at 15:45 (slot 63), 3 kWh at 16:00 (slot 64): 3 kWh are peak.
        bill = compute_bill(catalog_plan(E_TOU_C), start=day, usage=[day_with({63: 5.0, 64: 3.0})])

        assert the_line(bill, "energy", "winter", "peak").kwh == 3
        assert the_line(bill, "energy", "winter", "off_peak").kwh == 5

    @pytest.mark.parametrize("day", [date(2026, 3, 8), date(2026, 11, 1)])
    def test_day_prices_follow_the_wall_clock_on_a_daylight_saving_day(self, day: date) -> None:
        imports, exports = day_prices(catalog_plan(E_TOU_C), day)

        assert len(imports) == len(exports) == SLOTS_PER_DAY
        assert imports[63] == 0.36757
        assert imports[64:84] == [0.39757] * 20
        assert imports[84] == 0.36757

    def test_spring_forward_signal_has_92_quarter_hours_and_peak_from_23_00_utc(
        self,
    ) -> None:
        # 2026-03-08 local: 08:00Z (00:00 PST) to 2026-03-09T07:00Z (00:00 PDT) = 23 h.
        # 16:00 PDT = 23:00Z.
        start, end = local_day_window(date(2026, 3, 8))
        points = price_signal(catalog_plan(E_TOU_C), timezone=LOS_ANGELES, start=start, end=end)

        assert len(points) == 92
        assert points[0].start == datetime(2026, 3, 8, 8, tzinfo=UTC)
        assert first_point_of(points, "peak").start == datetime(2026, 3, 8, 23, tzinfo=UTC)
        assert sum(point.period == "peak" for point in points) == 20
        assert first_point_of(points, "peak").import_price == 0.39757

    def test_the_day_before_spring_forward_has_its_peak_from_00_00_utc(self) -> None:
        # 2026-03-07 is still PST (UTC-8): 16:00 PST = 2026-03-08T00:00Z; 96 quarter-hours.
        start, end = local_day_window(date(2026, 3, 7))
        points = price_signal(catalog_plan(E_TOU_C), timezone=LOS_ANGELES, start=start, end=end)

        assert len(points) == 96
        assert first_point_of(points, "peak").start == datetime(2026, 3, 8, 0, tzinfo=UTC)

    def test_fall_back_signal_has_100_quarter_hours_and_peak_from_00_00_utc(self) -> None:
        # 2026-11-01 local: 07:00Z (00:00 PDT) to 2026-11-02T08:00Z (00:00 PST) = 25 h.
        # 16:00 PST = 2026-11-02T00:00Z; the day before, 16:00 PDT = 23:00Z.
        start, end = local_day_window(date(2026, 11, 1))
        points = price_signal(catalog_plan(E_TOU_C), timezone=LOS_ANGELES, start=start, end=end)
        before_start, before_end = local_day_window(date(2026, 10, 31))
        before = price_signal(
            catalog_plan(E_TOU_C), timezone=LOS_ANGELES, start=before_start, end=before_end
        )

        assert len(points) == 100
        assert first_point_of(points, "peak").start == datetime(2026, 11, 2, 0, tzinfo=UTC)
        assert sum(point.period == "peak" for point in points) == 20
        assert len(before) == 96
        assert first_point_of(before, "peak").start == datetime(2026, 10, 31, 23, tzinfo=UTC)


class TestExportCredit:
    def test_retail_credit_uses_the_import_price_of_the_exporting_slot(self) -> None:
        # E-TOU-C, 2026-01-15, no import; export 2 kWh at 12:00 (slot 48, off-peak) and 1 kWh
        # at 17:30 (slot 70, peak).
        #   off-peak credit: 2 x 0.36757 = 0.73514 -> -0.74
        #   peak credit:     1 x 0.39757 = 0.39757 -> -0.40
        #   fixed: 24.13 / 31 = 0.78
        #   total: 0.78 - 0.74 - 0.40 = -0.36
        bill = compute_bill(
            catalog_plan(E_TOU_C),
            start=date(2026, 1, 15),
            usage=constant_days(1, 0.0),
            export=[day_with({48: 2.0, 70: 1.0})],
        )

        off_peak = the_line(bill, "export_credit", "winter", "off_peak")
        peak = the_line(bill, "export_credit", "winter", "peak")
        assert (off_peak.kwh, off_peak.rate, off_peak.amount) == (2, 0.36757, -0.74)
        assert (peak.kwh, peak.rate, peak.amount) == (1, 0.39757, -0.40)
        assert bill.export_credit == -1.14
        assert bill.export_kwh == 3
        assert bill.total == -0.36

    def test_tiered_plan_credits_exports_at_the_first_tier_price(self) -> None:
        # E-1, 2026-07-15: 24 kWh imported (13.5 tier 1, 10.5 tier 2), 1 kWh exported in each
        # of 10 slots. The credit is tier 1's price even though the last kWh bought were tier 2.
        #   tier 1: 13.5 x 0.32561 = 4.395735 -> 4.40
        #   tier 2: 10.5 x 0.40702 = 4.27371  -> 4.27
        #   credit: 10   x 0.32561 = 3.2561   -> -3.26
        #   fixed:  24.13 / 31 = 0.78
        #   total:  0.78 + 4.40 + 4.27 - 3.26 = 6.19
        bill = compute_bill(
            catalog_plan(E_1),
            start=date(2026, 7, 15),
            usage=constant_days(1, 0.25),
            export=[day_with(dict.fromkeys(range(40, 50), 1.0))],
        )

        credit = the_line(bill, "export_credit", "summer", "all_day")
        assert (credit.kwh, credit.rate, credit.amount) == (10, 0.32561, -3.26)
        assert the_line(bill, "energy", "summer", "tier_2").amount == 4.27
        assert bill.total == 6.19

    def test_flat_plan_credits_exports_at_its_one_price(self) -> None:
        # Duke RS, 2026-01-15, export 5 kWh at noon: 5 x 0.122604 = 0.61302 -> -0.61.
        bill = compute_bill(
            catalog_plan(DUKE_RS),
            start=date(2026, 1, 15),
            usage=constant_days(1, 0.0),
            export=[day_with({48: 5.0})],
        )

        assert the_line(bill, "export_credit", "all_year", "all_day").amount == -0.61

    def test_fixed_credit_pays_one_price_at_every_hour(self) -> None:
        # Test plan: peak 0.40, off-peak 0.20, export fixed 0.05, no fixed charge. 2026-01-15:
        # import 10 kWh at 03:00 (off-peak) and 5 kWh at 18:00 (peak); export 4 kWh at 12:00
        # (off-peak) and 2 kWh at 17:00 (peak).
        #   energy off-peak: 10 x 0.20 = 2.00;  peak: 5 x 0.40 = 2.00
        #   credit off-peak:  4 x 0.05 = 0.20 -> -0.20; peak: 2 x 0.05 = 0.10 -> -0.10
        #   total: 2.00 + 2.00 - 0.20 - 0.10 = 3.70 (no fixed line: the charge is 0)
        bill = compute_bill(
            plan_in_catalog_shape(),
            start=date(2026, 1, 15),
            usage=[day_with({12: 10.0, 72: 5.0})],
            export=[day_with({48: 4.0, 68: 2.0})],
        )

        assert amounts(bill) == {
            ("energy", "all_year", "off_peak"): 2.00,
            ("energy", "all_year", "peak"): 2.00,
            ("export_credit", "all_year", "off_peak"): -0.20,
            ("export_credit", "all_year", "peak"): -0.10,
        }
        assert the_line(bill, "export_credit", "all_year", "peak").rate == 0.05
        assert bill.total == 3.70

    def test_fixed_credit_appears_in_the_day_prices_at_every_slot(self) -> None:
        imports, exports = day_prices(plan_in_catalog_shape(), date(2026, 1, 15))

        assert exports == [0.05] * SLOTS_PER_DAY
        assert imports[63] == 0.20
        assert imports[64] == 0.40

    def test_no_export_credit_means_no_credit_line(self) -> None:
        plan = plan_in_catalog_shape(exportCredit={"type": "none"})
        bill = compute_bill(
            plan,
            start=date(2026, 1, 15),
            usage=[day_with({12: 10.0})],
            export=[day_with({48: 4.0})],
        )

        assert [line.kind for line in bill.lines] == ["energy", "energy"]
        assert bill.export_credit == 0
        assert bill.total == 2.00

    @pytest.mark.parametrize(
        "credit",
        [
            {"type": "fixed"},
            {"type": "retail", "pricePerKwh": 0.05},
            {"type": "fixed", "pricePerKwh": -1},
        ],
        ids=["fixed-without-price", "retail-with-price", "negative-price"],
    )
    def test_an_incoherent_export_credit_is_refused(self, credit: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            plan_in_catalog_shape(exportCredit=credit)


class TestFixedCharge:
    def test_a_partial_month_pays_the_fixed_charge_for_its_days(self) -> None:
        # Duke RS, 2026-04-01 up to 2026-04-11: 10 of April's 30 days: 14 x 10 / 30 = 4.6667.
        bill = compute_bill(
            catalog_plan(DUKE_RS), start=date(2026, 4, 1), usage=constant_days(10, 0.0)
        )

        assert the_line(bill, "fixed", None, None).amount == 4.67
        assert bill.fixed_charges == 4.67
        assert bill.total == 4.67

    def test_a_period_across_months_prorates_by_each_months_length(self) -> None:
        # 2026-01-20 up to 2026-02-10: 12 days of January (31) and 9 of February (28).
        #   14 x 12 / 31 + 14 x 9 / 28 = 5.419355 + 4.5 = 9.919355 -> 9.92
        bill = compute_bill(
            catalog_plan(DUKE_RS), start=date(2026, 1, 20), usage=constant_days(21, 0.0)
        )

        assert bill.days == 21
        assert bill.end == date(2026, 2, 10)
        assert bill.fixed_charges == 9.92

    def test_a_whole_leap_february_pays_exactly_one_monthly_charge(self) -> None:
        bill = compute_bill(
            catalog_plan(E_TOU_C), start=date(2028, 2, 1), usage=constant_days(29, 0.0)
        )

        assert bill.fixed_charges == 24.13


class TestBillTotals:
    @pytest.mark.parametrize("rate_plan_id", [E_TOU_C, E_1, SCE_TOU_D, DUKE_RS])
    def test_totals_are_the_sums_of_the_rounded_lines(self, rate_plan_id: str) -> None:
        # 45 irregular days from 2026-05-20, across the winter/summer change and June.
        draw = random.Random(rate_plan_id)
        usage = [[round(draw.uniform(0, 1.2), 3) for _ in range(96)] for _ in range(45)]
        export = [[round(draw.uniform(0, 0.6), 3) for _ in range(96)] for _ in range(45)]
        bill = compute_bill(
            catalog_plan(rate_plan_id), start=date(2026, 5, 20), usage=usage, export=export
        )

        def total_of(kind: str) -> float:
            return round(sum(line.amount for line in bill.lines if line.kind == kind), 2)

        for line in bill.lines:
            assert line.amount == round(line.amount, 2), line
        assert bill.fixed_charges == total_of("fixed")
        assert bill.energy_charges == total_of("energy")
        assert bill.export_credit == total_of("export_credit")
        assert bill.total == round(sum(line.amount for line in bill.lines), 2)
        assert bill.total == round(bill.fixed_charges + bill.energy_charges + bill.export_credit, 2)
        assert bill.import_kwh == pytest.approx(sum(map(sum, usage)))
        assert bill.export_kwh == pytest.approx(sum(map(sum, export)))
        assert bill.export_credit < 0


def all_catalog_plans() -> list[RatePlan]:
    return [plan for utility in load_catalog().utilities for plan in utility.rate_plans]


def reference_period(plan: RatePlan, local: datetime) -> tuple[str, str]:
    """The (season, period) of a wall-clock instant read straight from the plan's "HH:MM"
    windows, as the catalog writes them: what the precomputed day tables must agree with."""
    season = next(name for name, months in plan.seasons.items() if local.month in months)
    minute = local.hour * 60 + local.minute
    for window in plan.periods:
        start_h, start_m = window.start.split(":")
        end_h, end_m = window.end.split(":")
        if (
            season in window.seasons
            and not (window.days == "weekdays" and local.weekday() >= 5)
            and not (window.days == "weekends" and local.weekday() < 5)
            and int(start_h) * 60 + int(start_m) <= minute < int(end_h) * 60 + int(end_m)
        ):
            return season, window.name
    return season, plan.default_period


def reference_energy(
    plan: RatePlan, start: date, days: list[list[float]]
) -> dict[tuple[str, str], float]:
    """kWh per (season, period), added slot by slot in order as a reader would."""
    energy: dict[tuple[str, str], float] = {}
    for offset, day_values in enumerate(days):
        midnight = datetime.combine(start + timedelta(days=offset), datetime.min.time())
        for slot, kwh in enumerate(day_values):
            key = reference_period(plan, midnight + timedelta(minutes=15 * slot))
            energy[key] = energy.get(key, 0.0) + kwh
    return energy


class TestSlotTables:
    """Each plan's 24 day tables are built once when the catalog loads; they must price every
    slot (and every minute: price signals may start off the quarter-hour) as the windows say."""

    @pytest.mark.parametrize("plan", all_catalog_plans(), ids=lambda plan: plan.id)
    def test_every_minute_of_every_kind_of_day_has_the_windows_period(self, plan: RatePlan) -> None:
        # 2026-01-05 is a Monday: seven consecutive days cover every weekday of each month.
        for month in range(1, 13):
            first = date(2026, month, 5)
            for offset in range(7):
                midnight = datetime.combine(first + timedelta(days=offset), datetime.min.time())
                for minute in range(24 * 60):
                    local = midnight + timedelta(minutes=minute)
                    assert plan.period_at(local) == reference_period(plan, local), local

    @pytest.mark.parametrize("plan", all_catalog_plans(), ids=lambda plan: plan.id)
    def test_day_prices_are_each_slots_prices(self, plan: RatePlan) -> None:
        day = date(2026, 7, 14)
        imports, exports = day_prices(plan, day)
        midnight = datetime.combine(day, datetime.min.time())
        for slot in range(SLOTS_PER_DAY):
            season, period = reference_period(plan, midnight + timedelta(minutes=15 * slot))
            assert imports[slot] == plan.marginal_import_price(season, period)
            assert exports[slot] == plan.export_price(season, period)

    @pytest.mark.parametrize("plan", all_catalog_plans(), ids=lambda plan: plan.id)
    def test_bills_add_the_same_kwh_as_slot_by_slot_to_the_last_bit(self, plan: RatePlan) -> None:
        draw = random.Random(plan.id)
        start = date(2026, 2, 20)  # 70 days: winter into summer, weekdays and weekends
        usage = [[draw.uniform(0, 2) for _ in range(SLOTS_PER_DAY)] for _ in range(70)]
        export = [[draw.uniform(0, 1) for _ in range(SLOTS_PER_DAY)] for _ in range(70)]
        bill = compute_bill(plan, start=start, usage=usage, export=export)

        energy = reference_energy(plan, start, usage)
        credited = reference_energy(plan, start, export)
        assert bill.import_kwh == sum(energy.values())
        assert bill.export_kwh == sum(credited.values())
        if plan.tiers is None:
            lines = {(ln.season, ln.period): ln.kwh for ln in bill.lines if ln.kind == "energy"}
            assert lines == energy
        credits = {
            (ln.season, ln.period): ln.kwh for ln in bill.lines if ln.kind == "export_credit"
        }
        assert credits == {key: kwh for key, kwh in credited.items() if plan.export_price(*key)}

    def test_pricing_never_reads_the_windows_again(self, monkeypatch: pytest.MonkeyPatch) -> None:
        plan = catalog_plan(SCE_TOU_D)

        def unread(_window: PeriodWindow) -> int:
            raise AssertionError("a window's HH:MM was parsed while pricing")

        monkeypatch.setattr(PeriodWindow, "start_minute", property(unread))
        monkeypatch.setattr(PeriodWindow, "end_minute", property(unread))
        compute_bill(plan, start=date(2026, 1, 1), usage=constant_days(31, 0.5))
        day_prices(plan, date(2026, 7, 1))
        begin = datetime(2026, 3, 1, tzinfo=UTC)
        price_signal(plan, timezone=LOS_ANGELES, start=begin, end=begin + timedelta(days=2))

    @pytest.mark.parametrize("boundary", ["16:05", "16:59", "00:10"])
    def test_a_window_off_the_quarter_hour_is_refused(self, boundary: str) -> None:
        window = {"name": "peak", "days": "all", "seasons": ["all_year"]}
        with pytest.raises(ValidationError, match="quarter-hour"):
            plan_in_catalog_shape(periods=[{**window, "start": boundary, "end": "21:00"}])
        with pytest.raises(ValidationError, match="quarter-hour"):
            plan_in_catalog_shape(periods=[{**window, "start": "08:00", "end": boundary}])
