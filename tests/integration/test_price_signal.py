"""``POST /v1/homes/{id}/price_signal`` through HTTP: windows, daylight saving, plan prices, scopes.

The frozen clock reads 2026-03-01T12:00Z (04:00 PST in Los Angeles). Los Angeles is UTC-8 in
winter and UTC-7 from 2026-03-08 02:00 local to 2026-11-01 02:00 local.

Prices are the ratebook's (``shared/data/ratebook/tariffs/``), a tier's price being its
``rate + adj``; a signal prices each quarter-hour at its period's first tier.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from agentkeys.clock import FrozenClock
from agentkeys.credentials.scopes import Scope
from agentkeys.sandbox.price_signal import service as price_signal_service
from agentkeys.sandbox.tariffs.engine import price_signal as engine_price_signal
from tests.support.assertions import assert_envelope, assert_validation_failed, parse_instant
from tests.support.catalog import (
    COMED_BES,
    DUKE_RS,
    E_1,
    E_TOU_C,
    NO_SUCH_HOME,
    SCE_TOU_D,
    ZIP_OF_PLAN,
)
from tests.support.factories import key_with, new_home

QUARTER_HOUR = timedelta(minutes=15)
# pge-e-tou-c.json: the baseline (first) tier of each period, adj 0. Peak is 16:00-21:00 every
# day; summer is June to September. The file's metering is "none": exports are not credited.
WINTER_PEAK, WINTER_OFF_PEAK = 0.31617, 0.28617
SUMMER_PEAK, SUMMER_OFF_PEAK = 0.441, 0.318
# The catalog names a plan's periods by season and price rank.
PEAK, OFF_PEAK = "winter peak", "winter off-peak"
# sce-tou-d-4-9pm.json, rate + adj (0.00842 on every period): summer weekday off-peak
# 0.34666 + 0.00842, weekday 16-21 0.58477 + 0.00842, weekend 16-21 0.46482 + 0.00842; winter
# 00-08 and 21-24 0.37515 + 0.00842, 08-16 0.33605 + 0.00842, 16-21 0.51112 + 0.00842.
SCE_SUMMER_OFF, SCE_SUMMER_WEEKDAY_PEAK, SCE_SUMMER_WEEKEND_PEAK = 0.35508, 0.59319, 0.47324
SCE_WINTER_NIGHT, SCE_WINTER_DAY, SCE_WINTER_PEAK = 0.38357, 0.34447, 0.51954
# duke-carolinas-rs.json: 0.122603 + 0.017806, every hour (net metering: exports at retail).
DUKE_PRICE = 0.140409
# pge-e-1.json: the first (baseline) tier, 0.32561, all year (net metering).
E_1_BASELINE = 0.32561


# A ZIP code each plan's utility serves: San Francisco, Newport Beach (Orange County),
# Charlotte.
def route(home_id: str) -> str:
    return f"/v1/homes/{home_id}/price_signal"


async def priced_home(
    client: httpx.AsyncClient, rate_plan_id: str = E_TOU_C
) -> tuple[str, dict[str, str]]:
    """A key with homes and price_signal:read, and its home on the plan in a ZIP code its utility
    serves: (home id, headers)."""
    return await new_home(
        client,
        "homes",
        Scope.PRICE_SIGNAL_READ,
        plan=rate_plan_id,
        zipcode=ZIP_OF_PLAN[rate_plan_id],
    )


def window(start: str, end: str) -> dict[str, str]:
    return {"startTime": start, "endTime": end}


def signal_of(response: httpx.Response) -> dict[str, Any]:
    """The answer, checked to be coherent: one value per quarter-hour in each array, and blocks
    that tile the window exactly and agree with the arrays slot by slot."""
    assert response.status_code == 200, response.text
    signal: dict[str, Any] = response.json()
    start, end = parse_instant(signal["startTime"]), parse_instant(signal["endTime"])
    slots = len(signal["prices"])
    assert slots == (end - start) // QUARTER_HOUR
    assert len(signal["import"]) == len(signal["export"]) == slots
    assert signal["prices"] == signal["import"]

    blocks = signal["data"]
    assert blocks, signal
    assert blocks[0]["startTime"] == signal["startTime"]
    assert blocks[-1]["endTime"] == signal["endTime"]
    expanded_import: list[float] = []
    expanded_export: list[float] = []
    for block, following in zip(blocks, [*blocks[1:], None], strict=True):
        block_start, block_end = parse_instant(block["startTime"]), parse_instant(block["endTime"])
        assert block_start < block_end, block
        if following is not None:
            assert following["startTime"] == block["endTime"], (block, following)
        assert block["price"] == block["import"]
        assert block["confidence"] == 1.0
        count = (block_end - block_start) // QUARTER_HOUR
        expanded_import.extend([block["import"]] * count)
        expanded_export.extend([block["export"]] * count)
    assert expanded_import == signal["import"]
    assert expanded_export == signal["export"]
    return signal


def block_spans(signal: dict[str, Any]) -> list[tuple[str, str, str, float]]:
    """(start, end, period, import price) of each block."""
    return [
        (block["startTime"], block["endTime"], block["period"], block["import"])
        for block in signal["data"]
    ]


class TestDefaultWindow:
    @pytest.mark.parametrize(
        "send",
        [
            {},
            {"json": {}},
            {"content": b"null", "headers": {"content-type": "application/json"}},
            {"json": {"startTime": None, "endTime": None}},
        ],
        ids=["no-body", "empty-object", "null", "both-null"],
    )
    async def test_no_window_means_the_next_24_hours_from_the_current_quarter_hour(
        self, client: httpx.AsyncClient, send: dict[str, Any]
    ) -> None:
        home_id, headers = await priced_home(client)
        arguments = dict(send)
        extra_headers = arguments.pop("headers", {})

        response = await client.post(
            route(home_id), headers={**headers, **extra_headers}, **arguments
        )

        signal = signal_of(response)
        assert signal["homeId"] == home_id
        assert signal["timezone"] == "America/Los_Angeles"
        assert signal["startTime"] == "2026-03-01T12:00:00.000Z"
        assert signal["endTime"] == "2026-03-02T12:00:00.000Z"
        assert len(signal["prices"]) == 96

    async def test_the_window_starts_at_the_quarter_hour_the_clock_is_in(
        self, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        home_id, headers = await priced_home(client)
        clock.advance(timedelta(minutes=29, seconds=59, milliseconds=999))

        signal = signal_of(await client.post(route(home_id), headers=headers))

        assert signal["startTime"] == "2026-03-01T12:15:00.000Z"
        assert signal["endTime"] == "2026-03-02T12:15:00.000Z"
        assert len(signal["prices"]) == 96

    async def test_winter_e_tou_c_peak_is_priced_from_16_00_to_21_00_local(
        self, client: httpx.AsyncClient
    ) -> None:
        # 12:00Z = 04:00 PST. Peak 16:00-21:00 PST = 00:00Z-05:00Z on 2026-03-02:
        # slots 0-47 off-peak, 48-67 peak, 68-95 off-peak. Exports are not credited.
        home_id, headers = await priced_home(client)

        signal = signal_of(await client.post(route(home_id), headers=headers))

        expected = [WINTER_OFF_PEAK] * 48 + [WINTER_PEAK] * 20 + [WINTER_OFF_PEAK] * 28
        assert signal["prices"] == expected
        assert signal["export"] == [0.0] * 96
        assert block_spans(signal) == [
            ("2026-03-01T12:00:00.000Z", "2026-03-02T00:00:00.000Z", OFF_PEAK, WINTER_OFF_PEAK),
            ("2026-03-02T00:00:00.000Z", "2026-03-02T05:00:00.000Z", PEAK, WINTER_PEAK),
            ("2026-03-02T05:00:00.000Z", "2026-03-02T12:00:00.000Z", OFF_PEAK, WINTER_OFF_PEAK),
        ]
        assert {block["season"] for block in signal["data"]} == {"winter"}


class TestExplicitWindow:
    async def test_a_summer_local_day_has_its_peak_from_23_00_utc(
        self, client: httpx.AsyncClient
    ) -> None:
        # 2026-07-01 local (PDT, UTC-7): 07:00Z to 07:00Z; 16:00 PDT = 23:00Z.
        home_id, headers = await priced_home(client)

        response = await client.post(
            route(home_id),
            json=window("2026-07-01T07:00:00Z", "2026-07-02T07:00:00Z"),
            headers=headers,
        )

        signal = signal_of(response)
        assert (
            signal["prices"] == [SUMMER_OFF_PEAK] * 64 + [SUMMER_PEAK] * 20 + [SUMMER_OFF_PEAK] * 12
        )
        assert [block["season"] for block in signal["data"]] == ["summer"] * 3

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            ("2026-07-01T00:00:00-07:00", "2026-07-02T00:00:00-07:00"),
            ("2026-07-01T07:00:00.000Z", "2026-07-02T07:00:00.000Z"),
            ("2026-07-01T00:00:00", "2026-07-02T00:00:00"),
            ("2026-07-01T07:00:00+00:00", "2026-07-02T09:00:00+02:00"),
        ],
        ids=["local-offset", "millis", "no-offset-is-local", "mixed-offsets"],
    )
    async def test_instants_are_read_with_their_offset(
        self, client: httpx.AsyncClient, start: str, end: str
    ) -> None:
        home_id, headers = await priced_home(client)

        signal = signal_of(
            await client.post(route(home_id), json=window(start, end), headers=headers)
        )

        assert signal["startTime"] == "2026-07-01T07:00:00.000Z"
        assert signal["endTime"] == "2026-07-02T07:00:00.000Z"
        assert len(signal["prices"]) == 96

    async def test_a_short_window_has_one_value_per_quarter_hour(
        self, client: httpx.AsyncClient
    ) -> None:
        # 15:00-17:00 PST on 2026-03-02: 4 off-peak then 4 peak quarter-hours.
        home_id, headers = await priced_home(client)

        signal = signal_of(
            await client.post(
                route(home_id),
                json=window("2026-03-02T23:00:00Z", "2026-03-03T01:00:00Z"),
                headers=headers,
            )
        )

        assert signal["prices"] == [WINTER_OFF_PEAK] * 4 + [WINTER_PEAK] * 4

    @pytest.mark.parametrize(
        ("body", "missing"),
        [
            ({"startTime": "2026-03-02T00:00:00Z"}, "endTime"),
            ({"endTime": "2026-03-02T00:00:00Z"}, "startTime"),
            ({"startTime": "2026-03-02T00:00:00Z", "endTime": None}, "endTime"),
        ],
        ids=["start-only", "end-only", "end-null"],
    )
    async def test_only_one_of_the_two_times_is_refused_naming_the_missing_one(
        self, client: httpx.AsyncClient, body: dict[str, Any], missing: str
    ) -> None:
        home_id, headers = await priced_home(client)

        response = await client.post(route(home_id), json=body, headers=headers)

        assert_validation_failed(response, missing)

    @pytest.mark.parametrize(
        "end", ["2026-03-02T00:00:00Z", "2026-03-01T23:45:00Z", "2026-03-01T16:00:00-08:00"]
    )
    async def test_an_end_not_after_the_start_is_refused_naming_end_time(
        self, client: httpx.AsyncClient, end: str
    ) -> None:
        home_id, headers = await priced_home(client)

        response = await client.post(
            route(home_id), json=window("2026-03-02T00:00:00Z", end), headers=headers
        )

        assert_validation_failed(response, "endTime")

    async def test_a_window_of_31_days_is_accepted_and_longer_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        # 2026-03-01 to 2026-04-01 is 31 days of real time (the DST change only moves labels).
        home_id, headers = await priced_home(client)

        longest = await client.post(
            route(home_id),
            json=window("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"),
            headers=headers,
        )
        too_long = await client.post(
            route(home_id),
            json=window("2026-03-01T00:00:00Z", "2026-04-01T00:15:00Z"),
            headers=headers,
        )

        assert len(signal_of(longest)["prices"]) == 31 * 96
        assert_validation_failed(too_long, "endTime")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            (window("yesterday", "2026-03-02T00:00:00Z"), "startTime"),
            (window("2026-03-01T00:00:00Z", "2026-02-30T00:00:00Z"), "endTime"),
            ({"startTime": 1772323200, "endTime": "2026-03-02T00:00:00Z"}, "startTime"),
        ],
        ids=["words", "no-such-day", "number"],
    )
    async def test_a_time_that_is_not_iso_8601_is_refused_by_name(
        self, client: httpx.AsyncClient, body: dict[str, Any], field: str
    ) -> None:
        home_id, headers = await priced_home(client)

        response = await client.post(route(home_id), json=body, headers=headers)

        assert_validation_failed(response, field)

    async def test_a_body_that_is_not_an_object_is_refused(self, client: httpx.AsyncClient) -> None:
        home_id, headers = await priced_home(client)

        response = await client.post(route(home_id), json=["2026-03-01"], headers=headers)

        assert_validation_failed(response, "body")


class TestOffTheEventLoop:
    async def test_the_signal_is_computed_in_a_worker_thread(
        self, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        on_loop: list[bool] = []

        def recording(*args: Any, **kwargs: Any) -> Any:
            try:
                asyncio.get_running_loop()
                on_loop.append(True)
            except RuntimeError:
                on_loop.append(False)
            return engine_price_signal(*args, **kwargs)

        monkeypatch.setattr(price_signal_service, "price_signal", recording)
        home_id, headers = await priced_home(client)
        response = await client.post(route(home_id), headers=headers)

        assert response.status_code == 200, response.text
        assert on_loop == [False]


class TestDaylightSavingWindows:
    async def test_the_spring_forward_day_has_92_quarter_hours_and_peak_from_23_00_utc(
        self, client: httpx.AsyncClient
    ) -> None:
        # 2026-03-08 local: 00:00 PST (08:00Z) to 00:00 PDT on the 9th (07:00Z): 23 hours.
        # 16:00 PDT = 23:00Z; 21:00 PDT = 04:00Z.
        home_id, headers = await priced_home(client)

        signal = signal_of(
            await client.post(
                route(home_id),
                json=window("2026-03-08T00:00:00-08:00", "2026-03-09T00:00:00-07:00"),
                headers=headers,
            )
        )

        assert len(signal["prices"]) == 92
        assert block_spans(signal) == [
            ("2026-03-08T08:00:00.000Z", "2026-03-08T23:00:00.000Z", OFF_PEAK, WINTER_OFF_PEAK),
            ("2026-03-08T23:00:00.000Z", "2026-03-09T04:00:00.000Z", PEAK, WINTER_PEAK),
            ("2026-03-09T04:00:00.000Z", "2026-03-09T07:00:00.000Z", OFF_PEAK, WINTER_OFF_PEAK),
        ]

    async def test_the_day_before_spring_forward_has_its_peak_from_00_00_utc(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, headers = await priced_home(client)

        signal = signal_of(
            await client.post(
                route(home_id),
                json=window("2026-03-07T00:00:00-08:00", "2026-03-08T00:00:00-08:00"),
                headers=headers,
            )
        )

        assert len(signal["prices"]) == 96
        assert block_spans(signal)[1] == (
            "2026-03-08T00:00:00.000Z",
            "2026-03-08T05:00:00.000Z",
            PEAK,
            WINTER_PEAK,
        )

    async def test_the_fall_back_day_has_100_quarter_hours_and_peak_from_00_00_utc(
        self, client: httpx.AsyncClient
    ) -> None:
        # 2026-11-01 local: 00:00 PDT (07:00Z) to 00:00 PST on the 2nd (08:00Z): 25 hours.
        # 16:00 PST = 00:00Z on the 2nd.
        home_id, headers = await priced_home(client)

        signal = signal_of(
            await client.post(
                route(home_id),
                json=window("2026-11-01T00:00:00-07:00", "2026-11-02T00:00:00-08:00"),
                headers=headers,
            )
        )

        assert len(signal["prices"]) == 100
        assert block_spans(signal) == [
            ("2026-11-01T07:00:00.000Z", "2026-11-02T00:00:00.000Z", OFF_PEAK, WINTER_OFF_PEAK),
            ("2026-11-02T00:00:00.000Z", "2026-11-02T05:00:00.000Z", PEAK, WINTER_PEAK),
            ("2026-11-02T05:00:00.000Z", "2026-11-02T08:00:00.000Z", OFF_PEAK, WINTER_OFF_PEAK),
        ]

    async def test_sce_winter_periods_follow_local_time_on_the_spring_forward_day(
        self, client: httpx.AsyncClient
    ) -> None:
        # SCE winter, every day: 00-08 and 21-24 at 0.38357, 08-16 at 0.34447, 16-21 at 0.51954
        # local. On 2026-03-08 (PDT after 02:00): 08:00 PDT = 15:00Z, 16:00 PDT = 23:00Z.
        home_id, headers = await priced_home(client, SCE_TOU_D)

        signal = signal_of(
            await client.post(
                route(home_id),
                json=window("2026-03-08T00:00:00-08:00", "2026-03-09T00:00:00-07:00"),
                headers=headers,
            )
        )

        assert len(signal["prices"]) == 92
        assert [(start, end, price) for start, end, _, price in block_spans(signal)] == [
            ("2026-03-08T08:00:00.000Z", "2026-03-08T15:00:00.000Z", SCE_WINTER_NIGHT),
            ("2026-03-08T15:00:00.000Z", "2026-03-08T23:00:00.000Z", SCE_WINTER_DAY),
            ("2026-03-08T23:00:00.000Z", "2026-03-09T04:00:00.000Z", SCE_WINTER_PEAK),
            ("2026-03-09T04:00:00.000Z", "2026-03-09T07:00:00.000Z", SCE_WINTER_NIGHT),
        ]


class TestPlanPrices:
    async def test_sce_prices_the_observed_independence_day_as_a_weekend(
        self, client: httpx.AsyncClient
    ) -> None:
        # Monday 2027-07-05: Independence Day falls on Sunday 2027-07-04 and is observed on the
        # Monday (SCE's holiday rule, NERC's: Sunday holidays move to Monday), priced as a
        # weekend day; Tuesday 2027-07-06 is a weekday. Local days (PDT); slot 64 is 16:00.
        home_id, headers = await priced_home(client, SCE_TOU_D)

        signal = signal_of(
            await client.post(
                route(home_id),
                json=window("2027-07-05T00:00:00-07:00", "2027-07-07T00:00:00-07:00"),
                headers=headers,
            )
        )

        prices = signal["prices"]
        assert len(prices) == 192
        assert prices[63] == SCE_SUMMER_OFF
        assert prices[64:84] == [SCE_SUMMER_WEEKEND_PEAK] * 20
        assert prices[84] == SCE_SUMMER_OFF
        assert prices[96 + 64 : 96 + 84] == [SCE_SUMMER_WEEKDAY_PEAK] * 20
        assert signal["export"] == [0.0] * 192  # sce-tou-d-4-9pm.json: metering "none"
        assert len(signal["data"]) == 5

    async def test_a_saturday_holiday_leaves_the_friday_a_weekday(
        self, client: httpx.AsyncClient
    ) -> None:
        # Friday 2026-07-03: Independence Day is Saturday 2026-07-04, which no rule of SCE's
        # moves to the Friday: weekday peak 16:00-21:00.
        home_id, headers = await priced_home(client, SCE_TOU_D)

        signal = signal_of(
            await client.post(
                route(home_id),
                json=window("2026-07-03T00:00:00-07:00", "2026-07-04T00:00:00-07:00"),
                headers=headers,
            )
        )

        assert signal["prices"][64:84] == [SCE_SUMMER_WEEKDAY_PEAK] * 20

    async def test_a_flat_plan_is_one_block_at_one_price(self, client: httpx.AsyncClient) -> None:
        home_id, headers = await priced_home(client, DUKE_RS)

        signal = signal_of(await client.post(route(home_id), headers=headers))

        assert signal["timezone"] == "America/New_York"
        assert signal["prices"] == [DUKE_PRICE] * 96
        assert signal["export"] == [DUKE_PRICE] * 96
        assert [(start, end, price) for start, end, _, price in block_spans(signal)] == [
            ("2026-03-01T12:00:00.000Z", "2026-03-02T12:00:00.000Z", DUKE_PRICE)
        ]

    async def test_a_tiered_plan_signals_its_first_tier_price(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, headers = await priced_home(client, E_1)

        signal = signal_of(await client.post(route(home_id), headers=headers))

        assert signal["prices"] == [E_1_BASELINE] * 96
        assert signal["export"] == [E_1_BASELINE] * 96

    async def test_the_signal_follows_the_homes_current_plan(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, headers = await priced_home(client)
        moved = await client.post(
            f"/v1/homes/{home_id}/update",
            json={"zipcode": "28202", "ratePlanId": DUKE_RS},
            headers=headers,
        )
        assert moved.status_code == 200, moved.text

        signal = signal_of(await client.post(route(home_id), headers=headers))

        assert signal["timezone"] == "America/New_York"
        assert signal["prices"] == [DUKE_PRICE] * 96


class TestLocalTimes:
    """A startTime or endTime without an offset is the home's local time (its ZIP code's)."""

    async def test_4_pm_in_san_francisco_starts_at_23_00_utc_in_summer(
        self, client: httpx.AsyncClient
    ) -> None:
        # 16:00 PDT (UTC-7) = 23:00Z: the summer peak, five hours of it.
        home_id, headers = await priced_home(client)

        signal = signal_of(
            await client.post(
                route(home_id),
                json=window("2026-07-01T16:00:00", "2026-07-01T21:00:00"),
                headers=headers,
            )
        )

        assert (signal["startTime"], signal["endTime"]) == (
            "2026-07-01T23:00:00.000Z",
            "2026-07-02T04:00:00.000Z",
        )
        assert signal["timezone"] == "America/Los_Angeles"
        assert signal["prices"] == [SUMMER_PEAK] * 20

    async def test_4_pm_in_chicago_starts_at_21_00_utc_in_summer(
        self, client: httpx.AsyncClient
    ) -> None:
        # 16:00 CDT (UTC-5) = 21:00Z. comed-bes-residential-single-family.json: summer
        # 0.11632 + 0.01296 = 0.12928 every hour.
        home_id, headers = await new_home(
            client, "homes", Scope.PRICE_SIGNAL_READ, plan=COMED_BES, zipcode="60601"
        )

        signal = signal_of(
            await client.post(
                route(home_id),
                json=window("2026-07-01T16:00:00", "2026-07-01T17:00:00"),
                headers=headers,
            )
        )

        assert signal["timezone"] == "America/Chicago"
        assert signal["startTime"] == "2026-07-01T21:00:00.000Z"
        assert signal["prices"] == [0.12928] * 4

    async def test_a_local_spring_forward_day_has_92_quarter_hours(
        self, client: httpx.AsyncClient
    ) -> None:
        # Local midnight to midnight on 2026-03-08: 08:00Z (PST) to 07:00Z on the 9th (PDT).
        home_id, headers = await priced_home(client)

        signal = signal_of(
            await client.post(
                route(home_id),
                json=window("2026-03-08T00:00:00", "2026-03-09T00:00:00"),
                headers=headers,
            )
        )

        assert (signal["startTime"], signal["endTime"]) == (
            "2026-03-08T08:00:00.000Z",
            "2026-03-09T07:00:00.000Z",
        )
        assert len(signal["prices"]) == 92

    @pytest.mark.parametrize(
        ("local", "instant"),
        [
            # Skipped on 2026-03-08 (02:00 PST jumps to 03:00 PDT): read at PST, UTC-8.
            ("2026-03-08T02:30:00", "2026-03-08T10:30:00.000Z"),
            # Repeated on 2026-11-01 (02:00 PDT falls back to 01:00 PST): the first, PDT, UTC-7.
            ("2026-11-01T01:30:00", "2026-11-01T08:30:00.000Z"),
        ],
        ids=["skipped", "repeated"],
    )
    async def test_a_wall_clock_time_a_daylight_saving_change_skips_or_repeats(
        self, client: httpx.AsyncClient, local: str, instant: str
    ) -> None:
        home_id, headers = await priced_home(client)
        one_hour_later = (parse_instant(instant) + timedelta(hours=1)).isoformat()

        signal = signal_of(
            await client.post(route(home_id), json=window(local, one_hour_later), headers=headers)
        )

        assert signal["startTime"] == instant
        assert len(signal["prices"]) == 4

    async def test_a_local_time_and_an_instant_mix(self, client: httpx.AsyncClient) -> None:
        # 2026-03-02 15:00 PST = 23:00Z, to 01:00Z: 15:00-16:00 off-peak, 16:00-17:00 peak.
        home_id, headers = await priced_home(client)

        signal = signal_of(
            await client.post(
                route(home_id),
                json=window("2026-03-02T15:00:00", "2026-03-03T01:00:00Z"),
                headers=headers,
            )
        )

        assert signal["prices"] == [WINTER_OFF_PEAK] * 4 + [WINTER_PEAK] * 4

    async def test_a_local_end_after_2100_in_the_homes_zone_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        # 2101-01-01 00:00 PST is 08:00Z, past the last instant priced (2101-01-01T00:00Z);
        # 2100-12-31 14:00 PST (22:00Z) is not.
        home_id, headers = await priced_home(client)

        late = await client.post(
            route(home_id),
            json=window("2100-12-31T14:00:00", "2101-01-01T00:00:00"),
            headers=headers,
        )
        last = await client.post(
            route(home_id),
            json=window("2100-12-31T15:00:00", "2100-12-31T16:00:00"),
            headers=headers,
        )

        assert_validation_failed(late, "endTime")
        # 2100-12-31 16:00 PST = 2101-01-01T00:00Z: the latest end there is.
        assert len(signal_of(last)["prices"]) == 4

    async def test_the_openapi_says_how_a_time_without_offset_is_read(
        self, client: httpx.AsyncClient
    ) -> None:
        document = (await client.get("/openapi.json")).json()
        fields = document["components"]["schemas"]["GetPriceSignalRequestDto"]["properties"]

        for name in ("startTime", "endTime"):
            described = json.dumps(fields[name])
            assert "without one" in described, described
            assert "home's local time" in described, described


class TestPriceSignalAuthentication:
    async def test_request_without_a_key_is_refused_with_401(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, _ = await priced_home(client)

        response = await client.post(route(home_id))

        assert_envelope(response, status=401, code="AUTH_MISSING_API_KEY")

    async def test_key_without_price_signal_read_is_refused_with_403_naming_the_scope(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await key_with(client, "homes", "calculate", Scope.UTILITY_READ)
        created = await client.post(
            "/v1/homes/create", json={"name": "Home", "ratePlanId": E_TOU_C}, headers=headers
        )
        assert created.status_code == 201, created.text

        response = await client.post(route(created.json()["id"]), headers=headers)

        envelope = assert_envelope(response, status=403, code="AUTH_INSUFFICIENT_SCOPE")
        assert "price_signal:read" in envelope["message"]

    async def test_another_credentials_home_is_404(self, client: httpx.AsyncClient) -> None:
        home_id, _ = await priced_home(client)
        theirs = await key_with(client, "homes", Scope.PRICE_SIGNAL_READ, organization="Other Co")

        for body in (None, window("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z")):
            response = await client.post(route(home_id), json=body, headers=theirs)
            assert_envelope(response, status=404, code="NOT_FOUND")

    async def test_an_unknown_home_is_404(self, client: httpx.AsyncClient) -> None:
        headers = await key_with(client, Scope.PRICE_SIGNAL_READ)

        response = await client.post(route(NO_SUCH_HOME), headers=headers)

        assert_envelope(response, status=404, code="NOT_FOUND")


class TestWindowBounds:
    @pytest.mark.parametrize(
        ("start", "end", "fields"),
        [
            ("0001-01-01T00:00:00Z", "0001-01-02T00:00:00Z", ("startTime", "endTime")),
            ("1999-12-31T23:45:00Z", "2000-01-01T00:15:00Z", ("startTime",)),
            ("2100-12-31T23:00:00Z", "2101-01-01T00:15:00Z", ("endTime",)),
            ("2101-01-01T00:00:01Z", "2101-01-01T00:15:00Z", ("startTime", "endTime")),
        ],
    )
    async def test_windows_outside_2000_to_2100_are_refused(
        self, client: httpx.AsyncClient, start: str, end: str, fields: tuple[str, ...]
    ) -> None:
        home, headers = await priced_home(client)

        response = await client.post(route(home), headers=headers, json=window(start, end))

        assert_validation_failed(response, *fields)

    async def test_a_window_may_end_at_the_first_instant_after_2100(
        self, client: httpx.AsyncClient
    ) -> None:
        home, headers = await priced_home(client)

        response = await client.post(
            route(home),
            headers=headers,
            json=window("2100-12-31T23:00:00Z", "2101-01-01T00:00:00Z"),
        )

        assert response.status_code == 200, response.text
        assert len(response.json()["prices"]) == 4

    async def test_the_first_quarter_hour_of_2000_is_priced(
        self, client: httpx.AsyncClient
    ) -> None:
        home, headers = await priced_home(client)

        response = await client.post(
            route(home),
            headers=headers,
            json=window("2000-01-01T00:00:00Z", "2000-01-01T00:15:00Z"),
        )

        assert len(signal_of(response)["prices"]) == 1
