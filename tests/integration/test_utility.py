"""``POST /v1/utility/get`` through HTTP: look-ups, detail levels, paging, filters, refusals."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from agentkeys.credentials.scopes import Scope
from tests.support.assertions import assert_envelope, assert_validation_failed
from tests.support.catalog import DUKE, DUKE_RS, E_1, E_TOU_C, PGE, SCE, SCE_TOU_D
from tests.support.factories import issue_credential, key_header

ROUTE = "/v1/utility/get"
RATE_PLAN_ID = re.compile(r"[0-9a-f]{24}")
MINIMAL_PLAN_FIELDS = {"id", "rateID", "ratePlanName", "supportedType"}
TARIFF_FIELDS = {
    "description",
    "effectiveDate",
    "fixedMonthlyCharge",
    "seasons",
    "periods",
    "defaultPeriod",
    "energyPrices",
    "tiers",
    "exportCredit",
    "sources",
    "notes",
}


def seconds_at(year: int, month: int, day: int, *, second: int = 0) -> int:
    """``effectiveOnDate``: seconds since 1970-01-01T00:00:00 UTC."""
    return int(datetime(year, month, day, second=second, tzinfo=UTC).timestamp())


async def reader_key(client: httpx.AsyncClient) -> dict[str, str]:
    issued = await issue_credential(client, requested_scopes=[Scope.UTILITY_READ])
    return key_header(issued["credential"])


async def look_up(client: httpx.AsyncClient, body: object) -> httpx.Response:
    """One look-up with a fresh ``utility:read`` key."""
    return await client.post(ROUTE, json=body, headers=await reader_key(client))


def found(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    utilities: list[dict[str, Any]] = response.json()
    assert isinstance(utilities, list)
    return utilities


def utility_ids(response: httpx.Response) -> list[str]:
    return [utility["utilityId"] for utility in found(response)]


def plan_ids(utility: dict[str, Any]) -> list[str]:
    return [plan["id"] for plan in utility["ratePlans"]]


class TestLookUpByZipcode:
    async def test_a_five_digit_zip_finds_its_utility_and_plans(
        self, client: httpx.AsyncClient
    ) -> None:
        utilities = found(await look_up(client, {"zipcode": "94107"}))

        assert len(utilities) == 1
        pge = utilities[0]
        assert pge["utilityId"] == PGE
        assert pge["utilityName"] == "Pacific Gas and Electric Company (PG&E)"
        assert pge["timezone"] == "America/Los_Angeles"
        assert plan_ids(pge) == [E_TOU_C, E_1]
        assert [plan["ratePlanName"] for plan in pge["ratePlans"]] == ["E-TOU-C", "E-1"]

    @pytest.mark.parametrize(
        ("zipcode", "utility_id"),
        [
            ("94107-1234", PGE),
            ("94107 1234", PGE),
            ("91770", SCE),
            ("28202", DUKE),
            ("0094107", PGE),
        ],
        ids=["zip+4-dash", "zip+4-space", "sce", "duke", "leading-zeros"],
    )
    async def test_zip_forms_find_the_serving_utility(
        self, client: httpx.AsyncClient, zipcode: str, utility_id: str
    ) -> None:
        assert utility_ids(await look_up(client, {"zipcode": zipcode})) == [utility_id]

    @pytest.mark.parametrize(("prefix", "utility_id"), [("941", PGE), ("917", SCE), ("282", DUKE)])
    async def test_a_three_digit_prefix_finds_the_utility_of_that_area(
        self, client: httpx.AsyncClient, prefix: str, utility_id: str
    ) -> None:
        assert utility_ids(await look_up(client, {"zipcode": prefix})) == [utility_id]

    @pytest.mark.parametrize("zipcode", ["10001", "00000", "123", "99999-0000"])
    async def test_a_zip_no_utility_serves_finds_nothing(
        self, client: httpx.AsyncClient, zipcode: str
    ) -> None:
        assert found(await look_up(client, {"zipcode": zipcode})) == []

    @pytest.mark.parametrize(
        "zipcode",
        ["9410A", "941071", "94107-12", "94107_1234", "", " 94107", "ABCDE", "94107-12345"],
    )
    async def test_a_zip_outside_the_published_pattern_is_refused(
        self, client: httpx.AsyncClient, zipcode: str
    ) -> None:
        assert_validation_failed(await look_up(client, {"zipcode": zipcode}), "zipcode")

    async def test_a_zip_that_is_a_number_is_refused(self, client: httpx.AsyncClient) -> None:
        assert_validation_failed(await look_up(client, {"zipcode": 94107}), "zipcode")


class TestLookUpByUtilityId:
    @pytest.mark.parametrize(
        ("utility_id", "plans"),
        [(PGE, [E_TOU_C, E_1]), (SCE, [SCE_TOU_D]), (DUKE, [DUKE_RS])],
    )
    async def test_a_utility_id_finds_that_utility(
        self, client: httpx.AsyncClient, utility_id: str, plans: list[str]
    ) -> None:
        utilities = found(await look_up(client, {"utilityId": utility_id}))

        assert [utility["utilityId"] for utility in utilities] == [utility_id]
        assert plan_ids(utilities[0]) == plans

    async def test_an_unknown_utility_id_finds_nothing(self, client: httpx.AsyncClient) -> None:
        assert found(await look_up(client, {"utilityId": "99999"})) == []

    async def test_zipcode_and_utility_id_must_both_match(self, client: httpx.AsyncClient) -> None:
        headers = await reader_key(client)

        both = await client.post(
            ROUTE, json={"zipcode": "94107", "utilityId": PGE}, headers=headers
        )
        neither = await client.post(
            ROUTE, json={"zipcode": "94107", "utilityId": SCE}, headers=headers
        )

        assert utility_ids(both) == [PGE]
        assert found(neither) == []

    async def test_every_rate_plan_id_is_24_lowercase_hex(self, client: httpx.AsyncClient) -> None:
        headers = await reader_key(client)
        ids: list[str] = []
        for utility_id in (PGE, SCE, DUKE):
            response = await client.post(ROUTE, json={"utilityId": utility_id}, headers=headers)
            ids.extend(plan_ids(found(response)[0]))

        assert ids == [E_TOU_C, E_1, SCE_TOU_D, DUKE_RS]
        for plan_id in ids:
            assert RATE_PLAN_ID.fullmatch(plan_id), plan_id


class TestDetailLevel:
    async def test_minimal_gives_only_what_is_needed_to_choose_a_plan(
        self, client: httpx.AsyncClient
    ) -> None:
        utilities = found(await look_up(client, {"zipcode": "94107", "detailLevel": "minimal"}))

        assert utilities[0]["ratePlans"] == [
            {
                "id": E_TOU_C,
                "rateID": "pge-res-e-tou-c-2026-06-01",
                "ratePlanName": "E-TOU-C",
                "supportedType": "tou",
            },
            {
                "id": E_1,
                "rateID": "pge-res-e-1-territory-p-2026-03-27",
                "ratePlanName": "E-1",
                "supportedType": "tiered",
            },
        ]

    @pytest.mark.parametrize("body", [{}, {"detailLevel": "full"}], ids=["default", "full"])
    async def test_full_is_the_default_and_gives_the_whole_tariff(
        self, client: httpx.AsyncClient, body: dict[str, Any]
    ) -> None:
        utilities = found(await look_up(client, {"zipcode": "94107", **body}))

        e_tou_c, e_1 = utilities[0]["ratePlans"]
        assert set(e_tou_c) == MINIMAL_PLAN_FIELDS | TARIFF_FIELDS
        assert set(e_1) == MINIMAL_PLAN_FIELDS | TARIFF_FIELDS
        assert e_tou_c["fixedMonthlyCharge"] == 24.13
        assert e_tou_c["effectiveDate"] == "2026-06-01"
        assert e_tou_c["energyPrices"] == {
            "summer": {"peak": 0.5224, "off_peak": 0.3994},
            "winter": {"peak": 0.39757, "off_peak": 0.36757},
        }
        assert e_tou_c["seasons"] == {"summer": [6, 7, 8, 9], "winter": [1, 2, 3, 4, 5, 10, 11, 12]}
        assert e_tou_c["tiers"] is None
        assert e_tou_c["exportCredit"]["type"] == "retail"
        assert e_tou_c["sources"]
        assert e_1["tiers"]["summer"][0]["price"] == 0.32561

    async def test_an_unknown_detail_level_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await look_up(client, {"zipcode": "94107", "detailLevel": "medium"})
        assert_validation_failed(response, "detailLevel")


class TestPaging:
    async def test_the_first_page_holds_the_match_and_the_next_page_is_empty(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await reader_key(client)

        first = await client.post(
            ROUTE, json={"zipcode": "94107", "pageSize": 1, "pageNumber": 1}, headers=headers
        )
        second = await client.post(
            ROUTE, json={"zipcode": "94107", "pageSize": 1, "pageNumber": 2}, headers=headers
        )
        far = await client.post(
            ROUTE, json={"zipcode": "94107", "pageNumber": 1_000_000}, headers=headers
        )

        assert utility_ids(first) == [PGE]
        assert found(second) == []
        assert found(far) == []

    @pytest.mark.parametrize("page_size", [1, 100])
    async def test_page_sizes_from_1_to_100_are_accepted(
        self, client: httpx.AsyncClient, page_size: int
    ) -> None:
        response = await look_up(client, {"zipcode": "94107", "pageSize": page_size})
        assert utility_ids(response) == [PGE]

    @pytest.mark.parametrize("page_size", [0, 101, -1, "20", 2.5])
    async def test_page_sizes_outside_1_to_100_or_not_integers_are_refused(
        self, client: httpx.AsyncClient, page_size: object
    ) -> None:
        response = await look_up(client, {"zipcode": "94107", "pageSize": page_size})
        assert_validation_failed(response, "pageSize")

    @pytest.mark.parametrize("page_number", [0, -1, "1"])
    async def test_page_numbers_below_1_or_not_integers_are_refused(
        self, client: httpx.AsyncClient, page_number: object
    ) -> None:
        response = await look_up(client, {"zipcode": "94107", "pageNumber": page_number})
        assert_validation_failed(response, "pageNumber")


class TestEffectiveOnDate:
    async def test_plans_not_yet_in_effect_are_left_out(self, client: httpx.AsyncClient) -> None:
        # E-1 is effective from 2026-03-27, E-TOU-C from 2026-06-01.
        headers = await reader_key(client)

        async def plans_on(seconds: int) -> list[str]:
            body = {"zipcode": "94107", "effectiveOnDate": seconds}
            response = await client.post(ROUTE, json=body, headers=headers)
            return plan_ids(found(response)[0])

        assert await plans_on(seconds_at(2026, 4, 1)) == [E_1]
        assert await plans_on(seconds_at(2026, 5, 31, second=59)) == [E_1]
        assert await plans_on(seconds_at(2026, 6, 1)) == [E_TOU_C, E_1]
        assert await plans_on(seconds_at(2026, 3, 27)) == [E_1]

    @pytest.mark.parametrize("value", [-1, "2026-06-01", 1.5])
    async def test_a_value_that_is_not_a_count_of_seconds_is_refused(
        self, client: httpx.AsyncClient, value: object
    ) -> None:
        response = await look_up(client, {"zipcode": "94107", "effectiveOnDate": value})
        assert_validation_failed(response, "effectiveOnDate")


class TestSolarPrioritizedOrder:
    async def test_solar_order_puts_retail_credit_plans_first_and_keeps_ties_in_order(
        self, client: httpx.AsyncClient
    ) -> None:
        # Every shipped PG&E plan credits exports at retail, so the order cannot change.
        headers = await reader_key(client)

        plain = await client.post(ROUTE, json={"zipcode": "94107"}, headers=headers)
        solar = await client.post(
            ROUTE, json={"zipcode": "94107", "isSolarPrioritizedOrder": True}, headers=headers
        )
        unset = await client.post(
            ROUTE, json={"zipcode": "94107", "isSolarPrioritizedOrder": False}, headers=headers
        )

        solar_plans = found(solar)[0]["ratePlans"]
        assert [plan["exportCredit"]["type"] for plan in solar_plans] == ["retail", "retail"]
        assert plan_ids(found(solar)[0]) == plan_ids(found(plain)[0]) == [E_TOU_C, E_1]
        assert plan_ids(found(unset)[0]) == [E_TOU_C, E_1]

    async def test_a_flag_that_is_not_a_boolean_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await look_up(client, {"zipcode": "94107", "isSolarPrioritizedOrder": "yes"})
        assert_validation_failed(response, "isSolarPrioritizedOrder")


class TestRefusedQueries:
    @pytest.mark.parametrize(
        "body", [{}, {"detailLevel": "minimal"}, {"zipcode": None, "utilityId": None}]
    )
    async def test_neither_zipcode_nor_utility_id_is_refused(
        self, client: httpx.AsyncClient, body: dict[str, Any]
    ) -> None:
        envelope = assert_validation_failed(await look_up(client, body), "zipcode")
        assert "utilityId" in envelope["field_errors"][0]["message"]

    @pytest.mark.parametrize(
        "location",
        [{"lat": "37.77"}, {"long": "-122.42"}, {"radius": 5}, {"radius": "5"}],
        ids=["lat", "long", "radius-number", "radius-text"],
    )
    async def test_a_location_field_is_refused_by_name(
        self, client: httpx.AsyncClient, location: dict[str, Any]
    ) -> None:
        response = await look_up(client, {"zipcode": "94107", **location})
        assert_validation_failed(response, *location)

    async def test_every_location_field_sent_is_named(self, client: httpx.AsyncClient) -> None:
        body = {"zipcode": "94107", "lat": "37.77", "long": "-122.42", "radius": 10}
        assert_validation_failed(await look_up(client, body), "lat", "long", "radius")

    async def test_a_body_that_is_not_an_object_is_refused(self, client: httpx.AsyncClient) -> None:
        assert_validation_failed(await look_up(client, ["94107"]), "body")


class TestUtilityAuthentication:
    async def test_request_without_a_key_is_refused_with_401(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(ROUTE, json={"zipcode": "94107"})
        assert_envelope(response, status=401, code="AUTH_MISSING_API_KEY")

    async def test_key_without_utility_read_is_refused_with_403_naming_the_scope(
        self, client: httpx.AsyncClient
    ) -> None:
        issued = await issue_credential(client, requested_scopes=["homes", "calculate"])
        response = await client.post(
            ROUTE, json={"zipcode": "94107"}, headers=key_header(issued["credential"])
        )
        envelope = assert_envelope(response, status=403, code="AUTH_INSUFFICIENT_SCOPE")
        assert "utility:read" in envelope["message"]
