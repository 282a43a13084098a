"""A battery estimate simulates the sun where the home's ZIP code is, or refuses with a 422."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, cast

import pytest

from agentkeys.cpu import CpuPool
from agentkeys.errors import ValidationFailed
from agentkeys.sandbox.battery import service as battery_service
from agentkeys.sandbox.battery.estimate import BatteryEstimate, BatteryParameters
from agentkeys.sandbox.battery.service import BatteryService, EstimatorQueue
from agentkeys.sandbox.homes.service import HomeService
from tests.unit.test_battery import parameters


@dataclass(frozen=True, slots=True)
class Place:
    latitude: float
    longitude: float
    timezone: str


class Places:
    """Two ZIP codes; what it was asked, in order."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self._known = {
            "94107": Place(37.7621, -122.3971, "America/Los_Angeles"),
            "99501": Place(61.2225, -149.8677, "America/Anchorage"),
        }

    def place(self, zipcode: str) -> Place | None:
        self.asked.append(zipcode)
        return self._known.get(zipcode)


class Homes:
    def __init__(self, zipcode: str | None) -> None:
        self._zipcode = zipcode

    async def priced_home(self, home_id: str, *, credential_id: str) -> SimpleNamespace:
        return SimpleNamespace(home=SimpleNamespace(zipcode=self._zipcode), plan="the plan")


async def released() -> None:
    return None


def service(zipcode: str | None, places: Places) -> BatteryService:
    return BatteryService(
        cast(HomeService, Homes(zipcode)),
        clock=cast(Any, SimpleNamespace(now=lambda: SimpleNamespace(year=2026))),
        queue=EstimatorQueue(CpuPool(1)),
        release_session=released,
        places=places,
    )


@pytest.fixture
def simulated(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The arguments each estimate was simulated with (the simulation itself is not run)."""
    calls: list[dict[str, Any]] = []

    def record(**kwargs: Any) -> BatteryEstimate:
        calls.append(kwargs)
        return cast(BatteryEstimate, "an estimate")

    monkeypatch.setattr(battery_service, "estimate_annual_savings", record)
    return calls


async def estimate(zipcode: str | None, places: Places) -> BatteryEstimate:
    request: BatteryParameters = parameters()
    return await service(zipcode, places).estimate_savings("ws_home_1", request, credential_id="c")


class TestEstimateLocation:
    @pytest.mark.parametrize("zipcode", ["94107", "94107-1234"])
    async def test_the_sun_is_simulated_at_the_homes_zip_code(
        self, zipcode: str, simulated: list[dict[str, Any]]
    ) -> None:
        places = Places()

        await estimate(zipcode, places)

        assert places.asked == ["94107"]
        (call,) = simulated
        assert (call["latitude"], call["longitude"]) == (37.7621, -122.3971)
        assert call["timezone"] == "America/Los_Angeles"
        assert call["plan"] == "the plan"
        assert call["year"] == 2026

    async def test_the_zip_codes_time_zone_is_used(self, simulated: list[dict[str, Any]]) -> None:
        await estimate("99501", Places())

        assert simulated[0]["timezone"] == "America/Anchorage"

    @pytest.mark.parametrize(
        ("zipcode", "says"),
        [(None, "has no ZIP code"), ("00000", "ZIP code 00000 is not one the sandbox can place")],
    )
    async def test_a_home_that_cannot_be_placed_is_refused_naming_the_zip_code(
        self, zipcode: str | None, says: str, simulated: list[dict[str, Any]]
    ) -> None:
        with pytest.raises(ValidationFailed) as refused:
            await estimate(zipcode, Places())

        (error,) = refused.value.field_errors
        assert error.field == "zipcode"
        assert says in error.message
        assert "/v1/homes/{id}/update" in error.message
        assert simulated == []
