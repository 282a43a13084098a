"""Bills through HTTP: monthly, period, rate-plan quote; usage shape rules; scopes (CONTRACT §7)."""

from __future__ import annotations

import calendar
import json
import random
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest

from agentkeys.credentials.scopes import Scope
from agentkeys.sandbox.bills import service as bill_service
from agentkeys.sandbox.tariffs.catalog import load_catalog
from agentkeys.sandbox.tariffs.engine import compute_bill
from agentkeys.sandbox.tariffs.model import RatePlan
from tests.support.assertions import assert_envelope, assert_validation_failed
from tests.support.catalog import (
    DUKE_RS,
    E_1,
    E_TOU_C,
    LEGACY_IDS,
    NO_SUCH_HOME,
    SCE_TOU_D,
    UNKNOWN_PLAN,
)
from tests.support.factories import create_home, key_with, new_home
from tests.support.waiting import on_an_event_loop

LINE_FIELDS = {"kind", "description", "season", "period", "tier", "kwh", "rate", "amount"}


def monthly(home_id: str) -> str:
    return f"/v1/homes/{home_id}/bill/monthly"


def period(home_id: str) -> str:
    return f"/v1/homes/{home_id}/bill/period"


def quote(rate_plan_id: str) -> str:
    return f"/v1/homes/bill/period/rateplan/{rate_plan_id}"


def days_of(count: int, kwh: float = 0.5) -> list[list[float]]:
    return [[kwh] * 96 for _ in range(count)]


def irregular_days(count: int, *, seed: str, high: float = 1.2) -> list[list[float]]:
    draw = random.Random(seed)
    return [[round(draw.uniform(0, high), 3) for _ in range(96)] for _ in range(count)]


def catalog_plan(rate_plan_id: str) -> RatePlan:
    found = load_catalog().plan(rate_plan_id)
    assert found is not None
    return found[1]


def month_body(year: int, month: int, **changes: Any) -> dict[str, Any]:
    """A monthly body with one 0.5 kWh/slot day per day of the month."""
    days = calendar.monthrange(year, month)[1]
    return {"month": month, "year": year, "usage": days_of(days), **changes}


def period_body(start: str, end: str, days: int, **changes: Any) -> dict[str, Any]:
    return {"startDate": start, "endDate": end, "usage": days_of(days), **changes}


async def billing_key(client: httpx.AsyncClient) -> dict[str, str]:
    return await key_with(client, "homes", "calculate")


def bill_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    bill: dict[str, Any] = response.json()
    assert bill["billTotal"] == bill["totalBill"]
    assert bill["currency"] == "USD"
    for line in bill["breakdown"]["lines"]:
        assert set(line) == LINE_FIELDS, line
    return bill


def assert_equals_engine(
    bill: dict[str, Any],
    rate_plan_id: str,
    *,
    start: date,
    usage: list[list[float]],
    export: list[list[float]] | None = None,
) -> None:
    """The answer carries exactly the engine's bill for the same input."""
    expected = compute_bill(catalog_plan(rate_plan_id), start=start, usage=usage, export=export)
    assert bill["billTotal"] == expected.total
    assert bill["startDate"] == expected.start.isoformat()
    assert bill["endDate"] == expected.end.isoformat()
    assert bill["days"] == expected.days
    assert bill["ratePlanId"] == rate_plan_id
    assert bill["importKwh"] == pytest.approx(expected.import_kwh)
    assert bill["exportKwh"] == pytest.approx(expected.export_kwh)
    breakdown = bill["breakdown"]
    assert breakdown["fixedCharges"] == expected.fixed_charges
    assert breakdown["energyCharges"] == expected.energy_charges
    assert breakdown["exportCredit"] == expected.export_credit
    assert breakdown["minimumCharges"] == expected.minimum_charges
    assert [
        (line["kind"], line["season"], line["period"], line["tier"], line["rate"], line["amount"])
        for line in breakdown["lines"]
    ] == [
        (line.kind, line.season, line.period, line.tier, line.rate, line.amount)
        for line in expected.lines
    ]
    assert [line["kwh"] for line in breakdown["lines"]] == pytest.approx(
        [line.kwh for line in expected.lines]
    )


def with_value(days: list[list[float]], day: int, slot: int, value: object) -> list[list[Any]]:
    changed: list[list[Any]] = [list(values) for values in days]
    changed[day][slot] = value
    return changed


async def post_raw(
    client: httpx.AsyncClient, route: str, raw: str, headers: dict[str, str]
) -> httpx.Response:
    """Send ``raw`` as it is: JSON with NaN or Infinity, which ``json=`` would not write."""
    return await client.post(
        route, content=raw, headers={**headers, "content-type": "application/json"}
    )


class TestMonthlyBill:
    async def test_a_month_answers_the_hand_computed_total_and_its_breakdown(
        self, client: httpx.AsyncClient
    ) -> None:
        # E-TOU-C (ratebook pge-e-tou-c.json), February 2026 (winter, 28 days), 1 kWh in every
        # slot; peak 16:00-21:00 every day (20 slots), off-peak the other 76.
        #   fixed:  $0.79343/day x 28 = 22.21604 -> 22.22
        #   import: 2688 kWh (peak 560, off-peak 2128); winter baseline 11 kWh/day x 28 = 308 kWh
        #     of it in tier 1, shared by the periods pro rata (SAM's rule): 308/2688 of each.
        #   peak tier 1:     560 x 308/2688 = 64.1667 kWh x 0.31617 = 20.2876 -> 20.29
        #   peak tier 2:     495.8333 kWh x 0.39757 = 197.1285 -> 197.13
        #   off-peak tier 1: 2128 x 308/2688 = 243.8333 kWh x 0.28617 = 69.7778 -> 69.78
        #   off-peak tier 2: 1884.1667 kWh x 0.36757 = 692.5631 -> 692.56
        #   energy: 979.76; total: 22.22 + 979.76 = 1001.98
        home_id, headers = await new_home(client)

        response = await client.post(
            monthly(home_id),
            json={"month": 2, "year": 2026, "usage": days_of(28, 1.0)},
            headers=headers,
        )

        bill = bill_of(response)
        assert bill["billTotal"] == 1001.98
        assert bill["totalBill"] == 1001.98
        assert (bill["startDate"], bill["endDate"], bill["days"]) == (
            "2026-02-01",
            "2026-03-01",
            28,
        )
        assert bill["ratePlanId"] == E_TOU_C
        assert (bill["importKwh"], bill["exportKwh"]) == (2688, 0)
        breakdown = bill["breakdown"]
        assert (
            breakdown["fixedCharges"],
            breakdown["energyCharges"],
            breakdown["exportCredit"],
            breakdown["minimumCharges"],
        ) == (22.22, 979.76, 0, 0)
        lines = [
            (line["kind"], line["description"], line["period"], line["tier"], line["rate"])
            for line in breakdown["lines"]
        ]
        assert lines == [
            ("fixed", "Fixed customer charge (per day)", None, None, 0.79343),
            ("energy", "Energy, winter peak, tier 1", "winter peak", 1, 0.31617),
            ("energy", "Energy, winter peak, tier 2", "winter peak", 2, 0.39757),
            ("energy", "Energy, winter off-peak, tier 1", "winter off-peak", 1, 0.28617),
            ("energy", "Energy, winter off-peak, tier 2", "winter off-peak", 2, 0.36757),
        ]
        assert [line["amount"] for line in breakdown["lines"]] == [
            22.22,
            20.29,
            197.13,
            69.78,
            692.56,
        ]
        assert [line["kwh"] for line in breakdown["lines"][1:]] == pytest.approx(
            [560 * 308 / 2688, 560 * 2380 / 2688, 2128 * 308 / 2688, 2128 * 2380 / 2688]
        )
        assert {line["season"] for line in breakdown["lines"][1:]} == {"winter"}

    @pytest.mark.parametrize("rate_plan_id", [E_TOU_C, E_1, SCE_TOU_D, DUKE_RS])
    async def test_the_total_equals_the_engines_for_the_same_usage_and_export(
        self, client: httpx.AsyncClient, rate_plan_id: str
    ) -> None:
        home_id, headers = await new_home(client, plan=rate_plan_id)
        usage = irregular_days(31, seed=f"usage {rate_plan_id}")
        export = irregular_days(31, seed=f"export {rate_plan_id}", high=0.8)

        response = await client.post(
            monthly(home_id),
            json={"month": 7, "year": 2026, "usage": usage, "export": export},
            headers=headers,
        )

        bill = bill_of(response)
        assert_equals_engine(bill, rate_plan_id, start=date(2026, 7, 1), usage=usage, export=export)
        # E-1 and Duke RS are net-metered (credited); E-TOU-C and TOU-D's ratebook files say
        # metering "none".
        credited = rate_plan_id in {E_1, DUKE_RS}
        assert (bill["breakdown"]["exportCredit"] < 0) is credited

    @pytest.mark.parametrize("month", [1, 12])
    async def test_months_1_and_12_are_accepted(
        self, client: httpx.AsyncClient, month: int
    ) -> None:
        home_id, headers = await new_home(client)

        bill = bill_of(
            await client.post(monthly(home_id), json=month_body(2026, month), headers=headers)
        )

        assert bill["startDate"] == f"2026-{month:02d}-01"
        assert bill["days"] == 31

    @pytest.mark.parametrize("month", [0, 13, -1, "3", 3.0, None])
    async def test_a_month_outside_1_to_12_or_not_an_integer_is_refused(
        self, client: httpx.AsyncClient, month: object
    ) -> None:
        home_id, headers = await new_home(client)
        body = {"month": month, "year": 2026, "usage": days_of(31)}

        assert_validation_failed(
            await client.post(monthly(home_id), json=body, headers=headers), "month"
        )

    async def test_a_missing_month_is_refused(self, client: httpx.AsyncClient) -> None:
        home_id, headers = await new_home(client)
        body = {"year": 2026, "usage": days_of(31)}

        assert_validation_failed(
            await client.post(monthly(home_id), json=body, headers=headers), "month"
        )

    @pytest.mark.parametrize(
        ("year", "february_days"), [(2000, 29), (2100, 28), (2028, 29), (2026, 28)]
    )
    async def test_years_2000_to_2100_are_accepted_with_their_february(
        self, client: httpx.AsyncClient, year: int, february_days: int
    ) -> None:
        home_id, headers = await new_home(client)

        bill = bill_of(
            await client.post(monthly(home_id), json=month_body(year, 2), headers=headers)
        )

        assert bill["days"] == february_days
        assert bill["startDate"] == f"{year}-02-01"
        assert bill["endDate"] == f"{year}-03-01"

    @pytest.mark.parametrize("year", [1999, 2101, 26, "2026"])
    async def test_a_year_outside_2000_to_2100_is_refused(
        self, client: httpx.AsyncClient, year: object
    ) -> None:
        home_id, headers = await new_home(client)
        body = {"month": 1, "year": year, "usage": days_of(31)}

        assert_validation_failed(
            await client.post(monthly(home_id), json=body, headers=headers), "year"
        )

    @pytest.mark.parametrize(
        ("year", "month", "days"),
        [(2028, 2, 28), (2028, 2, 30), (2026, 2, 29), (2026, 3, 30), (2026, 4, 31), (2026, 1, 1)],
    )
    async def test_a_day_count_other_than_the_months_is_refused_naming_usage(
        self, client: httpx.AsyncClient, year: int, month: int, days: int
    ) -> None:
        home_id, headers = await new_home(client)
        body = {"month": month, "year": year, "usage": days_of(days)}

        envelope = assert_validation_failed(
            await client.post(monthly(home_id), json=body, headers=headers), "usage"
        )
        assert str(days) in envelope["field_errors"][0]["message"]

    async def test_the_year_defaults_to_the_current_year(self, client: httpx.AsyncClient) -> None:
        # January has 31 days in every year, so the day count holds whatever the year is.
        home_id, headers = await new_home(client)
        before = datetime.now(UTC).year

        response = await client.post(
            monthly(home_id), json={"month": 1, "usage": days_of(31)}, headers=headers
        )

        after = datetime.now(UTC).year
        assert bill_of(response)["startDate"] in {f"{before}-01-01", f"{after}-01-01"}

    async def test_debug_adds_debug_information(self, client: httpx.AsyncClient) -> None:
        home_id, headers = await new_home(client)

        plain = bill_of(
            await client.post(monthly(home_id), json=month_body(2026, 3), headers=headers)
        )
        debugged = bill_of(
            await client.post(
                monthly(home_id), json=month_body(2026, 3, debug=True), headers=headers
            )
        )

        assert plain.get("debugInfo") is None
        assert debugged["debugInfo"]
        assert debugged["billTotal"] == plain["billTotal"]


class TestPeriodBill:
    async def test_days_run_from_start_date_up_to_not_including_end_date(
        self, client: httpx.AsyncClient
    ) -> None:
        # The docs' example: 2025-01-07 through 2025-02-08 requires 32 daily arrays.
        home_id, headers = await new_home(client)
        usage = irregular_days(32, seed="docs example")

        response = await client.post(
            period(home_id),
            json={"startDate": "2025-01-07", "endDate": "2025-02-08", "usage": usage},
            headers=headers,
        )

        bill = bill_of(response)
        assert (bill["startDate"], bill["endDate"], bill["days"]) == (
            "2025-01-07",
            "2025-02-08",
            32,
        )
        assert_equals_engine(bill, E_TOU_C, start=date(2025, 1, 7), usage=usage)

    @pytest.mark.parametrize("days", [31, 33, 1])
    async def test_a_day_count_other_than_the_periods_is_refused_naming_usage(
        self, client: httpx.AsyncClient, days: int
    ) -> None:
        home_id, headers = await new_home(client)
        body = period_body("2025-01-07", "2025-02-08", days)

        assert_validation_failed(
            await client.post(period(home_id), json=body, headers=headers), "usage"
        )

    @pytest.mark.parametrize(
        ("start", "end"),
        [("2026-03-02", "2026-03-02"), ("2026-03-03", "2026-03-02"), ("2027-01-01", "2026-12-31")],
        ids=["same-day", "day-before", "year-before"],
    )
    async def test_an_end_date_not_after_the_start_date_is_refused(
        self, client: httpx.AsyncClient, start: str, end: str
    ) -> None:
        home_id, headers = await new_home(client)
        body = period_body(start, end, 1)

        assert_validation_failed(
            await client.post(period(home_id), json=body, headers=headers), "endDate"
        )

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            ("2026-03-01T00:00:00Z", "2026-03-03T00:00:00Z"),
            ("2026-03-01T00:00:00.000Z", "2026-03-03"),
            ("2026-03-01T09:30:00-08:00", "2026-03-03T23:59:59+00:00"),
            ("2026-03-01T00:00:00", "2026-03-03T00:00:00"),
        ],
        ids=["zulu", "millis-and-date", "offsets", "no-offset"],
    )
    async def test_iso_datetimes_are_accepted_and_their_date_is_used(
        self, client: httpx.AsyncClient, start: str, end: str
    ) -> None:
        home_id, headers = await new_home(client)
        usage = irregular_days(2, seed="iso")

        with_dates = bill_of(
            await client.post(
                period(home_id),
                json={"startDate": "2026-03-01", "endDate": "2026-03-03", "usage": usage},
                headers=headers,
            )
        )
        with_datetimes = bill_of(
            await client.post(
                period(home_id),
                json={"startDate": start, "endDate": end, "usage": usage},
                headers=headers,
            )
        )

        assert with_datetimes == with_dates
        assert (with_datetimes["startDate"], with_datetimes["days"]) == ("2026-03-01", 2)

    @pytest.mark.parametrize(
        ("changes", "field"),
        [
            ({"startDate": "2026-02-30"}, "startDate"),
            ({"startDate": "yesterday"}, "startDate"),
            ({"startDate": 20260301}, "startDate"),
            ({"endDate": "2026-13-01"}, "endDate"),
            ({"endDate": None}, "endDate"),
            ({"startDate": ""}, "startDate"),
        ],
    )
    async def test_a_date_that_is_not_a_date_is_refused_by_name(
        self, client: httpx.AsyncClient, changes: dict[str, Any], field: str
    ) -> None:
        home_id, headers = await new_home(client)
        body = {**period_body("2026-03-01", "2026-03-02", 1), **changes}

        assert_validation_failed(
            await client.post(period(home_id), json=body, headers=headers), field
        )

    async def test_a_period_across_seasons_equals_the_engine(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, headers = await new_home(client, plan=E_1)
        usage = irregular_days(20, seed="across seasons", high=1.5)
        export = irregular_days(20, seed="across seasons export", high=0.3)

        response = await client.post(
            period(home_id),
            json={
                "startDate": "2026-05-22",
                "endDate": "2026-06-11",
                "usage": usage,
                "export": export,
            },
            headers=headers,
        )

        assert_equals_engine(
            bill_of(response), E_1, start=date(2026, 5, 22), usage=usage, export=export
        )


class TestRatePlanQuote:
    async def test_a_whole_month_quote_answers_the_hand_computed_total(
        self, client: httpx.AsyncClient
    ) -> None:
        # E-TOU-C (ratebook pge-e-tou-c.json), July 2026 (summer), 0.5 kWh in every slot.
        #   fixed: $0.79343/day x 31 = 24.59633 -> 24.60
        #   import 1488 kWh (peak 310, off-peak 1178); summer baseline 13.5 x 31 = 418.5 kWh
        #   in tier 1, each period's share 418.5/1488:
        #   peak:     87.1875 x 0.441 = 38.45;    222.8125 x 0.5224 = 116.40
        #   off-peak: 331.3125 x 0.318 = 105.36;  846.6875 x 0.3994 = 338.17
        #   total:    24.60 + 38.45 + 116.40 + 105.36 + 338.17 = 622.98
        headers = await key_with(client, Scope.BILL_IMPACT_READ)

        response = await client.post(
            quote(E_TOU_C), json=period_body("2026-07-01", "2026-08-01", 31), headers=headers
        )

        bill = bill_of(response)
        assert bill["billTotal"] == 622.98
        assert (bill["startDate"], bill["endDate"], bill["days"]) == (
            "2026-07-01",
            "2026-08-01",
            31,
        )
        assert bill["ratePlanId"] == E_TOU_C

    @pytest.mark.parametrize(
        ("start", "end", "days"),
        [("2026-01-01", "2026-03-01", 59), ("2026-01-01", "2027-01-01", 365)],
        ids=["two-months", "a-year"],
    )
    async def test_several_whole_months_are_quoted_like_the_engine(
        self, client: httpx.AsyncClient, start: str, end: str, days: int
    ) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        usage = irregular_days(days, seed=start + end)

        response = await client.post(
            quote(SCE_TOU_D),
            json={"startDate": start, "endDate": end, "usage": usage},
            headers=headers,
        )

        assert_equals_engine(
            bill_of(response), SCE_TOU_D, start=date.fromisoformat(start), usage=usage
        )

    @pytest.mark.parametrize(
        ("start", "end", "days", "fields"),
        [
            ("2026-07-02", "2026-08-01", 30, ["startDate"]),
            ("2026-07-01", "2026-07-31", 30, ["endDate"]),
            ("2026-07-15", "2026-08-15", 31, ["startDate", "endDate"]),
        ],
        ids=["start-mid-month", "end-mid-month", "both-mid-month"],
    )
    async def test_a_quote_that_is_not_whole_calendar_months_is_refused_by_name(
        self, client: httpx.AsyncClient, start: str, end: str, days: int, fields: list[str]
    ) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)

        response = await client.post(
            quote(E_TOU_C), json=period_body(start, end, days), headers=headers
        )

        assert_validation_failed(response, *fields)

    async def test_whole_months_with_the_wrong_day_count_are_refused_naming_usage(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        body = period_body("2026-07-01", "2026-08-01", 30)

        assert_validation_failed(
            await client.post(quote(E_TOU_C), json=body, headers=headers), "usage"
        )

    async def test_a_quote_ending_before_it_starts_is_refused_naming_end_date(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        body = period_body("2026-08-01", "2026-07-01", 31)

        assert_validation_failed(
            await client.post(quote(E_TOU_C), json=body, headers=headers), "endDate"
        )

    @pytest.mark.parametrize(("former", "current"), LEGACY_IDS.items())
    async def test_a_former_plan_id_is_quoted_under_its_current_id(
        self, client: httpx.AsyncClient, former: str, current: str
    ) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)

        response = await client.post(
            quote(former), json=period_body("2026-07-01", "2026-08-01", 31), headers=headers
        )

        assert bill_of(response)["ratePlanId"] == current

    @pytest.mark.parametrize("rate_plan_id", [UNKNOWN_PLAN, "E-TOU-C", "8FAFE26C6F12CD7DA414D3CD"])
    async def test_an_unknown_rate_plan_is_404(
        self, client: httpx.AsyncClient, rate_plan_id: str
    ) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)

        response = await client.post(
            quote(rate_plan_id), json=period_body("2026-07-01", "2026-08-01", 31), headers=headers
        )

        assert_envelope(response, status=404, code="NOT_FOUND")


class TestUsageShape:
    @pytest.mark.parametrize(
        ("usage", "field"),
        [
            (with_value(days_of(28), 2, 17, -0.5), "usage[2][17]"),
            (with_value(days_of(28), 0, 0, "1.0"), "usage[0][0]"),
            (with_value(days_of(28), 27, 95, None), "usage[27][95]"),
            (with_value(days_of(28), 5, 40, True), "usage[5][40]"),
            (with_value(days_of(28), 1, 2, [1.0]), "usage[1][2]"),
            ([*days_of(3), [0.5] * 95, *days_of(24)], "usage[3]"),
            ([*days_of(3), [0.5] * 97, *days_of(24)], "usage[3]"),
            ([*days_of(27), []], "usage[27]"),
            ([*days_of(27), "day"], "usage[27]"),
            ([], "usage"),
            ("usage", "usage"),
            (None, "usage"),
        ],
        ids=[
            "negative",
            "string",
            "null",
            "boolean",
            "nested-array",
            "95-values",
            "97-values",
            "empty-day",
            "day-not-an-array",
            "no-days",
            "not-an-array",
            "null-usage",
        ],
    )
    async def test_a_bad_usage_value_is_named_by_day_and_interval(
        self, client: httpx.AsyncClient, usage: object, field: str
    ) -> None:
        home_id, headers = await new_home(client)

        response = await client.post(
            monthly(home_id), json={"month": 2, "year": 2026, "usage": usage}, headers=headers
        )

        assert_validation_failed(response, field)

    async def test_every_bad_value_is_named(self, client: httpx.AsyncClient) -> None:
        home_id, headers = await new_home(client)
        usage = with_value(with_value(days_of(28), 0, 1, -1), 4, 95, "x")
        export = with_value(days_of(28, 0.0), 10, 50, -2)

        response = await client.post(
            monthly(home_id),
            json={"month": 2, "year": 2026, "usage": usage, "export": export},
            headers=headers,
        )

        assert_validation_failed(response, "usage[0][1]", "usage[4][95]", "export[10][50]")

    @pytest.mark.parametrize(
        ("export", "field"),
        [
            (with_value(days_of(28, 0.0), 0, 5, -0.1), "export[0][5]"),
            ([*days_of(1, 0.0), [0.0] * 95, *days_of(26, 0.0)], "export[1]"),
            (with_value(days_of(28, 0.0), 3, 3, "0"), "export[3][3]"),
            ("none", "export"),
        ],
        ids=["negative", "95-values", "string", "not-an-array"],
    )
    async def test_a_bad_export_value_is_named_by_day_and_interval(
        self, client: httpx.AsyncClient, export: object, field: str
    ) -> None:
        home_id, headers = await new_home(client)

        response = await client.post(
            monthly(home_id),
            json={"month": 2, "year": 2026, "usage": days_of(28), "export": export},
            headers=headers,
        )

        assert_validation_failed(response, field)

    @pytest.mark.parametrize("export_days", [27, 29, 1])
    async def test_export_must_have_as_many_days_as_usage(
        self, client: httpx.AsyncClient, export_days: int
    ) -> None:
        home_id, headers = await new_home(client)

        response = await client.post(
            monthly(home_id),
            json={"month": 2, "year": 2026, "usage": days_of(28), "export": days_of(export_days)},
            headers=headers,
        )

        assert_validation_failed(response, "export")

    async def test_export_may_be_null_or_absent(self, client: httpx.AsyncClient) -> None:
        home_id, headers = await new_home(client)

        absent = bill_of(
            await client.post(monthly(home_id), json=month_body(2026, 2), headers=headers)
        )
        null = bill_of(
            await client.post(
                monthly(home_id), json=month_body(2026, 2, export=None), headers=headers
            )
        )

        assert null == absent
        assert absent["breakdown"]["exportCredit"] == 0

    @pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
    async def test_nan_and_infinity_in_raw_json_are_refused_not_a_500(
        self, client: httpx.AsyncClient, literal: str
    ) -> None:
        home_id, headers = await new_home(client)
        days = [json.dumps(day) for day in days_of(28)]
        days[6] = "[" + ", ".join(["0.5"] * 10 + [literal] + ["0.5"] * 85) + "]"
        raw = '{"month": 2, "year": 2026, "usage": [' + ", ".join(days) + "]}"

        response = await post_raw(client, monthly(home_id), raw, headers)

        assert_validation_failed(response, "usage[6][10]")

    async def test_nan_in_export_is_refused_on_the_quote_route(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        usage = json.dumps(days_of(31))
        export = (
            "[" + ", ".join([json.dumps([0.0] * 96)] * 30 + ["[NaN" + ", 0.0" * 95 + "]"]) + "]"
        )
        raw = (
            '{"startDate": "2026-07-01", "endDate": "2026-08-01", '
            f'"usage": {usage}, "export": {export}}}'
        )

        response = await post_raw(client, quote(E_TOU_C), raw, headers)

        assert_validation_failed(response, "export[30][0]")

    @pytest.mark.parametrize("route_kind", ["period", "quote"])
    async def test_the_period_routes_name_bad_values_the_same_way(
        self, client: httpx.AsyncClient, route_kind: str
    ) -> None:
        home_id, headers = await new_home(client)
        route = period(home_id) if route_kind == "period" else quote(E_TOU_C)
        usage = with_value([*days_of(3), [0.5] * 95, *days_of(27)], 2, 17, -1)

        response = await client.post(
            route,
            json={"startDate": "2026-07-01", "endDate": "2026-08-01", "usage": usage},
            headers=headers,
        )

        assert_validation_failed(response, "usage[2][17]", "usage[3]")

    @pytest.mark.parametrize("route_kind", ["period", "quote"])
    async def test_the_period_routes_refuse_export_of_another_length(
        self, client: httpx.AsyncClient, route_kind: str
    ) -> None:
        home_id, headers = await new_home(client)
        route = period(home_id) if route_kind == "period" else quote(E_TOU_C)
        body = period_body("2026-07-01", "2026-08-01", 31, export=days_of(30))

        assert_validation_failed(await client.post(route, json=body, headers=headers), "export")

    async def test_more_than_366_days_is_refused_naming_usage(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, headers = await new_home(client)
        body = period_body("2026-01-01", "2027-01-03", 367)

        assert_validation_failed(
            await client.post(period(home_id), json=body, headers=headers), "usage"
        )


class TestOffTheEventLoop:
    async def test_every_bill_route_computes_its_bill_in_a_worker_thread(
        self, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        on_loop: list[bool] = []

        def recording(*args: Any, **kwargs: Any) -> Any:
            on_loop.append(on_an_event_loop())
            return compute_bill(*args, **kwargs)

        monkeypatch.setattr(bill_service, "compute_bill", recording)
        headers = await billing_key(client)
        home = (await create_home(client, headers, plan=E_TOU_C))["id"]
        answers = [
            await client.post(monthly(home), json=month_body(2026, 2), headers=headers),
            await client.post(
                period(home), json=period_body("2026-02-01", "2026-02-03", 2), headers=headers
            ),
            await client.post(
                quote(E_TOU_C), json=period_body("2026-02-01", "2026-03-01", 28), headers=headers
            ),
        ]

        assert [answer.status_code for answer in answers] == [200, 200, 200]
        assert on_loop == [False, False, False]


class TestBillAuthentication:
    async def test_requests_without_a_key_are_refused_with_401(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, _ = await new_home(client)

        for route, body in (
            (monthly(home_id), month_body(2026, 3)),
            (period(home_id), period_body("2026-03-01", "2026-03-02", 1)),
            (quote(E_TOU_C), period_body("2026-03-01", "2026-04-01", 31)),
        ):
            response = await client.post(route, json=body)
            assert_envelope(response, status=401, code="AUTH_MISSING_API_KEY")

    async def test_key_without_bill_impact_read_is_refused_with_403_naming_the_scope(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await key_with(client, "homes", Scope.BATTERY_ESTIMATE, Scope.PRICE_SIGNAL_READ)
        home_id = (await create_home(client, headers, plan=E_TOU_C))["id"]

        for route, body in (
            (monthly(home_id), month_body(2026, 3)),
            (period(home_id), period_body("2026-03-01", "2026-03-02", 1)),
            (quote(E_TOU_C), period_body("2026-03-01", "2026-04-01", 31)),
        ):
            response = await client.post(route, json=body, headers=headers)
            envelope = assert_envelope(response, status=403, code="AUTH_INSUFFICIENT_SCOPE")
            assert "bill_impact:read" in envelope["message"]

    async def test_bill_impact_read_alone_passes_the_guard_of_the_home_routes(
        self, client: httpx.AsyncClient
    ) -> None:
        # Without homes:read the key owns no home; the home routes still answer by ownership.
        headers = await key_with(client, Scope.BILL_IMPACT_READ)

        response = await client.post(
            monthly(NO_SUCH_HOME), json=month_body(2026, 3), headers=headers
        )

        assert_envelope(response, status=404, code="NOT_FOUND")

    async def test_another_credentials_home_is_404_on_both_home_routes(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, _ = await new_home(client)
        theirs = await key_with(client, "homes", "calculate", organization="Other Energy Co")

        for route, body in (
            (monthly(home_id), month_body(2026, 3)),
            (period(home_id), period_body("2026-03-01", "2026-03-02", 1)),
        ):
            response = await client.post(route, json=body, headers=theirs)
            assert_envelope(response, status=404, code="NOT_FOUND")

    async def test_an_unknown_home_is_404_on_both_home_routes(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await billing_key(client)

        for route, body in (
            (monthly(NO_SUCH_HOME), month_body(2026, 3)),
            (period(NO_SUCH_HOME), period_body("2026-03-01", "2026-03-02", 1)),
        ):
            response = await client.post(route, json=body, headers=headers)
            assert_envelope(response, status=404, code="NOT_FOUND")


class TestValueBounds:
    """Values stay within 1 GWh per quarter-hour, so every total stays a finite number."""

    async def test_the_largest_value_is_billed_and_one_more_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        home, headers = await new_home(client)
        largest = [[1_000_000.0] * 96, *days_of(29)]
        too_large = [[0.0] * 95 + [1_000_000.5], *days_of(29)]

        billed = await client.post(
            monthly(home), headers=headers, json=month_body(2026, 4, usage=largest)
        )
        refused = await client.post(
            monthly(home), headers=headers, json=month_body(2026, 4, usage=too_large)
        )

        assert bill_of(billed)["billTotal"] > 0
        assert_validation_failed(refused, "usage[0][95]")
