"""POST /v1/homes/{id}/battery/estimate_savings through HTTP: results, validation, refusals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agentkeys.credentials.scopes import Scope
from tests.support.assertions import assert_envelope, assert_validation_failed
from tests.support.catalog import SCE_TOU_D, ZIP_OF_PLAN
from tests.support.factories import issue_credential, key_header, new_home

DOCUMENTED_BODY: dict[str, Any] = {
    "days": 1,
    "solarCapacity": 5,
    "maxCapacityKiloWattHours": 13.5,
    "chargingPowerKiloWatts": 5,
    "dischargingPowerKiloWatts": 5,
    "chargingEfficiency": 0.95,
    "dischargingEfficiency": 0.95,
    "currentSOC": 0.5,
    "minPreferredSOC": 0.2,
    "maxPreferredSOC": 0.9,
    "months": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
}


async def home_with_plan(
    client: httpx.AsyncClient,
    *,
    rate_plan_id: str | None = SCE_TOU_D,
    scopes: list[str] | None = None,
) -> tuple[dict[str, str], str]:
    zipcode = ZIP_OF_PLAN[rate_plan_id] if rate_plan_id else "92660"
    home_id, headers = await new_home(
        client, *(scopes or []), plan=rate_plan_id, name="Battery home", zipcode=zipcode
    )
    return headers, home_id


def route(home_id: str) -> str:
    return f"/v1/homes/{home_id}/battery/estimate_savings"


class TestEstimate:
    async def test_documented_example_saves_money_under_a_tou_plan(
        self, client: httpx.AsyncClient
    ) -> None:
        headers, home = await home_with_plan(client)

        response = await client.post(route(home), headers=headers, json=DOCUMENTED_BODY)

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["optimizedCost"] <= body["baselineCost"]
        assert body["dollarsSaved"] == pytest.approx(body["baselineCost"] - body["optimizedCost"])
        assert body["dollarsSaved"] > 0
        assert 0 < body["percentageSaved"] <= 1
        assert [month["month"] for month in body["months"]] == list(range(1, 13))
        assert body["months"][0]["daysSimulated"] == 1
        assert body["months"][0]["daysInMonth"] == 31
        assert body["assumptions"]["solar_capacity_kw"] == 5
        assert body["assumptions"]["location"]["timezone"] == "America/Los_Angeles"

    async def test_months_limit_the_estimate(self, client: httpx.AsyncClient) -> None:
        headers, home = await home_with_plan(client)

        response = await client.post(
            route(home), headers=headers, json={**DOCUMENTED_BODY, "months": [7, 1, 7]}
        )

        assert [month["month"] for month in response.json()["months"]] == [1, 7]

    @pytest.mark.parametrize(
        "powers",
        [
            {"chargingPowerKiloWatts": 1.2e-7, "dischargingPowerKiloWatts": 1.2e-7},
            {"chargingPowerKiloWatts": 5, "dischargingPowerKiloWatts": 1.2e-7},
            {"maxCapacityKiloWattHours": 1e-9},
        ],
    )
    async def test_tiny_powers_and_capacities_are_simulated_and_save_nothing(
        self, client: httpx.AsyncClient, powers: dict[str, float]
    ) -> None:
        headers, home = await home_with_plan(client)
        body = {**DOCUMENTED_BODY, "solarCapacity": None, "months": [1, 7], **powers}

        response = await client.post(route(home), headers=headers, json=body)

        assert response.status_code == 200, response.text
        assert response.json()["dollarsSaved"] == 0.0


class TestValidation:
    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"days": 0}, "days"),
            ({"days": 32}, "days"),
            ({"chargingEfficiency": 0}, "chargingEfficiency"),
            ({"dischargingEfficiency": 0.009}, "dischargingEfficiency"),
            ({"dischargingEfficiency": 5e-324}, "dischargingEfficiency"),
            ({"dischargingEfficiency": 1.01}, "dischargingEfficiency"),
            ({"currentSOC": 0.95}, "currentSOC"),
            ({"minPreferredSOC": 0.95}, "maxPreferredSOC"),
            ({"maxCapacityKiloWattHours": -1}, "maxCapacityKiloWattHours"),
            ({"months": [0]}, "months[0]"),
            ({"months": [13]}, "months[0]"),
            ({"leap": "CAISO"}, "leap"),
            ({"leap": "ERCOT"}, "leap"),
            ({"numBiddingHours": 4}, "numBiddingHours"),
            ({"days": "1"}, "days"),
        ],
    )
    async def test_bad_values_are_named(
        self, client: httpx.AsyncClient, change: dict[str, Any], field: str
    ) -> None:
        headers, home = await home_with_plan(client)

        response = await client.post(
            route(home), headers=headers, json={**DOCUMENTED_BODY, **change}
        )

        assert_validation_failed(response, field)

    async def test_a_home_without_a_rate_plan_is_refused(self, client: httpx.AsyncClient) -> None:
        headers, home = await home_with_plan(client, rate_plan_id=None)

        response = await client.post(route(home), headers=headers, json=DOCUMENTED_BODY)

        assert_validation_failed(response, "ratePlanId")


class TestRefusals:
    async def test_without_battery_estimate_scope_is_403(self, client: httpx.AsyncClient) -> None:
        headers, home = await home_with_plan(client, scopes=["homes", Scope.BILL_IMPACT_READ])

        response = await client.post(route(home), headers=headers, json=DOCUMENTED_BODY)

        assert_envelope(response, status=403, code="AUTH_INSUFFICIENT_SCOPE")

    async def test_another_credentials_home_is_404(self, client: httpx.AsyncClient) -> None:
        _, home = await home_with_plan(client)
        other = await issue_credential(
            client, organization_name="Other Co", requested_scopes=["calculate"]
        )

        response = await client.post(
            route(home), headers=key_header(other["credential"]), json=DOCUMENTED_BODY
        )

        assert_envelope(response, status=404, code="NOT_FOUND")

    async def test_without_a_key_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.post(route("ws_home_x"), json=DOCUMENTED_BODY)

        assert_envelope(response, status=401, code="AUTH_MISSING_API_KEY")
