"""``POST /v1/utility/get`` through HTTP: look-ups by ZIP, prefix, place and id; order; detail
levels; paging; filters; refusals.

Who serves a ZIP is read by hand from the source data: ``non_iou_zipcodes_2024.csv`` rows
(``zip,eiaid,...``: serviceAreaMatch ``zip``) and ``service_territory_2018.csv`` rows
(``Utility_Number,...,County_FIPS``: ``county``); the plans from the shipped catalog.
"""

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
    "dataSource",
    "source",
    "sources",
    "effectiveDate",
    "endDate",
    "lastVerified",
    "stale",
    "simplifications",
    "notes",
    "seasons",
    "periods",
    "tierUnit",
    "weekdaySchedule",
    "weekendSchedule",
    "holidays",
    "fixedCharges",
    "minimumCharge",
    "exportCredit",
}
UTILITY_FIELDS = {
    "utilityId",
    "utilityName",
    "state",
    "timezone",
    "serviceAreaMatch",
    "ratePlans",
    "ratePlansNote",
}
# More EIA ids: City & County of San Francisco (SFPUC), LADWP, ConEd, ComEd, Austin Energy,
# Bluebonnet and Pedernales co-ops, Oncor (no tariff in the data), DTE Electric.
SFPUC, LADWP, CONED, COMED, AUSTIN = "16612", "11208", "4226", "4110", "1015"
BLUEBONNET, PEDERNALES, ONCOR, DTE = "1892", "14626", "44372", "5109"
# The ratebook's pge-ev2-a (URDB label); the catalog lists PG&E's plans E-1, E-TOU-C, EV2-A.
PGE_EV2_A = "18c2c10a3dcc6f5a8604d6ac"
PGE_PLANS = [E_1, E_TOU_C, PGE_EV2_A]
# DTE's D1 credits no export, D1.2 at retail (ratebook files), in that order in the catalog.
DTE_D1, DTE_D1_2 = "69e681d00b9e1bb34f0912d9", "69e685c97e0cd194c00ddacb"


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


def matches(response: httpx.Response) -> list[tuple[str, str | None]]:
    return [(utility["utilityId"], utility["serviceAreaMatch"]) for utility in found(response)]


def plan_ids(utility: dict[str, Any]) -> list[str]:
    return [plan["id"] for plan in utility["ratePlans"]]


class TestLookUpByZipcode:
    async def test_a_zip_answers_its_zip_match_first_then_its_county_utilities(
        self, client: httpx.AsyncClient
    ) -> None:
        # 94107,16612 in the non-IOU file; PG&E 14328 in San Francisco County (6075).
        sfpuc, pge = found(await look_up(client, {"zipcode": "94107"}))

        assert set(sfpuc) == set(pge) == UTILITY_FIELDS
        assert (sfpuc["utilityId"], sfpuc["serviceAreaMatch"]) == (SFPUC, "zip")
        assert (pge["utilityId"], pge["serviceAreaMatch"]) == (PGE, "county")
        assert pge["utilityName"] == "Pacific Gas & Electric"
        assert pge["state"] == "CA"
        assert pge["timezone"] == sfpuc["timezone"] == "America/Los_Angeles"
        assert plan_ids(pge) == PGE_PLANS
        # SFPUC has no tariff in the data: one flat plan at its EIA-861 average rate.
        assert [plan["dataSource"] for plan in sfpuc["ratePlans"]] == ["eia-average"]
        assert sfpuc["ratePlansNote"] is None

    @pytest.mark.parametrize(
        ("zipcode", "expected"),
        [
            # County 36061 New York: ConEd alone.
            ("10001", [(CONED, "county")]),
            # County 17031 Cook: ComEd (ratebook) and Winnetka 20824 (one URDB plan): ComEd
            # has one plan too, so the EIA id decides.
            ("60601", [(COMED, "county"), ("20824", "county")]),
            # 78701,1015 (Austin Energy); Travis County 48453: Bluebonnet, Pedernales (an
            # EIA-average plan each), Oncor (no plan: last).
            (
                "78701",
                [
                    (AUSTIN, "zip"),
                    (BLUEBONNET, "county"),
                    (PEDERNALES, "county"),
                    (ONCOR, "county"),
                ],
            ),
            # Mecklenburg 37119: Duke 5416, Huntersville 9087, Union EMC 19435, York 21002,
            # EnergyUnited 21632 (one plan each), then Cornelius 4365, Pineville 15062 (none).
            (
                "28202",
                [
                    (DUKE, "county"),
                    ("9087", "county"),
                    ("19435", "county"),
                    ("21002", "county"),
                    ("21632", "county"),
                    ("4365", "county"),
                    ("15062", "county"),
                ],
            ),
            # 90012,11208 (LADWP, 2 plans); Los Angeles County 6037: SCE (3 plans), then Azusa
            # 1050, Burbank 2507, Glendale 7294, Pasadena 14534, Vernon 19798 (1 plan each),
            # then Industry 62107 (none).
            (
                "90012",
                [
                    (LADWP, "zip"),
                    (SCE, "county"),
                    ("1050", "county"),
                    ("2507", "county"),
                    ("7294", "county"),
                    ("14534", "county"),
                    ("19798", "county"),
                    ("62107", "county"),
                ],
            ),
        ],
        ids=["10001", "60601", "78701", "28202", "90012"],
    )
    async def test_the_issue_zips_answer_in_order(
        self, client: httpx.AsyncClient, zipcode: str, expected: list[tuple[str, str]]
    ) -> None:
        assert matches(await look_up(client, {"zipcode": zipcode})) == expected

    async def test_a_serving_utility_without_plans_is_listed_last_and_says_why(
        self, client: httpx.AsyncClient
    ) -> None:
        oncor = found(await look_up(client, {"zipcode": "78701"}))[-1]

        assert oncor["utilityId"] == ONCOR
        assert oncor["ratePlans"] == []
        assert "No tariff" in oncor["ratePlansNote"]
        assert oncor["timezone"] == "America/Chicago"

    @pytest.mark.parametrize(
        "zipcode", ["94107-1234", "94107 1234", "0094107"], ids=["dash", "space", "zeros"]
    )
    async def test_zip_forms_find_the_same_utilities(
        self, client: httpx.AsyncClient, zipcode: str
    ) -> None:
        assert utility_ids(await look_up(client, {"zipcode": zipcode})) == [SFPUC, PGE]

    async def test_a_zip_that_lost_its_leading_zero_is_read_with_it(
        self, client: httpx.AsyncClient
    ) -> None:
        # 4 digits (as a spreadsheet writes 02108, Boston) match the published pattern.
        headers = await reader_key(client)
        short = await client.post(ROUTE, json={"zipcode": "2108"}, headers=headers)
        full = await client.post(ROUTE, json={"zipcode": "02108"}, headers=headers)

        assert utility_ids(short) == utility_ids(full) != []

    async def test_a_three_digit_prefix_finds_the_utilities_of_its_zips(
        self, client: httpx.AsyncClient
    ) -> None:
        # 941xx: SFPUC (zip), and 94130,207 (Alameda Municipal Power, an EIA-average plan)
        # in the non-IOU file; PG&E (3 plans) by county. Zip matches first; SFPUC and Alameda
        # have one plan each, so the EIA id orders them.
        response = await look_up(client, {"zipcode": "941"})
        assert matches(response) == [("207", "zip"), (SFPUC, "zip"), (PGE, "county")]

    @pytest.mark.parametrize(
        ("zipcode", "why"),
        [
            ("00000", "no such ZIP"),
            ("99999-0000", "no such ZIP"),
            ("00601", "Puerto Rico: no EIA-861 rows"),
            ("96910", "Guam: no EIA-861 rows"),
            ("000", "no ZIP starts with 000"),
            ("12", "00012 is no ZIP"),
        ],
    )
    async def test_a_zip_the_sandbox_does_not_know_finds_nothing(
        self, client: httpx.AsyncClient, zipcode: str, why: str
    ) -> None:
        assert found(await look_up(client, {"zipcode": zipcode})) == [], why

    @pytest.mark.parametrize(
        "zipcode",
        ["9410A", "941071", "94107-12", "94107_1234", "", " 94107", "ABCDE", "94107-12345"],
    )
    async def test_a_zip_outside_the_published_pattern_is_refused(
        self, client: httpx.AsyncClient, zipcode: str
    ) -> None:
        envelope = assert_validation_failed(await look_up(client, {"zipcode": zipcode}), "zipcode")
        # Said in words a person reads, not as the regular expression.
        message = envelope["field_errors"][0]["message"]
        if 0 < len(zipcode) <= 10:  # longer: "at most 10 characters"; empty: a blank field
            assert message == (
                "Must be a U.S. ZIP code: 5 digits (02134), ZIP+4 (02134-1234) or a 3-digit prefix"
            )

    async def test_a_zip_that_is_a_number_is_refused(self, client: httpx.AsyncClient) -> None:
        assert_validation_failed(await look_up(client, {"zipcode": 94107}), "zipcode")


class TestLookUpByPlace:
    async def test_a_radius_finds_the_utilities_of_the_zips_within(
        self, client: httpx.AsyncClient
    ) -> None:
        # Within 1 mile of 94107's centre lie only San Francisco ZIPs (94107, 94158, ...):
        # SFPUC by zip, PG&E by county.
        body = {"lat": "37.7621", "long": "-122.3971", "radius": 1}
        response = await look_up(client, body)

        assert matches(response) == [(SFPUC, "zip"), (PGE, "county")]
        assert found(response)[1]["timezone"] == "America/Los_Angeles"

    async def test_numbers_are_accepted_as_well_as_strings(self, client: httpx.AsyncClient) -> None:
        body = {"lat": 37.7621, "long": -122.3971, "radius": "1"}
        assert utility_ids(await look_up(client, body)) == [SFPUC, PGE]

    async def test_the_default_radius_is_ten_miles(self, client: httpx.AsyncClient) -> None:
        # 10 miles from 94107 reach Treasure Island (94130: Alameda Municipal Power 207 by zip)
        # and Alameda County (6001: 207, and utilities 27000 and 60715 by county) but not
        # 1 mile: the default is wider than 1 mile.
        headers = await reader_key(client)
        point = {"lat": "37.7621", "long": "-122.3971"}
        default = await client.post(ROUTE, json=point, headers=headers)
        ten = await client.post(ROUTE, json={**point, "radius": 10}, headers=headers)

        assert utility_ids(default) == utility_ids(ten)
        assert "207" in utility_ids(default)

    async def test_a_place_far_from_any_zip_finds_nothing(self, client: httpx.AsyncClient) -> None:
        body = {"lat": "0", "long": "0", "radius": 50}
        assert found(await look_up(client, body)) == []

    @pytest.mark.parametrize(
        ("location", "fields"),
        [
            ({"lat": "north", "long": "-122.4"}, ["lat"]),
            ({"lat": "91", "long": "-122.4"}, ["lat"]),
            ({"lat": "37.7", "long": -181}, ["long"]),
            ({"lat": "37.7", "long": "-122.4", "radius": 0}, ["radius"]),
            ({"lat": "37.7", "long": "-122.4", "radius": 50.5}, ["radius"]),
            ({"lat": "37.7", "long": "-122.4", "radius": "far"}, ["radius"]),
            ({"lat": "37.7"}, ["long"]),
            ({"long": "-122.4"}, ["lat"]),
            ({"radius": 5}, ["lat", "long"]),
            ({"lat": "NaN", "long": "-122.4"}, ["lat"]),
        ],
        ids=[
            "lat-text",
            "lat-91",
            "long-181",
            "radius-0",
            "radius-over-50",
            "radius-text",
            "no-long",
            "no-lat",
            "radius-alone",
            "lat-nan-text",
        ],
    )
    async def test_a_bad_location_is_refused_naming_its_fields(
        self, client: httpx.AsyncClient, location: dict[str, Any], fields: list[str]
    ) -> None:
        assert_validation_failed(await look_up(client, location), *fields)

    async def test_a_zipcode_and_a_location_together_are_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        body = {"zipcode": "94107", "lat": "37.77", "long": "-122.42"}
        assert_validation_failed(await look_up(client, body), "lat")


class TestLookUpByUtilityId:
    @pytest.mark.parametrize(
        ("utility_id", "plans"),
        [(PGE, PGE_PLANS), (DUKE, [DUKE_RS])],
    )
    async def test_a_utility_id_finds_that_utility(
        self, client: httpx.AsyncClient, utility_id: str, plans: list[str]
    ) -> None:
        utilities = found(await look_up(client, {"utilityId": utility_id}))

        assert [utility["utilityId"] for utility in utilities] == [utility_id]
        assert plan_ids(utilities[0]) == plans
        assert utilities[0]["serviceAreaMatch"] is None

    async def test_a_utility_id_answers_the_time_zone_of_most_of_its_zips(
        self, client: httpx.AsyncClient
    ) -> None:
        (pge,) = found(await look_up(client, {"utilityId": PGE}))
        assert pge["timezone"] == "America/Los_Angeles"

    async def test_a_utility_the_catalog_cannot_bill_is_found_without_plans(
        self, client: httpx.AsyncClient
    ) -> None:
        (oncor,) = found(await look_up(client, {"utilityId": ONCOR}))

        assert oncor["utilityName"] == "Oncor Electric Delivery Company LLC"
        assert oncor["state"] == "TX"
        assert oncor["ratePlans"] == []
        assert oncor["ratePlansNote"]

    @pytest.mark.parametrize("utility_id", ["99999", "", "PG&E"])
    async def test_an_unknown_utility_id_finds_nothing(
        self, client: httpx.AsyncClient, utility_id: str
    ) -> None:
        assert found(await look_up(client, {"utilityId": utility_id})) == []

    async def test_zipcode_and_utility_id_must_both_match(self, client: httpx.AsyncClient) -> None:
        headers = await reader_key(client)

        both = await client.post(
            ROUTE, json={"zipcode": "94107", "utilityId": PGE}, headers=headers
        )
        neither = await client.post(
            ROUTE, json={"zipcode": "94107", "utilityId": SCE}, headers=headers
        )

        assert matches(both) == [(PGE, "county")]
        assert found(neither) == []

    async def test_every_rate_plan_id_is_24_lowercase_hex(self, client: httpx.AsyncClient) -> None:
        headers = await reader_key(client)
        ids: list[str] = []
        for utility_id in (PGE, SCE, DUKE):
            response = await client.post(ROUTE, json={"utilityId": utility_id}, headers=headers)
            ids.extend(plan_ids(found(response)[0]))

        assert SCE_TOU_D in ids
        assert len(ids) == 7  # PG&E 3, SCE 3, Duke 1
        for plan_id in ids:
            assert RATE_PLAN_ID.fullmatch(plan_id), plan_id


class TestDetailLevel:
    async def test_minimal_gives_only_what_is_needed_to_choose_a_plan(
        self, client: httpx.AsyncClient
    ) -> None:
        body = {"utilityId": PGE, "detailLevel": "minimal"}
        utilities = found(await look_up(client, body))

        assert utilities[0]["ratePlans"][:2] == [
            {
                "id": E_1,
                "rateID": "pge-e-1",
                "ratePlanName": "E-1 Residential Service (Baseline Region P)",
                "supportedType": "tiered",
            },
            {
                "id": E_TOU_C,
                "rateID": "pge-e-tou-c",
                "ratePlanName": "E-TOU-C Residential Time of Use (Baseline Region P)",
                "supportedType": "tou",
            },
        ]

    @pytest.mark.parametrize("body", [{}, {"detailLevel": "full"}], ids=["default", "full"])
    async def test_full_is_the_default_and_gives_the_whole_tariff(
        self, client: httpx.AsyncClient, body: dict[str, Any]
    ) -> None:
        utilities = found(await look_up(client, {"utilityId": PGE, **body}))

        e_1, e_tou_c = utilities[0]["ratePlans"][:2]
        assert set(e_tou_c) == MINIMAL_PLAN_FIELDS | TARIFF_FIELDS
        assert set(e_1) == MINIMAL_PLAN_FIELDS | TARIFF_FIELDS
        # ratebook pge-e-tou-c: $0.79343/day customer charge; summer (June-September) peak
        # 4-9 p.m. at 0.441 $/kWh up to the 13.5 kWh/day baseline, 0.5224 above it.
        assert e_tou_c["dataSource"] == "ratebook"
        assert e_tou_c["effectiveDate"] == "2026-06-01"
        assert e_tou_c["fixedCharges"] == [
            {"name": "Fixed customer charge", "amount": 0.79343, "per": "day"}
        ]
        assert e_tou_c["tierUnit"] == "day"
        assert e_tou_c["seasons"] == {"summer": [6, 7, 8, 9], "winter": [1, 2, 3, 4, 5, 10, 11, 12]}
        assert e_tou_c["periods"][0] == {
            "name": "summer peak",
            "tiers": [
                {"price": 0.441, "maxKwh": 13.5, "sell": None},
                {"price": 0.5224, "maxKwh": None, "sell": None},
            ],
        }
        assert e_tou_c["weekdaySchedule"][6] == "111111111111111100000111"  # July: 16-20 peak
        assert e_tou_c["exportCredit"] == {"type": "none", "pricePerKwh": None}
        assert e_tou_c["sources"]
        assert e_tou_c["stale"] is False
        assert e_1["periods"][0]["tiers"][0]["price"] == 0.32561

    async def test_an_unknown_detail_level_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await look_up(client, {"zipcode": "94107", "detailLevel": "medium"})
        assert_validation_failed(response, "detailLevel")


class TestPaging:
    async def test_pages_split_the_ordered_answer(self, client: httpx.AsyncClient) -> None:
        headers = await reader_key(client)

        async def page(size: int, number: int) -> list[str]:
            body = {"zipcode": "90012", "pageSize": size, "pageNumber": number}
            return utility_ids(await client.post(ROUTE, json=body, headers=headers))

        everything = await page(100, 1)
        assert len(everything) == 8
        assert await page(3, 1) == everything[:3]
        assert await page(3, 2) == everything[3:6]
        assert await page(3, 3) == everything[6:]
        assert await page(3, 4) == []
        assert await page(20, 1_000_000) == []

    @pytest.mark.parametrize("page_size", [1, 100])
    async def test_page_sizes_from_1_to_100_are_accepted(
        self, client: httpx.AsyncClient, page_size: int
    ) -> None:
        response = await look_up(client, {"zipcode": "94107", "pageSize": page_size})
        assert utility_ids(response) == [SFPUC, PGE][:page_size]

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
        # E-1 is effective from 2026-03-01, E-TOU-C and EV2-A from 2026-06-01.
        headers = await reader_key(client)

        async def plans_on(seconds: int) -> list[str]:
            body = {"utilityId": PGE, "effectiveOnDate": seconds}
            response = await client.post(ROUTE, json=body, headers=headers)
            return plan_ids(found(response)[0])

        assert await plans_on(seconds_at(2026, 2, 28)) == []
        assert await plans_on(seconds_at(2026, 3, 1)) == [E_1]
        assert await plans_on(seconds_at(2026, 5, 31, second=59)) == [E_1]
        assert await plans_on(seconds_at(2026, 6, 1)) == PGE_PLANS

    @pytest.mark.parametrize("value", [-1, "2026-06-01", 1.5])
    async def test_a_value_that_is_not_a_count_of_seconds_is_refused(
        self, client: httpx.AsyncClient, value: object
    ) -> None:
        response = await look_up(client, {"zipcode": "94107", "effectiveOnDate": value})
        assert_validation_failed(response, "effectiveOnDate")


class TestSolarPrioritizedOrder:
    async def test_solar_order_puts_plans_crediting_exports_first(
        self, client: httpx.AsyncClient
    ) -> None:
        # DTE's catalog order is D1 (no export credit), D1.2 (retail credit).
        headers = await reader_key(client)

        async def plans(flag: bool | None) -> list[str]:
            body: dict[str, Any] = {"utilityId": DTE}
            if flag is not None:
                body["isSolarPrioritizedOrder"] = flag
            return plan_ids(found(await client.post(ROUTE, json=body, headers=headers))[0])

        assert await plans(None) == [DTE_D1, DTE_D1_2]
        assert await plans(False) == [DTE_D1, DTE_D1_2]
        assert await plans(True) == [DTE_D1_2, DTE_D1]

    async def test_solar_order_keeps_ties_in_catalog_order(self, client: httpx.AsyncClient) -> None:
        # PG&E: E-1 retail, then E-TOU-C and EV2-A both without export credit.
        body = {"utilityId": PGE, "isSolarPrioritizedOrder": True}
        assert plan_ids(found(await look_up(client, body))[0]) == PGE_PLANS

    async def test_a_flag_that_is_not_a_boolean_is_refused(self, client: httpx.AsyncClient) -> None:
        response = await look_up(client, {"zipcode": "94107", "isSolarPrioritizedOrder": "yes"})
        assert_validation_failed(response, "isSolarPrioritizedOrder")


class TestRefusedQueries:
    @pytest.mark.parametrize(
        "body", [{}, {"detailLevel": "minimal"}, {"zipcode": None, "utilityId": None}]
    )
    async def test_neither_zipcode_nor_utility_id_nor_place_is_refused(
        self, client: httpx.AsyncClient, body: dict[str, Any]
    ) -> None:
        envelope = assert_validation_failed(await look_up(client, body), "zipcode")
        assert "utilityId" in envelope["field_errors"][0]["message"]
        assert "lat" in envelope["field_errors"][0]["message"]

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
