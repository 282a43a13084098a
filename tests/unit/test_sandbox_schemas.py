"""Sandbox request DTOs: dates and instants parsed once; the battery DTO maps onto its model."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from agentkeys.sandbox.battery.estimate import BatteryParameters
from agentkeys.sandbox.battery.schemas import BatteryAnnualEstimatedSavingsRequestDto
from agentkeys.sandbox.bills import schemas as bill_schemas
from agentkeys.sandbox.bills.schemas import PeriodBillRequestDto
from agentkeys.sandbox.homes.schemas import CreateClientHomeDto, UpdateClientHomeDto
from agentkeys.sandbox.price_signal import schemas as price_signal_schemas
from agentkeys.sandbox.price_signal.schemas import GetPriceSignalRequestDto
from agentkeys.sandbox.tariffs.model import ALL_MONTHS
from agentkeys.sandbox.utility.schemas import UtilityRequestDTO

DAY = [0.0] * 96


def never_again(_text: str) -> object:
    raise AssertionError("a validated date was parsed again on access")


def test_a_period_bill_keeps_its_days_as_dates(monkeypatch: pytest.MonkeyPatch) -> None:
    body = PeriodBillRequestDto.model_validate(
        {"startDate": "2026-02-01T23:30:00-08:00", "endDate": "2026-02-03", "usage": [DAY, DAY]}
    )
    monkeypatch.setattr(bill_schemas, "parse_day", never_again)

    assert (body.start, body.end) == (date(2026, 2, 1), date(2026, 2, 3))
    assert body.start_date == "2026-02-01T23:30:00-08:00"  # the wire text, as sent


def test_a_price_signal_window_keeps_its_instants(monkeypatch: pytest.MonkeyPatch) -> None:
    body = GetPriceSignalRequestDto.model_validate(
        {"startTime": "2026-07-01T00:00:00-07:00", "endTime": "2026-07-02T07:00:00Z"}
    )
    monkeypatch.setattr(price_signal_schemas, "parse_wall_clock_or_instant", never_again)

    assert body.window() == (
        datetime(2026, 7, 1, 7, tzinfo=UTC),
        datetime(2026, 7, 2, 7, tzinfo=UTC),
    )
    assert GetPriceSignalRequestDto.model_validate({}).window() is None


class TestBatteryParametersMapping:
    """The request DTO only maps wire names onto ``BatteryParameters``: whatever the wire
    accepts, the model accepts with the same values, and the SOC rule refuses the same bodies."""

    WIRE_TO_MODEL: ClassVar[dict[str, str]] = {
        "days": "days",
        "solarCapacity": "solar_capacity_kw",
        "maxCapacityKiloWattHours": "max_capacity_kwh",
        "chargingPowerKiloWatts": "charging_kw",
        "dischargingPowerKiloWatts": "discharging_kw",
        "chargingEfficiency": "charging_efficiency",
        "dischargingEfficiency": "discharging_efficiency",
        "minPreferredSOC": "min_soc",
        "maxPreferredSOC": "max_soc",
        "currentSOC": "current_soc",
    }

    @settings(max_examples=300, deadline=None)
    @given(
        days=st.integers(min_value=-1, max_value=33),
        solar=st.none() | st.floats(min_value=-1, max_value=1001),
        kilowatts=st.lists(st.floats(min_value=-1, max_value=1001), min_size=3, max_size=3),
        efficiencies=st.lists(st.floats(min_value=0, max_value=1.1), min_size=2, max_size=2),
        socs=st.lists(st.floats(min_value=-0.1, max_value=1.1), min_size=3, max_size=3),
        months=st.none() | st.lists(st.integers(min_value=0, max_value=13), max_size=12),
    )
    def test_every_accepted_body_maps_onto_the_model_unchanged(
        self,
        days: int,
        solar: float | None,
        kilowatts: list[float],
        efficiencies: list[float],
        socs: list[float],
        months: list[int] | None,
    ) -> None:
        body: dict[str, Any] = {
            "days": days,
            "solarCapacity": solar,
            "maxCapacityKiloWattHours": kilowatts[0],
            "chargingPowerKiloWatts": kilowatts[1],
            "dischargingPowerKiloWatts": kilowatts[2],
            "chargingEfficiency": efficiencies[0],
            "dischargingEfficiency": efficiencies[1],
            "minPreferredSOC": socs[0],
            "maxPreferredSOC": socs[1],
            "currentSOC": socs[2],
            "months": months,
        }
        try:
            dto = BatteryAnnualEstimatedSavingsRequestDto.model_validate(body)
        except ValidationError:
            return
        parameters = dto.parameters()  # never refuses what the wire accepted

        for wire, name in self.WIRE_TO_MODEL.items():
            assert getattr(parameters, name) == body[wire], wire
        assert parameters.months == (tuple(sorted(set(months))) if months else ALL_MONTHS)

    @pytest.mark.parametrize(
        ("low", "high", "current"), [(0.6, 0.4, 0.5), (0.2, 0.8, 0.1), (0.2, 0.8, 0.9)]
    )
    def test_the_soc_order_is_refused_by_both(
        self, low: float, high: float, current: float
    ) -> None:
        body = {
            "days": 1,
            "maxCapacityKiloWattHours": 10.0,
            "chargingPowerKiloWatts": 5.0,
            "dischargingPowerKiloWatts": 5.0,
            "chargingEfficiency": 0.9,
            "dischargingEfficiency": 0.9,
            "minPreferredSOC": low,
            "maxPreferredSOC": high,
            "currentSOC": current,
        }
        with pytest.raises(ValidationError, match="soc_order"):
            BatteryAnnualEstimatedSavingsRequestDto.model_validate(body)
        with pytest.raises(ValidationError, match="soc"):
            BatteryParameters(
                days=1,
                solar_capacity_kw=None,
                max_capacity_kwh=10.0,
                charging_kw=5.0,
                discharging_kw=5.0,
                charging_efficiency=0.9,
                discharging_efficiency=0.9,
                min_soc=low,
                max_soc=high,
                current_soc=current,
            )


class TestZipCodes:
    """Every ZIP field is one type: 5 digits (or fewer with leading zeros, or a 3-digit prefix),
    optionally -4 digits after a hyphen or one space; no other separator."""

    @staticmethod
    def zip_fields() -> list[tuple[type[Any], str, dict[str, Any]]]:
        return [
            (UtilityRequestDTO, "zipcode", {}),
            (CreateClientHomeDto, "zipcode", {"name": "Home"}),
            (UpdateClientHomeDto, "zipcode", {}),
        ]

    @pytest.mark.parametrize(
        "zipcode", ["12345\t6789", "12345\n6789", "12345\r\n6789", "12345\u00a06789", "12345\n"]
    )
    def test_white_space_other_than_one_space_is_refused(self, zipcode: str) -> None:
        for model, field, others in self.zip_fields():
            with pytest.raises(ValidationError) as raised:
                model.model_validate({**others, field: zipcode})
            assert raised.value.errors()[0]["loc"] == (field,), model

    @pytest.mark.parametrize("zipcode", ["12345", "12345-6789", "12345 6789", "02134", "941"])
    def test_a_zip_or_zip_plus_4_is_accepted(self, zipcode: str) -> None:
        for model, field, others in self.zip_fields():
            assert getattr(model.model_validate({**others, field: zipcode}), field) == zipcode
