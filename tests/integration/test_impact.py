"""Bill impacts through HTTP: a home's (`/v1/homes/{id}/calculate/impact`), a rate plan's at a ZIP
code (`/v1/calculate/impact`), and the inline-home period bill (`/v1/homes/bill/period`).

Hand-computed expectations use Duke Energy Carolinas' RS (Residential Service), a flat plan:
energy $0.122603 + rider adjustments $0.017806 = $0.140409 per kWh, and two fixed charges of
$14.00 and $1.37 a month ($15.37), net metered (source: Duke Energy's NC Schedule RS rate sheet,
https://www.duke-energy.com/-/media/pdfs/for-your-home/rates/electric-nc/ncschedulers.pdf, as
carried by the ratebook file duke-carolinas-rs.json, URDB label 6998c205a746c90e550cb23f).
Duke Energy Carolinas (EIA 5416) serves Charlotte, NC 28202 (Mecklenburg County).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agentkeys.credentials.scopes import Scope
from agentkeys.sandbox.bills import service as bill_service
from agentkeys.sandbox.impact import profiles
from agentkeys.sandbox.tariffs.engine import compute_bill
from tests.support.assertions import assert_envelope, assert_validation_failed
from tests.support.catalog import DUKE, DUKE_RS, E_TOU_C, NO_SUCH_HOME, PGE, UNKNOWN_PLAN
from tests.support.factories import create_home, key_with
from tests.support.waiting import on_an_event_loop

CHARLOTTE = "28202"
SAN_FRANCISCO = "94107"  # PG&E's, not Duke's
DUKE_PRICE = 0.140409  # $/kWh: 0.122603 + 0.017806
DUKE_FIXED = 15.37  # $/month: 14.00 + 1.37
HOME_IMPACT = "/v1/homes/{id}/calculate/impact"
IMPACT = "/v1/calculate/impact"
INLINE_BILL = "/v1/homes/bill/period"
EVERSOURCE_CT_TOU = "6969389492370159da017a0d"
MARCH = {"startDate": "2026-03-01", "endDate": "2026-04-01"}  # 31 days


def days_of(count: int, kwh: float) -> list[list[float]]:
    return [[kwh] * 96 for _ in range(count)]


def shifted_days(count: int, kwh: float) -> list[list[float]]:
    """The same daily kWh as ``days_of(count, kwh)``, all of it in the first half of the day."""
    return [[2 * kwh] * 48 + [0.0] * 48 for _ in range(count)]


def home_impact(home_id: str) -> str:
    return HOME_IMPACT.replace("{id}", home_id)


async def duke_home(client: httpx.AsyncClient, *scopes: str) -> tuple[str, dict[str, str]]:
    headers = await key_with(client, *(scopes or ("homes", "calculate")))
    home = await create_home(client, headers, plan=DUKE_RS, zipcode=CHARLOTTE)
    return str(home["id"]), headers


def impact_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def plan_body(**changes: Any) -> dict[str, Any]:
    return {"ratePlanId": DUKE_RS, "zipcode": CHARLOTTE, **MARCH, **changes}


class TestHomeImpact:
    async def test_a_reduced_load_answers_both_hand_computed_bills_and_the_savings(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, headers = await duke_home(client)
        body = {**MARCH, "usage": days_of(31, 0.5), "modifiedUsage": days_of(31, 0.25)}

        answer = impact_of(await client.post(home_impact(home_id), json=body, headers=headers))

        # Baseline: 31 days x 96 x 0.5 = 1,488 kWh x $0.140409 = $208.928592 -> $208.93;
        # + $15.37 fixed (a whole month) = $224.30.
        # Modified: 744 kWh x $0.140409 = $104.464296 -> $104.46; + $15.37 = $119.83.
        baseline, modified = answer["baseline"], answer["modified"]
        assert baseline["importKwh"] == pytest.approx(1488)
        assert baseline["breakdown"]["energyCharges"] == 208.93
        assert baseline["breakdown"]["fixedCharges"] == DUKE_FIXED
        assert baseline["billTotal"] == 224.30
        assert modified["importKwh"] == pytest.approx(744)
        assert modified["breakdown"]["energyCharges"] == 104.46
        assert modified["billTotal"] == 119.83
        # Difference = modified - baseline: 119.83 - 224.30 = -104.47, all of it energy.
        assert answer["difference"]["billTotal"] == -104.47
        assert answer["difference"]["energyCharges"] == -104.47
        assert answer["difference"]["fixedCharges"] == 0
        assert answer["difference"]["exportCredit"] == 0
        assert answer["difference"]["minimumCharges"] == 0
        assert answer["difference"]["importKwh"] == pytest.approx(-744)
        assert answer["savings"] == 104.47
        assert (answer["startDate"], answer["endDate"], answer["days"]) == (
            "2026-03-01",
            "2026-04-01",
            31,
        )
        assert answer["ratePlanId"] == DUKE_RS
        assert answer["assumptions"]["baseline"] == "sent"
        assert answer["assumptions"]["modified"] == "sent"

    async def test_the_baseline_is_the_period_bill_of_the_same_body(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, headers = await duke_home(client)
        usage = days_of(31, 0.5)
        body = {**MARCH, "usage": usage, "modifiedUsage": days_of(31, 0.25)}

        answer = impact_of(await client.post(home_impact(home_id), json=body, headers=headers))
        bill = await client.post(
            f"/v1/homes/{home_id}/bill/period", json={**MARCH, "usage": usage}, headers=headers
        )

        assert bill.status_code == 200, bill.text
        assert answer["baseline"] == bill.json()

    async def test_shifting_load_in_time_changes_nothing_on_a_flat_plan(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, headers = await duke_home(client)
        body = {**MARCH, "usage": days_of(31, 0.5), "modifiedUsage": shifted_days(31, 0.5)}

        answer = impact_of(await client.post(home_impact(home_id), json=body, headers=headers))

        # Every kWh costs $0.140409 at any hour: the same 1,488 kWh, the same $224.30.
        assert answer["modified"]["billTotal"] == answer["baseline"]["billTotal"] == 224.30
        assert answer["difference"]["billTotal"] == 0
        assert answer["savings"] == 0

    async def test_shifting_peak_load_off_peak_saves_the_price_gap_on_a_tou_plan(
        self, client: httpx.AsyncClient
    ) -> None:
        # Eversource (Connecticut) Rate 7 (URDB 6969389492370159da017a0d; rate sheet
        # https://www.eversource.com/docs/default-source/rates-tariffs/ct-electric/rate-7-ct.pdf
        # via the ratebook file eversource-ct-rate-7-tou.json): weekdays 12:00-20:00 peak at
        # 0.05513 + 0.24469 = $0.29982/kWh, every other hour off-peak at 0.05513 + 0.15241 =
        # $0.20754/kWh, all year; no holidays. Hartford, CT 06103 is in its territory.
        headers = await key_with(client, "homes", "calculate")
        home = await create_home(client, headers, plan=EVERSOURCE_CT_TOU, zipcode="06103")
        week = {"startDate": "2026-03-02", "endDate": "2026-03-07"}  # Monday to Friday
        peak = [[0.0] * 48 + [1.0] * 32 + [0.0] * 16 for _ in range(5)]  # 12:00-20:00
        night = [[1.0] * 32 + [0.0] * 64 for _ in range(5)]  # 00:00-08:00

        answer = impact_of(
            await client.post(
                home_impact(home["id"]),
                json={**week, "usage": peak, "modifiedUsage": night},
                headers=headers,
            )
        )

        # 5 days x 32 kWh = 160 kWh: at peak 160 x 0.29982 = $47.9712 -> $47.97; off-peak
        # 160 x 0.20754 = $33.2064 -> $33.21. The fixed charge is the same in both.
        assert answer["baseline"]["breakdown"]["energyCharges"] == 47.97
        assert answer["modified"]["breakdown"]["energyCharges"] == 33.21
        # 33.21 - 47.97 = -14.76.
        assert answer["difference"]["energyCharges"] == -14.76
        assert answer["difference"]["fixedCharges"] == 0
        assert answer["difference"]["billTotal"] == -14.76
        assert answer["savings"] == 14.76

    async def test_a_modified_export_is_credited_in_the_modified_bill_only(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, headers = await duke_home(client)
        body = {
            **MARCH,
            "usage": days_of(31, 0.5),
            "modifiedUsage": days_of(31, 0.5),
            "modifiedExport": days_of(31, 0.1),
        }

        answer = impact_of(await client.post(home_impact(home_id), json=body, headers=headers))

        # Net metering credits exports at the retail price: 31 x 96 x 0.1 = 297.6 kWh x
        # $0.140409 = $41.7857... -> a credit of $41.79; the total drops by as much.
        assert answer["baseline"]["breakdown"]["exportCredit"] == 0
        assert answer["modified"]["breakdown"]["exportCredit"] == -41.79
        assert answer["difference"]["exportCredit"] == -41.79
        assert answer["difference"]["billTotal"] == -41.79
        assert answer["savings"] == 41.79

    async def test_modified_usage_with_another_day_count_is_refused_naming_it(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, headers = await duke_home(client)
        body = {**MARCH, "usage": days_of(31, 0.5), "modifiedUsage": days_of(30, 0.5)}

        envelope = assert_validation_failed(
            await client.post(home_impact(home_id), json=body, headers=headers), "modifiedUsage"
        )
        assert "31 days" in envelope["field_errors"][0]["message"]

    async def test_usage_with_another_day_count_is_refused_naming_usage(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, headers = await duke_home(client)
        body = {**MARCH, "usage": days_of(30, 0.5), "modifiedUsage": days_of(31, 0.5)}

        assert_validation_failed(
            await client.post(home_impact(home_id), json=body, headers=headers), "usage"
        )

    async def test_modified_export_with_another_day_count_is_refused_naming_it(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, headers = await duke_home(client)
        body = {
            **MARCH,
            "usage": days_of(31, 0.5),
            "modifiedUsage": days_of(31, 0.5),
            "modifiedExport": days_of(2, 0.1),
        }

        assert_validation_failed(
            await client.post(home_impact(home_id), json=body, headers=headers), "modifiedExport"
        )

    async def test_a_missing_modified_usage_is_refused_naming_it(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, headers = await duke_home(client)
        body = {**MARCH, "usage": days_of(31, 0.5)}

        assert_validation_failed(
            await client.post(home_impact(home_id), json=body, headers=headers), "modifiedUsage"
        )

    async def test_a_bad_modified_value_is_named_by_day_and_interval(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, headers = await duke_home(client)
        modified: list[list[Any]] = days_of(31, 0.5)
        modified[3][17] = -1

        assert_validation_failed(
            await client.post(
                home_impact(home_id),
                json={**MARCH, "usage": days_of(31, 0.5), "modifiedUsage": modified},
                headers=headers,
            ),
            "modifiedUsage[3][17]",
        )

    async def test_another_credentials_home_is_404(self, client: httpx.AsyncClient) -> None:
        home_id, _ = await duke_home(client)
        theirs = await key_with(client, "homes", "calculate", organization="Other Energy Co")
        body = {**MARCH, "usage": days_of(31, 0.5), "modifiedUsage": days_of(31, 0.25)}

        response = await client.post(home_impact(home_id), json=body, headers=theirs)

        assert_envelope(response, status=404, code="NOT_FOUND")

    async def test_an_unknown_home_is_404(self, client: httpx.AsyncClient) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        body = {**MARCH, "usage": days_of(31, 0.5), "modifiedUsage": days_of(31, 0.25)}

        response = await client.post(home_impact(NO_SUCH_HOME), json=body, headers=headers)

        assert_envelope(response, status=404, code="NOT_FOUND")


class TestImpactWithoutAHome:
    async def test_sent_loads_are_billed_like_the_homes(self, client: httpx.AsyncClient) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        body = plan_body(usage=days_of(31, 0.5), modifiedUsage=days_of(31, 0.25))

        answer = impact_of(await client.post(IMPACT, json=body, headers=headers))

        # As the home's: $224.30 and $119.83 (see TestHomeImpact).
        assert answer["baseline"]["billTotal"] == 224.30
        assert answer["modified"]["billTotal"] == 119.83
        assert answer["savings"] == 104.47
        assert answer["ratePlanId"] == DUKE_RS

    async def test_the_default_usage_is_the_typical_homes_march_load(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        body = plan_body(useDefaultUsage=True, modifiedUsage=days_of(31, 0.25))

        answer = impact_of(await client.post(IMPACT, json=body, headers=headers))

        # The battery estimate's typical home uses 26.5 kWh a day in March (battery/load.py,
        # EIA's 10,791 kWh a year shaped by month): 31 x 26.5 = 821.5 kWh x $0.140409 =
        # $115.3459935 -> $115.35; + $15.37 = $130.72.
        baseline = answer["baseline"]
        assert baseline["importKwh"] == pytest.approx(821.5)
        assert baseline["breakdown"]["energyCharges"] == 115.35
        assert baseline["billTotal"] == 130.72
        # Modified: $119.83 as above; 119.83 - 130.72 = -10.89.
        assert answer["modified"]["billTotal"] == 119.83
        assert answer["difference"]["billTotal"] == -10.89
        assert answer["savings"] == 10.89
        assert answer["assumptions"]["baseline"] == "typical-home"
        assert answer["assumptions"]["modified"] == "sent"
        assert any("10,791" in note for note in answer["assumptions"]["notes"])

    async def test_solar_without_a_modified_load_answers_what_the_solar_saves(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        body = plan_body(useDefaultUsage=True, solarCapacityKw=5)

        answer = impact_of(await client.post(IMPACT, json=body, headers=headers))

        baseline, modified = answer["baseline"], answer["modified"]
        assert baseline["billTotal"] == 130.72  # the typical home, without solar (see above)
        # Netted per quarter-hour, every kWh the panels make either replaces an import or is
        # exported: imports fall, and the plan credits the exports.
        assert modified["importKwh"] < baseline["importKwh"]
        assert modified["exportKwh"] > 0
        assert modified["importKwh"] - modified["exportKwh"] < baseline["importKwh"]
        assert modified["billTotal"] < baseline["billTotal"]
        assert answer["savings"] == round(baseline["billTotal"] - modified["billTotal"], 2)
        assert answer["savings"] == -answer["difference"]["billTotal"]
        assert answer["assumptions"]["modified"] == "baseline-with-solar"
        assert answer["assumptions"]["solarCapacityKw"] == 5
        assert any("28202" in note and "pvlib" in note for note in answer["assumptions"]["notes"])

    async def test_a_plan_crediting_no_exports_says_so(self, client: httpx.AsyncClient) -> None:
        # E-TOU-C's ratebook file says metering "none": 5 kW of solar in July exports kWh that
        # earn nothing, and the answer must say so rather than look like a small saving.
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        body = {
            "ratePlanId": E_TOU_C,
            "zipcode": SAN_FRANCISCO,
            "startDate": "2026-07-01",
            "endDate": "2026-08-01",
            "useDefaultUsage": True,
            "solarCapacityKw": 5,
        }

        answer = impact_of(await client.post(IMPACT, json=body, headers=headers))

        assert answer["modified"]["exportKwh"] > 0
        assert answer["modified"]["breakdown"]["exportCredit"] == 0
        notes = [note for note in answer["assumptions"]["notes"] if "credits no exports" in note]
        assert len(notes) == 1
        assert E_TOU_C in notes[0]

    async def test_a_plan_crediting_exports_has_no_such_note(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)

        answer = impact_of(
            await client.post(
                IMPACT, json=plan_body(useDefaultUsage=True, solarCapacityKw=5), headers=headers
            )
        )

        assert answer["modified"]["breakdown"]["exportCredit"] < 0
        assert not any("credits no exports" in note for note in answer["assumptions"]["notes"])

    async def test_zero_kw_of_solar_changes_nothing(self, client: httpx.AsyncClient) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        body = plan_body(usage=days_of(31, 0.5), solarCapacityKw=0)

        answer = impact_of(await client.post(IMPACT, json=body, headers=headers))

        assert answer["baseline"]["billTotal"] == answer["modified"]["billTotal"] == 224.30
        assert answer["savings"] == 0

    async def test_solar_at_night_only_changes_nothing(self, client: httpx.AsyncClient) -> None:
        """Load only from 22:00 to 02:00: the panels' output is all exported, none netted."""
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        night = [[0.5] * 8 + [0.0] * 80 + [0.5] * 8 for _ in range(31)]
        body = plan_body(usage=night, solarCapacityKw=5)

        answer = impact_of(await client.post(IMPACT, json=body, headers=headers))

        # 31 x 16 x 0.5 = 248 kWh imported with or without the panels.
        assert answer["baseline"]["importKwh"] == pytest.approx(248)
        assert answer["modified"]["importKwh"] == pytest.approx(248)
        assert answer["modified"]["exportKwh"] > 0

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"modifiedUsage": days_of(31, 0.25)}, "usage"),
            (
                {"useDefaultUsage": True, "usage": days_of(31, 0.5), "solarCapacityKw": 5},
                "usage",
            ),
            ({"useDefaultUsage": True, "export": days_of(31, 0.1), "solarCapacityKw": 5}, "export"),
            ({"usage": days_of(31, 0.5)}, "modifiedUsage"),
            (
                {
                    "usage": days_of(31, 0.5),
                    "modifiedUsage": days_of(31, 0.5),
                    "solarCapacityKw": 5,
                },
                "solarCapacityKw",
            ),
            ({"usage": days_of(30, 0.5), "modifiedUsage": days_of(31, 0.5)}, "usage"),
            ({"usage": days_of(31, 0.5), "modifiedUsage": days_of(30, 0.5)}, "modifiedUsage"),
            ({"useDefaultUsage": True, "modifiedUsage": days_of(30, 0.5)}, "modifiedUsage"),
            (
                {"usage": days_of(31, 0.5), "solarCapacityKw": 5, "modifiedExport": days_of(31, 0)},
                "modifiedExport",
            ),
            ({"useDefaultUsage": True, "solarCapacityKw": -1}, "solarCapacityKw"),
            ({"useDefaultUsage": True, "solarCapacityKw": 5, "endDate": "2026-03-01"}, "endDate"),
        ],
        ids=[
            "no-baseline",
            "usage-beside-default-usage",
            "export-beside-default-usage",
            "nothing-to-compare",
            "modified-usage-beside-solar",
            "usage-day-count",
            "modified-usage-day-count",
            "modified-usage-day-count-with-default-usage",
            "modified-export-without-modified-usage",
            "negative-solar",
            "empty-period",
        ],
    )
    async def test_an_incoherent_body_is_refused_naming_the_field(
        self, client: httpx.AsyncClient, changes: dict[str, Any], field: str
    ) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)

        response = await client.post(IMPACT, json=plan_body(**changes), headers=headers)

        assert_validation_failed(response, field)

    async def test_an_unknown_rate_plan_is_refused_naming_it(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        body = plan_body(ratePlanId=UNKNOWN_PLAN, useDefaultUsage=True, solarCapacityKw=5)

        assert_validation_failed(
            await client.post(IMPACT, json=body, headers=headers), "ratePlanId"
        )

    async def test_a_zip_code_the_plans_utility_does_not_serve_is_refused_naming_it(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        body = plan_body(zipcode=SAN_FRANCISCO, useDefaultUsage=True, solarCapacityKw=5)

        envelope = assert_validation_failed(
            await client.post(IMPACT, json=body, headers=headers), "zipcode"
        )
        message = envelope["field_errors"][0]["message"]
        assert DUKE in message
        assert PGE in message  # the utilities that do serve it are offered

    async def test_a_string_that_is_no_us_zip_code_is_refused_naming_it(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        body = plan_body(zipcode="00000", useDefaultUsage=True, solarCapacityKw=5)

        assert_validation_failed(await client.post(IMPACT, json=body, headers=headers), "zipcode")


class TestInlineHomePeriodBill:
    async def test_a_month_answers_the_hand_computed_bill_and_stores_no_home(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await key_with(client, "homes", "calculate")
        body = {
            "home": {
                "ratePlanId": DUKE_RS,
                "zipcode": CHARLOTTE,
                "name": "My home",
                "utilityId": DUKE,
                "solarCapacityKw": 5,
            },
            **MARCH,
            "usage": days_of(31, 0.5),
        }

        response = await client.post(INLINE_BILL, json=body, headers=headers)

        assert response.status_code == 200, response.text
        bill = response.json()
        # 1,488 kWh x $0.140409 = $208.93; + $15.37 = $224.30 (see TestHomeImpact).
        assert bill["billTotal"] == bill["totalBill"] == 224.30
        assert bill["breakdown"]["energyCharges"] == 208.93
        assert bill["ratePlanId"] == DUKE_RS
        assert (bill["startDate"], bill["endDate"], bill["days"]) == (
            "2026-03-01",
            "2026-04-01",
            31,
        )
        homes = await client.post("/v1/homes/list", json={}, headers=headers)
        assert homes.json() == []

    async def test_a_zip_code_that_lost_its_leading_zero_is_read_with_it(
        self, client: httpx.AsyncClient
    ) -> None:
        # Boston 02108 (Suffolk County) is served by Massachusetts Electric (National Grid),
        # whose R-1 plan is 67cf32f6ef8f02942e0586bd; "2108" is how a spreadsheet writes it.
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        totals = []
        for zipcode in ("2108", "02108"):
            body = {
                "home": {"ratePlanId": "67cf32f6ef8f02942e0586bd", "zipcode": zipcode},
                **MARCH,
                "usage": days_of(31, 0.5),
            }
            response = await client.post(INLINE_BILL, json=body, headers=headers)
            assert response.status_code == 200, response.text
            totals.append(response.json()["billTotal"])

        assert totals[0] == totals[1]

    @pytest.mark.parametrize(
        ("home", "field"),
        [
            ({"ratePlanId": UNKNOWN_PLAN, "zipcode": CHARLOTTE}, "home.ratePlanId"),
            ({"ratePlanId": DUKE_RS, "zipcode": SAN_FRANCISCO}, "home.zipcode"),
            ({"ratePlanId": DUKE_RS, "zipcode": "00000"}, "home.zipcode"),
            ({"ratePlanId": DUKE_RS, "zipcode": "282"}, "home.zipcode"),
            ({"ratePlanId": DUKE_RS, "zipcode": CHARLOTTE, "utilityId": PGE}, "home.utilityId"),
            ({"zipcode": CHARLOTTE}, "home.ratePlanId"),
            ({"ratePlanId": DUKE_RS}, "home.zipcode"),
        ],
        ids=[
            "unknown-plan",
            "zip-not-served",
            "not-a-zip",
            "a-zip-prefix",
            "another-utility",
            "no-plan",
            "no-zip",
        ],
    )
    async def test_a_home_that_cannot_be_billed_is_refused_naming_the_field(
        self, client: httpx.AsyncClient, home: dict[str, Any], field: str
    ) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        body = {"home": home, **MARCH, "usage": days_of(31, 0.5)}

        assert_validation_failed(await client.post(INLINE_BILL, json=body, headers=headers), field)

    async def test_a_missing_home_is_refused_naming_it(self, client: httpx.AsyncClient) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)

        response = await client.post(
            INLINE_BILL, json={**MARCH, "usage": days_of(31, 0.5)}, headers=headers
        )

        assert_validation_failed(response, "home")

    async def test_usage_with_another_day_count_is_refused_naming_usage(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        body = {
            "home": {"ratePlanId": DUKE_RS, "zipcode": CHARLOTTE},
            **MARCH,
            "usage": days_of(30, 0.5),
        }

        assert_validation_failed(
            await client.post(INLINE_BILL, json=body, headers=headers), "usage"
        )


class TestScopes:
    async def test_every_route_needs_bill_impact_read(self, client: httpx.AsyncClient) -> None:
        home_id, headers = await duke_home(client, "homes", Scope.BATTERY_ESTIMATE)
        routes = [
            (
                home_impact(home_id),
                {**MARCH, "usage": days_of(31, 0.5), "modifiedUsage": days_of(31, 0.25)},
            ),
            (IMPACT, plan_body(useDefaultUsage=True, solarCapacityKw=5)),
            (
                INLINE_BILL,
                {
                    "home": {"ratePlanId": DUKE_RS, "zipcode": CHARLOTTE},
                    **MARCH,
                    "usage": days_of(31, 0.5),
                },
            ),
        ]

        for route, body in routes:
            response = await client.post(route, json=body, headers=headers)
            envelope = assert_envelope(response, status=403, code="AUTH_INSUFFICIENT_SCOPE")
            assert "bill_impact:read" in envelope["message"]

    async def test_the_coarse_calculate_scope_grants_them(self, client: httpx.AsyncClient) -> None:
        headers = await key_with(client, "calculate")

        response = await client.post(
            IMPACT, json=plan_body(useDefaultUsage=True, solarCapacityKw=0), headers=headers
        )

        assert response.status_code == 200, response.text

    async def test_requests_without_a_key_are_refused_with_401(
        self, client: httpx.AsyncClient
    ) -> None:
        for route in (home_impact(NO_SUCH_HOME), IMPACT, INLINE_BILL):
            response = await client.post(route, json={})
            assert_envelope(response, status=401, code="AUTH_MISSING_API_KEY")


class TestOffTheEventLoop:
    async def test_both_impact_routes_bill_in_a_worker_thread(
        self, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        on_loop: list[bool] = []

        def recording(*args: Any, **kwargs: Any) -> Any:
            on_loop.append(on_an_event_loop())
            return compute_bill(*args, **kwargs)

        monkeypatch.setattr(profiles, "compute_bill", recording)
        home_id, headers = await duke_home(client)
        answers = [
            await client.post(
                home_impact(home_id),
                json={**MARCH, "usage": days_of(31, 0.5), "modifiedUsage": days_of(31, 0.25)},
                headers=headers,
            ),
            await client.post(
                IMPACT, json=plan_body(useDefaultUsage=True, solarCapacityKw=5), headers=headers
            ),
        ]

        assert [answer.status_code for answer in answers] == [200, 200]
        assert on_loop == [False] * 4  # baseline and modified of each

    async def test_the_inline_home_bill_is_computed_in_a_worker_thread(
        self, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        on_loop: list[bool] = []

        def recording(*args: Any, **kwargs: Any) -> Any:
            on_loop.append(on_an_event_loop())
            return compute_bill(*args, **kwargs)

        monkeypatch.setattr(bill_service, "compute_bill", recording)
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        body = {
            "home": {"ratePlanId": DUKE_RS, "zipcode": CHARLOTTE},
            **MARCH,
            "usage": days_of(31, 0.5),
        }

        response = await client.post(INLINE_BILL, json=body, headers=headers)

        assert response.status_code == 200, response.text
        assert on_loop == [False]


class TestOpenApi:
    async def test_the_routes_are_described_with_their_bodies(
        self, client: httpx.AsyncClient
    ) -> None:
        document = (await client.get("/openapi.json")).json()
        schemas = document["components"]["schemas"]

        for path, body in (
            (HOME_IMPACT, "HomeImpactRequestDto"),
            (IMPACT, "ImpactRequestDto"),
            (INLINE_BILL, "PeriodBillWithHomeRequestDto"),
        ):
            operation = document["paths"][path]["post"]
            assert operation["summary"]
            assert len(operation["description"]) > 100
            reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert reference.endswith(body)
        impact = schemas["ImpactResponseDto"]["properties"]
        assert {"baseline", "modified", "difference", "savings", "assumptions"} <= set(impact)
        assert "positive when" in impact["savings"]["description"]
        home_body = schemas["HomeImpactRequestDto"]
        assert {"usage", "startDate", "endDate", "modifiedUsage"} <= set(home_body["required"])
        assert set(schemas["InlineHomeDto"]["required"]) == {"ratePlanId", "zipcode"}
