"""Battery savings: the load shape, the dispatch LP and the annual estimate (solar: test_solar)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any, TypedDict

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agentkeys.sandbox.battery import optimizer
from agentkeys.sandbox.battery.estimate import (
    BatteryEstimate,
    BatteryParameters,
    estimate_annual_savings,
)
from agentkeys.sandbox.battery.load import (
    DEFAULT_LOAD,
    EIA_AVERAGE_ANNUAL_KWH,
    quarter_hour_load_kwh,
)
from agentkeys.sandbox.battery.optimizer import (
    Battery,
    DispatchError,
    baseline_cost,
    optimize_dispatch,
)
from agentkeys.sandbox.tariffs.model import RatePlan

SF_LATITUDE, SF_LONGITUDE, SF_ZONE = 37.7749, -122.4194, "America/Los_Angeles"
TOLERANCE = 1e-6


class Prices(TypedDict):
    import_price: list[float]
    export_price: list[float]


def estimate(request: BatteryParameters, plan: RatePlan | None = None) -> BatteryEstimate:
    """The estimate for a San Francisco home in 2026."""
    return estimate_annual_savings(
        plan=plan or rate_plan(),
        timezone=SF_ZONE,
        latitude=SF_LATITUDE,
        longitude=SF_LONGITUDE,
        year=2026,
        request=request,
    )


def battery(**changes: float) -> Battery:
    values = {
        "capacity_kwh": 10.0,
        "charging_kw": 8.0,
        "discharging_kw": 8.0,
        "charging_efficiency": 1.0,
        "discharging_efficiency": 1.0,
        "current_soc": 0.5,
        "min_soc": 0.0,
        "max_soc": 1.0,
        **changes,
    }
    return Battery(**values)


def parameters(**changes: Any) -> BatteryParameters:
    values: dict[str, Any] = {
        "days": 2,
        "solar_capacity_kw": 5.0,
        "max_capacity_kwh": 13.5,
        "charging_kw": 5.0,
        "discharging_kw": 5.0,
        "charging_efficiency": 0.95,
        "discharging_efficiency": 0.95,
        "current_soc": 0.5,
        "min_soc": 0.2,
        "max_soc": 0.9,
        **changes,
    }
    return BatteryParameters(**values)


def rate_plan(
    *, peak: float = 0.50, off_peak: float = 0.25, export: dict[str, Any] | None = None
) -> RatePlan:
    """A two-season time-of-use plan, peak 16:00-21:00 on weekdays, in the catalog's JSON shape."""
    return RatePlan.model_validate(
        {
            "id": "0123456789abcdef01234567",
            "rateID": "test-tou",
            "ratePlanName": "Test TOU",
            "supportedType": "tou",
            "description": "Peak 4-9 p.m. on weekdays, off-peak otherwise.",
            "effectiveDate": "2026-01-01",
            "sources": [{"url": "https://example.com/tariff", "title": "Test tariff"}],
            "fixedMonthlyCharge": 10.0,
            "seasons": {"summer": [6, 7, 8, 9], "winter": [1, 2, 3, 4, 5, 10, 11, 12]},
            "periods": [
                {
                    "name": "peak",
                    "days": "weekdays",
                    "start": "16:00",
                    "end": "21:00",
                    "seasons": ["summer", "winter"],
                }
            ],
            "defaultPeriod": "off_peak",
            "energyPrices": {
                "summer": {"peak": peak, "off_peak": off_peak},
                "winter": {"peak": peak * 0.9, "off_peak": off_peak * 0.9},
            },
            "exportCredit": export or {"type": "retail"},
        }
    )


def assert_dispatch_is_feasible(
    dispatch: optimizer.Dispatch,
    *,
    load: list[float],
    solar: list[float],
    unit: Battery,
) -> None:
    c, d = dispatch.charge, dispatch.discharge
    g, e, s = dispatch.grid_import, dispatch.grid_export, dispatch.state_of_charge
    assert np.all(c >= -TOLERANCE)
    assert np.all(c <= unit.charging_kw * 0.25 + TOLERANCE)
    assert np.all(d >= -TOLERANCE)
    assert np.all(d <= unit.discharging_kw * 0.25 + TOLERANCE)
    assert np.all(g >= -TOLERANCE)
    assert np.all(e >= -TOLERANCE)
    assert np.all(s >= unit.min_soc * unit.capacity_kwh - TOLERANCE)
    assert np.all(s <= unit.max_soc * unit.capacity_kwh + TOLERANCE)
    assert s[-1] >= dispatch.initial_kwh - TOLERANCE
    balance = np.asarray(load) - np.asarray(solar) + c - d - (g - e)
    assert np.abs(balance).max() <= TOLERANCE
    previous = np.concatenate([[dispatch.initial_kwh], s[:-1]])
    step = s - previous - unit.charging_efficiency * c + d / unit.discharging_efficiency
    assert np.abs(step).max() <= TOLERANCE


class TestLoad:
    @pytest.mark.parametrize("month", range(1, 13))
    def test_weekdays_and_weekends_sum_to_the_documented_daily_total(self, month: int) -> None:
        first = date(2026, month, 1)
        week = [first + timedelta(days=offset) for offset in range(7)]

        for day in week:
            kwh = quarter_hour_load_kwh(day=day)
            assert len(kwh) == 96
            assert sum(kwh) == pytest.approx(DEFAULT_LOAD.daily_kwh(month), abs=1e-9)

    def test_the_year_matches_the_eia_average_home(self) -> None:
        year = sum(
            DEFAULT_LOAD.daily_kwh(month) * calendar.monthrange(2026, month)[1]
            for month in range(1, 13)
        )

        assert year == pytest.approx(EIA_AVERAGE_ANNUAL_KWH, rel=0.01)

    def test_summer_cooling_and_winter_heating_raise_the_total(self) -> None:
        april, july, january = (DEFAULT_LOAD.daily_kwh(month) for month in (4, 7, 1))

        assert july > january > april

    def test_evening_peak_and_night_trough(self) -> None:
        kwh = quarter_hour_load_kwh(day=date(2026, 7, 15))  # a Wednesday

        assert 17 * 4 <= int(np.argmax(kwh)) < 21 * 4
        assert 1 * 4 <= int(np.argmin(kwh)) < 5 * 4

    def test_weekends_have_a_different_shape(self) -> None:
        wednesday = quarter_hour_load_kwh(day=date(2026, 7, 15))
        saturday = quarter_hour_load_kwh(day=date(2026, 7, 18))

        assert wednesday != saturday
        assert sum(saturday[36:40]) > sum(wednesday[36:40])  # 09:00-10:00, a later morning


slot_values = st.floats(min_value=0.0, max_value=5.0, allow_nan=False)
fractions = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
# Tariffs quote $/kWh to a few decimals; prices far below HiGHS's 1e-7 optimality tolerance
# would only test the solver's round-off.
prices_per_kwh = st.integers(min_value=0, max_value=10_000).map(lambda units: units / 10_000)


@st.composite
def dispatch_cases(draw: st.DrawFn) -> tuple[list[float], list[float], list[float], list[float]]:
    slots = draw(st.integers(min_value=1, max_value=8))
    load = draw(st.lists(slot_values, min_size=slots, max_size=slots))
    solar = draw(st.lists(slot_values, min_size=slots, max_size=slots))
    import_price = draw(st.lists(prices_per_kwh, min_size=slots, max_size=slots))
    # Exports are credited at most at the import price, as every catalog plan does.
    share = draw(st.lists(fractions, min_size=slots, max_size=slots))
    export_price = [price * part for price, part in zip(import_price, share, strict=True)]
    return load, solar, import_price, export_price


@st.composite
def batteries(draw: st.DrawFn) -> Battery:
    low, high = sorted((draw(fractions), draw(fractions)))
    return Battery(
        capacity_kwh=draw(st.floats(min_value=0.0, max_value=20.0)),
        charging_kw=draw(st.floats(min_value=0.0, max_value=10.0)),
        discharging_kw=draw(st.floats(min_value=0.0, max_value=10.0)),
        charging_efficiency=draw(st.floats(min_value=0.5, max_value=1.0)),
        discharging_efficiency=draw(st.floats(min_value=0.5, max_value=1.0)),
        current_soc=draw(fractions),
        min_soc=low,
        max_soc=high,
    )


class TestOptimizer:
    @settings(deadline=None, max_examples=150)
    @given(case=dispatch_cases(), unit=batteries())
    # A discharging power whose slot energy (3e-8 kWh) is below the solver's tolerance, with no
    # charging: HiGHS called this LP infeasible before such powers were modelled as zero.
    @example(
        case=(
            [
                2.4824682799641415,
                0.5709532284600499,
                1.5600246335028523,
                1.7167123563929898,
                3.981015055926118,
                1.2921041663274795,
            ],
            [0.0, 4.827817589254999, 0.0, 1.1268700665930105, 0.0, 2.228342581711919],
            [0.8924, 0.3614, 0.8463, 0.7386, 0.3656, 0.8583],
            [
                0.5787271275117764,
                0.14271614076278946,
                0.4873384383075324,
                0.23727215478230954,
                0.23067453808080443,
                0.05045526524003147,
            ],
        ),
        unit=Battery(
            capacity_kwh=17.510684884703185,
            charging_kw=0.0,
            discharging_kw=1.2e-07,
            charging_efficiency=0.655181813676567,
            discharging_efficiency=0.9696442160676413,
            current_soc=0.7438421186671211,
            min_soc=0.29860594962301334,
            max_soc=0.9679033101508892,
        ),
    )
    # A usable capacity (1.3e-7 kWh) below the solver's tolerance, with real powers.
    @example(
        case=(
            [1.26, 0.32, 4.82, 4.04],
            [2.75, 4.26, 0.05, 0.86],
            [0.04, 0.68, 0.93, 0.03],
            [0.0] * 4,
        ),
        unit=Battery(
            capacity_kwh=3.4806079461628135e-07,
            charging_kw=3.930762269830935e-06,
            discharging_kw=5.079778170467527,
            charging_efficiency=0.5953023078054509,
            discharging_efficiency=0.8561283239332698,
            current_soc=0.38154454680016003,
            min_soc=0.13588187349009617,
            max_soc=0.5182391688649143,
        ),
    )
    def test_never_costs_more_than_no_battery_and_respects_every_bound(
        self, case: tuple[list[float], list[float], list[float], list[float]], unit: Battery
    ) -> None:
        load, solar, import_price, export_price = case
        prices = Prices(import_price=import_price, export_price=export_price)

        dispatch = optimize_dispatch(load_kwh=load, solar_kwh=solar, battery=unit, **prices)

        assert dispatch.cost <= baseline_cost(load_kwh=load, solar_kwh=solar, **prices) + TOLERANCE
        assert_dispatch_is_feasible(dispatch, load=load, solar=solar, unit=unit)
        priced = np.dot(import_price, dispatch.grid_import)
        priced -= np.dot(export_price, dispatch.grid_export)
        assert dispatch.cost == pytest.approx(priced, abs=TOLERANCE)

    def test_flat_price_without_solar_and_losses_saves_nothing(self) -> None:
        load = [1.0, 0.5, 2.0, 1.5, 0.2, 3.0, 1.0, 0.8]
        prices = Prices(import_price=[0.2] * 8, export_price=[0.2] * 8)
        lossy = battery(charging_efficiency=0.9, discharging_efficiency=0.9)

        dispatch = optimize_dispatch(load_kwh=load, solar_kwh=[0.0] * 8, battery=lossy, **prices)
        savings = baseline_cost(load_kwh=load, solar_kwh=[0.0] * 8, **prices) - dispatch.cost

        assert savings == pytest.approx(0.0, abs=1e-9)
        assert savings >= -1e-12

    def test_cheap_then_expensive_saves_the_price_difference_on_the_shifted_energy(self) -> None:
        prices = Prices(import_price=[0.10, 0.30], export_price=[0.0, 0.0])
        load, solar = [1.0, 1.0], [0.0, 0.0]

        dispatch = optimize_dispatch(load_kwh=load, solar_kwh=solar, battery=battery(), **prices)

        assert baseline_cost(load_kwh=load, solar_kwh=solar, **prices) == pytest.approx(0.40)
        assert dispatch.cost == pytest.approx(0.40 - (0.30 - 0.10) * 1.0, abs=1e-9)
        assert dispatch.charge.tolist() == pytest.approx([1.0, 0.0], abs=1e-9)
        assert dispatch.discharge.tolist() == pytest.approx([0.0, 1.0], abs=1e-9)

    def test_power_limit_caps_the_energy_shifted(self) -> None:
        prices = Prices(import_price=[0.10, 0.30], export_price=[0.0, 0.0])
        slow = battery(charging_kw=2.0, discharging_kw=2.0)  # 0.5 kWh per quarter-hour

        dispatch = optimize_dispatch(
            load_kwh=[1.0, 1.0], solar_kwh=[0.0, 0.0], battery=slow, **prices
        )

        assert dispatch.cost == pytest.approx(0.40 - (0.30 - 0.10) * 0.5, abs=1e-9)

    def test_current_soc_outside_the_preferred_range_is_clipped_into_it(self) -> None:
        unit = battery(current_soc=0.95, min_soc=0.2, max_soc=0.8)
        prices = Prices(import_price=[0.1, 0.1], export_price=[0.0, 0.0])

        dispatch = optimize_dispatch(
            load_kwh=[1.0, 1.0], solar_kwh=[0.0, 0.0], battery=unit, **prices
        )

        assert dispatch.initial_kwh == pytest.approx(8.0)
        assert_dispatch_is_feasible(dispatch, load=[1.0, 1.0], solar=[0.0, 0.0], unit=unit)

    def test_a_solver_failure_raises_dispatch_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def failing_linprog(*_: object, **__: object) -> SimpleNamespace:
            return SimpleNamespace(status=4, message="numerical difficulties", x=None, fun=None)

        monkeypatch.setattr(optimizer, "linprog", failing_linprog)

        with pytest.raises(DispatchError, match="numerical difficulties") as raised:
            optimize_dispatch(
                load_kwh=[1.0],
                solar_kwh=[0.0],
                import_price=[0.1],
                export_price=[0.0],
                battery=battery(),
            )
        assert raised.value.status == 4

    def test_mismatched_lengths_are_refused(self) -> None:
        with pytest.raises(ValueError, match="one value per slot"):
            optimize_dispatch(
                load_kwh=[1.0, 1.0],
                solar_kwh=[0.0],
                import_price=[0.1, 0.1],
                export_price=[0.0, 0.0],
                battery=battery(),
            )

    def test_impossible_battery_limits_are_refused(self) -> None:
        with pytest.raises(ValueError, match="min_soc"):
            battery(min_soc=0.9, max_soc=0.1)
        with pytest.raises(ValueError, match="charging_efficiency"):
            battery(charging_efficiency=0.0)


class TestAnnualEstimate:
    def test_time_of_use_plan_full_year_saves_and_reports_the_difference(self) -> None:
        annual = estimate(parameters(days=31))

        assert 0 < annual.optimized_cost <= annual.baseline_cost
        assert annual.dollars_saved > 0
        assert annual.dollars_saved == pytest.approx(
            annual.baseline_cost - annual.optimized_cost, abs=1e-9
        )
        assert 0 < annual.percentage_saved < 1
        assert annual.percentage_saved == pytest.approx(
            annual.dollars_saved / annual.baseline_cost, abs=1e-4
        )
        assert [month.month for month in annual.months] == list(range(1, 13))
        assert all(month.optimized_cost <= month.baseline_cost for month in annual.months)
        assert sum(month.baseline_cost for month in annual.months) == pytest.approx(
            annual.baseline_cost, abs=0.07
        )

    def test_month_figures_are_scaled_from_the_simulated_days(self) -> None:
        request = parameters(days=31, months=(2,), solar_capacity_kw=None)

        (february,) = estimate(request).months

        assert february.days_simulated == 28
        assert february.days_in_month == 28
        assert february.load_kwh == pytest.approx(28 * DEFAULT_LOAD.daily_kwh(2))
        assert february.solar_kwh == 0.0

    def test_few_simulated_days_are_scaled_to_the_whole_month(self) -> None:
        request = parameters(days=7, months=(7,))

        (july,) = estimate(request).months

        assert july.days_simulated == 7
        assert july.load_kwh == pytest.approx(31 * DEFAULT_LOAD.daily_kwh(7))

    def test_only_requested_months_are_estimated_once_each(self) -> None:
        request = parameters(months=(12, 1, 12))

        months = estimate(request).months

        assert [month.month for month in months] == [1, 12]

    def test_a_price_spread_below_the_round_trip_loss_saves_nothing(self) -> None:
        # 0.95 x 0.95 keeps 90.25%; a 5% spread cannot pay for it.
        narrow = rate_plan(peak=0.2625, off_peak=0.25)
        request = parameters(months=(1, 7), solar_capacity_kw=None)

        result = estimate(request, narrow)

        assert result.dollars_saved == 0.0
        assert result.percentage_saved == pytest.approx(0.0, abs=1e-9)

    def test_percentage_is_zero_when_solar_exports_outweigh_imports(self) -> None:
        request = parameters(solar_capacity_kw=40.0, months=(6,), max_capacity_kwh=0.0)

        result = estimate(request)

        assert result.baseline_cost < 0
        assert result.percentage_saved == 0.0

    def test_assumptions_name_the_location_and_the_models(self) -> None:
        assumptions = estimate(parameters(months=(3,))).assumptions
        assert assumptions.location.timezone == "America/Los_Angeles"
        assert assumptions.location.latitude == SF_LATITUDE
        assert assumptions.solar.system_losses_percent == 14.0
        assert "Ineichen" in assumptions.solar.irradiance_model
        assert assumptions.load.daily_kwh_by_month == DEFAULT_LOAD.daily_kwh_by_month
        assert assumptions.solar_capacity_kw == 5.0

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"days": 0}, "days"),
            ({"days": 32}, "days"),
            ({"months": (0,)}, "months"),
            ({"months": (13,)}, "months"),
            ({"solar_capacity_kw": -1.0}, "solar"),
            ({"min_soc": 0.9, "max_soc": 0.2}, "min_soc"),
            ({"discharging_efficiency": 1.5}, "discharging_efficiency"),
        ],
    )
    def test_impossible_parameters_are_refused(self, change: dict[str, Any], message: str) -> None:
        with pytest.raises(ValueError, match=message):
            parameters(**change)
