"""One rule for every date and instant a sandbox request carries: the years 2000-2100 (and the
first day or instant after them, as an exclusive end). Walked over every such field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from agentkeys.credentials.scopes import Scope
from agentkeys.validation import EARLIEST_DAY, LIMIT_DAY
from tests.support.assertions import assert_validation_failed
from tests.support.catalog import E_TOU_C
from tests.support.factories import new_home

ONE_DAY = [0.5] * 96


def seconds(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


def period(start: str, end: str) -> dict[str, Any]:
    """A period body with usage for each of its days (one day when the period is not billable)."""
    days = (date.fromisoformat(end[:10]) - date.fromisoformat(start[:10])).days
    return {
        "startDate": start,
        "endDate": end,
        "usage": [ONE_DAY] * (days if 0 < days <= 62 else 1),
    }


def window(start: str, end: str) -> dict[str, Any]:
    return {"startTime": start, "endTime": end}


# Each date or instant field: (route, a valid body holding `value` in the field, field name).
Body = Callable[[str], dict[str, Any]]
FIELDS: list[tuple[str, Body, str]] = [
    ("/v1/homes/{id}/bill/period", lambda v: period(v, "2026-03-02"), "startDate"),
    ("/v1/homes/{id}/bill/period", lambda v: period("2026-03-01", v), "endDate"),
    (f"/v1/homes/bill/period/rateplan/{E_TOU_C}", lambda v: period(v, "2026-04-01"), "startDate"),
    (f"/v1/homes/bill/period/rateplan/{E_TOU_C}", lambda v: period("2026-03-01", v), "endDate"),
    ("/v1/homes/{id}/price_signal", lambda v: window(v, "2026-03-02T00:00:00Z"), "startTime"),
    ("/v1/homes/{id}/price_signal", lambda v: window("2026-03-01T00:00:00Z", v), "endTime"),
]
OUTSIDE = ["0001-01-01", "1999-12-31", "2101-01-02", "9999-12-31"]


async def home_and_headers(client: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    return await new_home(
        client, "homes", "calculate", Scope.PRICE_SIGNAL_READ, Scope.UTILITY_READ, zipcode="94107"
    )


class TestDateRule:
    @pytest.mark.parametrize("day", OUTSIDE)
    @pytest.mark.parametrize(
        ("route", "body", "field"), FIELDS, ids=[f"{route}:{field}" for route, _, field in FIELDS]
    )
    async def test_a_day_or_instant_outside_2000_to_2100_is_refused_in_every_field(
        self, client: httpx.AsyncClient, route: str, body: Body, field: str, day: str
    ) -> None:
        home, headers = await home_and_headers(client)
        value = day if "Date" in field else f"{day}T00:00:00Z"

        response = await client.post(route.format(id=home), json=body(value), headers=headers)

        envelope = assert_validation_failed(response, field)
        assert "2000 to 2100" in envelope["field_errors"][0]["message"]

    @pytest.mark.parametrize(
        ("route", "body"),
        [
            ("/v1/homes/{id}/bill/period", period("2000-01-01", "2000-01-02")),
            ("/v1/homes/{id}/bill/period", period("2100-12-31", "2101-01-01")),
            (f"/v1/homes/bill/period/rateplan/{E_TOU_C}", period("2000-01-01", "2000-02-01")),
            (f"/v1/homes/bill/period/rateplan/{E_TOU_C}", period("2100-12-01", "2101-01-01")),
            (
                "/v1/homes/{id}/price_signal",
                window("2000-01-01T00:00:00Z", "2000-01-01T00:15:00Z"),
            ),
            (
                "/v1/homes/{id}/price_signal",
                window("2100-12-31T23:45:00Z", "2101-01-01T00:00:00Z"),
            ),
        ],
    )
    async def test_the_first_and_last_days_are_accepted(
        self, client: httpx.AsyncClient, route: str, body: dict[str, Any]
    ) -> None:
        home, headers = await home_and_headers(client)

        response = await client.post(route.format(id=home), json=body, headers=headers)

        assert response.status_code == 200, response.text

    @pytest.mark.parametrize(
        ("day", "accepted"),
        [
            (date(1999, 12, 31), False),
            (date(2000, 1, 1), True),
            (date(2101, 1, 1), True),
            (date(2101, 1, 2), False),
            (date(1970, 1, 1), False),
        ],
    )
    async def test_effective_on_date_follows_the_same_rule(
        self, client: httpx.AsyncClient, day: date, accepted: bool
    ) -> None:
        _, headers = await home_and_headers(client)
        body = {"zipcode": "94107", "effectiveOnDate": seconds(day)}
        response = await client.post("/v1/utility/get", json=body, headers=headers)
        if accepted:
            assert response.status_code == 200, response.text
        else:
            assert_validation_failed(response, "effectiveOnDate")

    @pytest.mark.parametrize("year", [1999, 2101])
    async def test_a_monthly_bill_year_follows_the_same_rule(
        self, client: httpx.AsyncClient, year: int
    ) -> None:
        home, headers = await home_and_headers(client)
        body = {"month": 1, "year": year, "usage": [ONE_DAY] * 31}
        response = await client.post(f"/v1/homes/{home}/bill/monthly", json=body, headers=headers)
        assert_validation_failed(response, "year")


def test_the_limits_are_one_day_apart_from_the_years() -> None:
    assert (EARLIEST_DAY, LIMIT_DAY - timedelta(days=1)) == (date(2000, 1, 1), date(2100, 12, 31))
