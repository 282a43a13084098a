"""Coverage of the United States through HTTP: the six ZIPs of the issue, and 1,000 random ones.

An agent asked to price homes in 94107, 90012, 28202, 10001, 60601 and 78701 must find each ZIP's
real utilities and plans and bill a month for a home there. Then a walk over 1,000 random covered
ZIPs (a covered ZIP: some utility serving it has a plan in the catalog): each resolves, and a
home on its first plan bills a month. The homes are inline (``POST /v1/homes/bill/period`` with a
``home``), so the walk stores nothing and meets no storage quota.
"""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest

from agentkeys.sandbox.geo import load_geography
from agentkeys.sandbox.tariffs.catalog import load_catalog
from tests.support.app import AppFactory, client_for
from tests.support.catalog import E_TOU_C
from tests.support.factories import key_with
from tests.support.policies import relaxed_policy

# EIA ids, from the data the catalog is built from (eia-861-territory, non_iou_zipcodes_2024).
SF_PUC, PGE = "16612", "14328"
LADWP, SCE = "11208", "17609"
DUKE = "5416"
CONED = "4226"
COMED = "4110"
AUSTIN, PEDERNALES, BLUEBONNET, ONCOR = "1015", "14626", "1892", "44372"

JULY_2026 = {"startDate": "2026-07-01", "endDate": "2026-08-01"}
A_MONTH_OF_USAGE = [[0.25] * 96 for _ in range(31)]


async def serving(client: httpx.AsyncClient, headers: dict[str, str], zipcode: str) -> list[Any]:
    response = await client.post("/v1/utility/get", json={"zipcode": zipcode}, headers=headers)
    assert response.status_code == 200, response.text
    utilities: list[Any] = response.json()
    return utilities


def first_plan(utilities: list[Any]) -> tuple[str, str]:
    """(utilityId, ratePlanId) of the first plan of the answer: what an agent would pick."""
    utility = next(utility for utility in utilities if utility["ratePlans"])
    return utility["utilityId"], utility["ratePlans"][0]["id"]


async def bill_a_month(
    client: httpx.AsyncClient, headers: dict[str, str], zipcode: str, plan: str
) -> dict[str, Any]:
    body = {
        "home": {"ratePlanId": plan, "zipcode": zipcode},
        "usage": A_MONTH_OF_USAGE,
        **JULY_2026,
    }
    response = await client.post("/v1/homes/bill/period", json=body, headers=headers)
    assert response.status_code == 200, f"{zipcode} {plan}: {response.text}"
    bill: dict[str, Any] = response.json()
    return bill


class TestTheSixZips:
    @pytest.mark.parametrize(
        ("zipcode", "zip_matches", "county_matches"),
        [
            # San Francisco: the city's own utility (non-IOU ZIP file) and PG&E (its county).
            ("94107", [SF_PUC], [PGE]),
            # Downtown Los Angeles: LADWP by ZIP; SCE also serves Los Angeles County.
            ("90012", [LADWP], [SCE]),
            # Charlotte: Duke Energy Carolinas serves Mecklenburg County.
            ("28202", [], [DUKE]),
            # Manhattan: ConEd serves New York County.
            ("10001", [], [CONED]),
            # Chicago: ComEd serves Cook County.
            ("60601", [], [COMED]),
            # Austin: Austin Energy by ZIP; Pedernales, Bluebonnet and Oncor serve Travis County.
            ("78701", [AUSTIN], [PEDERNALES, BLUEBONNET, ONCOR]),
        ],
    )
    async def test_each_zip_answers_its_real_utilities_and_a_month_bills(
        self,
        client: httpx.AsyncClient,
        zipcode: str,
        zip_matches: list[str],
        county_matches: list[str],
    ) -> None:
        headers = await key_with(client, "utility:read", "bill_impact:read")

        utilities = await serving(client, headers, zipcode)

        matches = {utility["utilityId"]: utility["serviceAreaMatch"] for utility in utilities}
        for utility_id in zip_matches:
            assert matches.get(utility_id) == "zip", (zipcode, utility_id, matches)
        for utility_id in county_matches:
            assert matches.get(utility_id) == "county", (zipcode, utility_id, matches)
        # Exact matches come first.
        kinds = [utility["serviceAreaMatch"] for utility in utilities]
        assert kinds == sorted(kinds, key=lambda kind: kind != "zip")
        utility_id, plan = first_plan(utilities)
        bill = await bill_a_month(client, headers, zipcode, plan)
        assert bill["billTotal"] > 0
        assert bill["days"] == 31

    async def test_san_francisco_offers_pge_e_tou_c(self, client: httpx.AsyncClient) -> None:
        headers = await key_with(client, "utility:read")

        utilities = await serving(client, headers, "94107")

        pge = next(utility for utility in utilities if utility["utilityId"] == PGE)
        assert E_TOU_C in [plan["id"] for plan in pge["ratePlans"]]

    async def test_a_utility_without_a_tariff_is_listed_with_no_plans(
        self, client: httpx.AsyncClient
    ) -> None:
        # Oncor delivers in Travis County; the public data holds no residential tariff of it.
        headers = await key_with(client, "utility:read")

        utilities = await serving(client, headers, "78701")

        oncor = next(utility for utility in utilities if utility["utilityId"] == ONCOR)
        assert oncor["ratePlans"] == []
        assert utilities[-1]["ratePlans"] == []


def covered_zips() -> list[str]:
    geography, catalog = load_geography(), load_catalog()
    return [
        zipcode
        for zipcode in geography.zipcodes()
        if any(catalog.utility(utility.utility_id) for utility in geography.serving(zipcode))
    ]


async def test_1000_random_covered_zips_resolve_and_bill_a_month(make_app: AppFactory) -> None:
    zips = covered_zips()
    # Most of the 41,749 ZIPs of the 50 states and DC (the survey counted 38,625 billable).
    assert len(zips) > 38_000
    sample = random.Random(11).sample(zips, 1000)
    # Two requests a ZIP, 2,000 in all: more than a key's request rate allows in a minute.
    async with client_for(make_app(policy=relaxed_policy())) as client:
        headers = await key_with(client, "utility:read", "bill_impact:read")

        for zipcode in sample:
            utilities = await serving(client, headers, zipcode)
            assert utilities, zipcode
            _, plan = first_plan(utilities)
            bill = await bill_a_month(client, headers, zipcode, plan)
            assert bill["billTotal"] > 0, (zipcode, plan, bill)
