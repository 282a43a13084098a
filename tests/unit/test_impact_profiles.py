"""The loads an impact bills: the typical home's and a load with solar netted per quarter-hour."""

from __future__ import annotations

from datetime import date

import pytest

from agentkeys.sandbox.impact.profiles import (
    MeterProfile,
    Scenario,
    SolarSite,
    bill_scenario,
    solar_production,
    typical_usage,
    with_solar,
)
from agentkeys.sandbox.tariffs.catalog import load_catalog
from tests.support.catalog import DUKE_RS

CHARLOTTE = SolarSite(
    capacity_kw=5, latitude=35.2271, longitude=-80.8431, timezone="America/New_York"
)


class TestTypicalUsage:
    def test_each_day_sums_to_the_months_daily_total(self) -> None:
        # battery/load.py: 26.5 kWh a day in March, 36.5 in July (EIA-level typical home).
        march = typical_usage(start=date(2026, 3, 30), days=2)
        july = typical_usage(start=date(2026, 7, 4), days=1)

        assert [len(day) for day in march] == [96, 96]
        assert [sum(day) for day in march] == pytest.approx([26.5, 26.5])
        assert sum(july[0]) == pytest.approx(36.5)

    def test_a_period_across_months_takes_each_days_month(self) -> None:
        days = typical_usage(start=date(2026, 3, 31), days=2)  # March 31, April 1

        assert [sum(day) for day in days] == pytest.approx([26.5, 24.5])


class TestWithSolar:
    def test_production_replaces_imports_and_the_surplus_is_exported(self) -> None:
        load = MeterProfile(usage=[[1.0, 0.5, 0.0] + [0.0] * 93])
        production = [[0.25, 0.75, 0.5] + [0.0] * 93]

        netted = with_solar(load, production)

        # 1.0 - 0.25 = 0.75 imported; 0.5 - 0.75 < 0: 0.25 exported; 0.5 all exported.
        assert netted.usage[0][:3] == [0.75, 0.0, 0.0]
        assert netted.export is not None
        assert netted.export[0][:3] == [0.0, 0.25, 0.5]

    def test_a_surplus_adds_to_the_export_already_sent(self) -> None:
        load = MeterProfile(usage=[[0.5] * 96], export=[[0.5] * 96])

        netted = with_solar(load, [[1.0] * 96])

        # 1.0 produced - 0.5 used = 0.5 more exported, on top of the 0.5 sent.
        assert netted.usage[0] == [0.0] * 96
        assert netted.export is not None
        assert netted.export[0] == [1.0] * 96


class TestSolarProduction:
    def test_panels_produce_by_day_and_nothing_at_midnight(self) -> None:
        days = solar_production(CHARLOTTE, start=date(2026, 6, 21), days=2)

        assert [len(day) for day in days] == [96, 96]
        assert days[0][0] == 0.0  # 00:00-00:15 local
        assert days[0][48] > 0  # 12:00-12:15 local
        # A 5 kW array cannot make more than 5 kW x 0.25 h = 1.25 kWh in a quarter-hour.
        assert max(max(day) for day in days) <= 1.25


class TestBillScenario:
    def test_no_sent_baseline_bills_the_typical_home_and_solar_lowers_the_bill(self) -> None:
        found = load_catalog().plan(DUKE_RS)
        assert found is not None

        bills = bill_scenario(
            found[1],
            start=date(2026, 3, 1),
            days=31,
            scenario=Scenario(baseline=None, modified=None, solar=CHARLOTTE),
        )

        # 31 days x 26.5 kWh (the typical home in March) = 821.5 kWh.
        assert bills.baseline.import_kwh == pytest.approx(821.5)
        assert bills.modified.import_kwh < bills.baseline.import_kwh
        assert bills.modified.total < bills.baseline.total

    def test_a_scenario_needs_a_modified_load_or_solar(self) -> None:
        found = load_catalog().plan(DUKE_RS)
        assert found is not None

        with pytest.raises(ValueError, match="needs solar"):
            bill_scenario(
                found[1],
                start=date(2026, 3, 1),
                days=1,
                scenario=Scenario(baseline=None, modified=None, solar=None),
            )
