"""One cents helper for every dollar amount: rounded to the cent, never ``-0.0``."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import agentkeys.sandbox
from agentkeys.sandbox.battery.estimate import BatteryParameters, estimate_annual_savings
from agentkeys.sandbox.geo import load_geography
from agentkeys.sandbox.money import cents
from agentkeys.sandbox.tariffs.catalog import load_catalog
from agentkeys.sandbox.tariffs.engine import compute_bill
from tests.support.catalog import DUKE_RS

SANDBOX = Path(agentkeys.sandbox.__file__).parent
amounts = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)


def is_negative_zero(value: float) -> bool:
    return value == 0 and math.copysign(1.0, value) < 0


def floats_in(value: Any) -> Iterator[float]:
    """Every float in a (nested) dataclass, tuple or list."""
    if isinstance(value, float):
        yield value
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from floats_in(getattr(value, field.name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from floats_in(item)


class TestCents:
    @pytest.mark.parametrize("amount", [-0.0, -0.001, -0.004999, 0.004, -1e-300])
    def test_an_amount_that_rounds_to_zero_is_positive_zero(self, amount: float) -> None:
        assert cents(amount) == 0.0
        assert not is_negative_zero(cents(amount))

    @given(amount=amounts)
    def test_never_negative_zero_and_within_half_a_cent(self, amount: float) -> None:
        rounded = cents(amount)
        assert not is_negative_zero(rounded)
        assert abs(rounded - amount) <= 0.005 + 1e-9 * abs(amount)
        assert cents(rounded) == rounded

    @given(amount=amounts)
    def test_negation_is_symmetric(self, amount: float) -> None:
        assert cents(-amount) == -cents(amount) or cents(amount) == 0.0


class TestNoNegativeZeroInAnswers:
    def test_a_tiny_export_credit_is_zero_not_minus_zero(self) -> None:
        for utility in load_catalog().utilities:
            for plan in utility.rate_plans:
                export = [[0.0] * 96]
                export[0][48] = 0.001  # a credit of a tenth of a cent at most
                bill = compute_bill(plan, start=date(2026, 7, 1), usage=[[0.0] * 96], export=export)
                negative_zeros = [v for v in floats_in(bill) if is_negative_zero(v)]
                assert negative_zeros == [], plan.id

    def test_a_battery_that_changes_nothing_saves_zero_not_minus_zero(self) -> None:
        found = load_catalog().plan(DUKE_RS)
        charlotte = load_geography().place("28202")
        assert found is not None
        assert charlotte is not None
        _, plan = found
        estimate = estimate_annual_savings(
            plan=plan,
            timezone=charlotte.timezone,
            latitude=charlotte.latitude,
            longitude=charlotte.longitude,
            year=2026,
            request=BatteryParameters(
                days=1,
                solar_capacity_kw=None,
                max_capacity_kwh=1e-9,
                charging_kw=1e-9,
                discharging_kw=1e-9,
                charging_efficiency=1.0,
                discharging_efficiency=1.0,
                current_soc=0.5,
                min_soc=0.0,
                max_soc=1.0,
                months=(1,),
            ),
        )
        assert [v for v in floats_in(estimate) if is_negative_zero(v)] == []


def test_no_sandbox_module_rounds_money_on_its_own() -> None:
    """Dollar amounts go through ``money.cents``; a bare ``round(x, 2)`` elsewhere is a second
    rounding rule waiting to differ."""
    offenders = [
        f"{path.relative_to(SANDBOX)}:{number}"
        for path in SANDBOX.rglob("*.py")
        if path.name != "money.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if re.search(r"\bround\([^)]*,\s*2\)", line)
    ]
    assert offenders == []
