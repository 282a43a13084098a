"""``POST /v1/homes/{id}/price_signal/open_adr`` through HTTP: the JSON price signal's prices as an
OpenADR 3.0 event, checked against the ``openadr3`` library's models and key by key.

The frozen clock reads 2026-03-01T12:00Z; Los Angeles moves to daylight time on 2026-03-08.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from openadr3.entities.models import Event
from openadr3.entities.raw import RawEvent

from agentkeys.credentials.scopes import Scope
from agentkeys.sandbox.price_signal.open_adr import OpenAdrEventDto
from agentkeys.sandbox.tariffs.catalog import load_catalog
from agentkeys.sandbox.tariffs.engine import price_signal
from agentkeys.sandbox.tariffs.model import ExportCredit
from tests.support.assertions import assert_envelope, assert_validation_failed, parse_instant
from tests.support.catalog import DUKE_RS, E_1, E_TOU_C, NO_SUCH_HOME, SCE_TOU_D
from tests.support.factories import key_with, new_home

ROUTE = "/v1/homes/{id}/price_signal/open_adr"
EVENT_KEYS = {
    "objectType",
    "programID",
    "eventName",
    "payloadDescriptors",
    "intervalPeriod",
    "intervals",
}
DESCRIPTOR_KEYS = {"objectType", "payloadType", "units", "currency"}
# A window across the switch to daylight time: 92 local quarter-hours on 2026-03-08.
DST_WINDOW = {"startTime": "2026-03-08T08:00:00Z", "endTime": "2026-03-09T07:00:00Z"}


# Whether each plan credits exports, by its ratebook file's "metering": net metering (pge-e-1,
# duke-carolinas-rs) credits them at retail; "none" (pge-e-tou-c, sce-tou-d-4-9pm) does not.
CREDITS_EXPORTS = {E_1: True, DUKE_RS: True, E_TOU_C: False, SCE_TOU_D: False}


def route(home_id: str) -> str:
    return ROUTE.format(id=home_id)


def event_of(response: httpx.Response) -> dict[str, Any]:
    """The answer, checked to be an OpenADR 3 event by ``openadr3`` and, as that library ignores
    unknown keys, by its exact key sets."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    event: dict[str, Any] = response.json()
    RawEvent.model_validate(event)
    assert set(event) == EVENT_KEYS, event.keys()
    assert event["objectType"] == "EVENT"
    for descriptor in event["payloadDescriptors"]:
        assert set(descriptor) == DESCRIPTOR_KEYS, descriptor
        assert descriptor["objectType"] == "EVENT_PAYLOAD_DESCRIPTOR"
        assert (descriptor["units"], descriptor["currency"]) == ("KWH", "USD")
    assert set(event["intervalPeriod"]) == {"start", "duration"}
    assert event["intervalPeriod"]["duration"] == "PT15M"
    types = [descriptor["payloadType"] for descriptor in event["payloadDescriptors"]]
    for index, interval in enumerate(event["intervals"]):
        assert set(interval) == {"id", "payloads"}, interval
        assert interval["id"] == index
        assert [payload["type"] for payload in interval["payloads"]] == types
        for payload in interval["payloads"]:
            assert set(payload) == {"type", "values"}, payload
            assert len(payload["values"]) == 1
    return event


def payload_values(event: dict[str, Any], kind: str) -> list[float]:
    return [
        payload["values"][0]
        for interval in event["intervals"]
        for payload in interval["payloads"]
        if payload["type"] == kind
    ]


async def signal_and_event(
    client: httpx.AsyncClient, plan: str, body: dict[str, str] | None
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    home_id, headers = await new_home(client, "homes", Scope.PRICE_SIGNAL_READ, plan=plan)
    signal = await client.post(f"/v1/homes/{home_id}/price_signal", json=body, headers=headers)
    assert signal.status_code == 200, signal.text
    event = event_of(await client.post(route(home_id), json=body, headers=headers))
    return home_id, signal.json(), event


class TestSamePricesAsThePriceSignal:
    @pytest.mark.parametrize("plan", [E_TOU_C, E_1, SCE_TOU_D, DUKE_RS])
    @pytest.mark.parametrize(
        "body",
        [
            None,
            DST_WINDOW,
            {"startTime": "2026-06-30T20:07:00-07:00", "endTime": "2026-07-02T09:00:00-07:00"},
        ],
        ids=["default-window", "daylight-saving-day", "summer-offset"],
    )
    async def test_interval_for_interval(
        self, client: httpx.AsyncClient, plan: str, body: dict[str, str] | None
    ) -> None:
        home_id, signal, event = await signal_and_event(client, plan, body)

        assert event["programID"] == plan
        assert home_id in event["eventName"]
        assert event["intervalPeriod"]["start"] == signal["startTime"]
        assert len(event["intervals"]) == len(signal["prices"]) > 0
        assert payload_values(event, "PRICE") == signal["import"]
        types = [d["payloadType"] for d in event["payloadDescriptors"]]
        if CREDITS_EXPORTS[plan]:
            assert types == ["PRICE", "EXPORT_PRICE"]
            assert payload_values(event, "EXPORT_PRICE") == signal["export"]
        else:
            assert types == ["PRICE"]
            assert set(signal["export"]) == {0.0}

    async def test_the_intervals_resolve_to_the_signals_quarter_hours(
        self, client: httpx.AsyncClient
    ) -> None:
        _, signal, event = await signal_and_event(client, SCE_TOU_D, DST_WINDOW)

        resolved = Event.from_raw(event).resolved_intervals()

        assert len(resolved) == 23 * 4  # the local day lost an hour; UTC quarter-hours did not
        start = parse_instant(signal["startTime"])
        for index, interval in enumerate(resolved):
            assert interval.interval_period is not None
            assert interval.interval_period.period is not None
            begins, ends = interval.interval_period.period
            assert begins == start + index * timedelta(minutes=15)
            assert ends - begins == timedelta(minutes=15)
        assert ends == parse_instant(signal["endTime"])


class TestLocalTimes:
    async def test_a_time_without_offset_is_the_homes_local_time(
        self, client: httpx.AsyncClient
    ) -> None:
        # A San Francisco home: 16:00 PDT (UTC-7) on 2026-07-01 is 23:00Z.
        body = {"startTime": "2026-07-01T16:00:00", "endTime": "2026-07-01T17:00:00"}
        _, signal, event = await signal_and_event(client, E_TOU_C, body)

        assert event["intervalPeriod"]["start"] == "2026-07-01T23:00:00.000Z"
        assert signal["startTime"] == "2026-07-01T23:00:00.000Z"
        assert len(event["intervals"]) == 4


class TestExportPrice:
    def test_a_plan_that_credits_no_export_has_only_price_payloads(self) -> None:
        found = load_catalog().plan(E_TOU_C)
        assert found is not None
        _, plan = found
        no_export = plan.model_copy(update={"export_credit": ExportCredit(type="none")})
        start = datetime(2026, 3, 1, 12, tzinfo=UTC)
        points = price_signal(
            no_export,
            timezone=ZoneInfo("America/Los_Angeles"),
            start=start,
            end=start + timedelta(hours=2),
        )

        event = OpenAdrEventDto.of(home_id="ws_home_x", plan=no_export, start=start, points=points)
        wire = event.model_dump(mode="json")

        RawEvent.model_validate(wire)
        assert [d["payloadType"] for d in wire["payloadDescriptors"]] == ["PRICE"]
        assert len(wire["intervals"]) == 8
        for interval, point in zip(wire["intervals"], points, strict=True):
            assert interval["payloads"] == [{"type": "PRICE", "values": [point.import_price]}]


class TestRefusals:
    async def test_key_without_price_signal_read_is_refused_with_403_naming_the_scope(
        self, client: httpx.AsyncClient
    ) -> None:
        home_id, headers = await new_home(client, "homes", "calculate", Scope.UTILITY_READ)

        response = await client.post(route(home_id), headers=headers)

        envelope = assert_envelope(response, status=403, code="AUTH_INSUFFICIENT_SCOPE")
        assert "price_signal:read" in envelope["message"]

    async def test_another_credentials_home_is_404(self, client: httpx.AsyncClient) -> None:
        home_id, _ = await new_home(client, "homes", Scope.PRICE_SIGNAL_READ)
        theirs = await key_with(client, "homes", Scope.PRICE_SIGNAL_READ, organization="Other Co")

        for body in (None, DST_WINDOW):
            response = await client.post(route(home_id), json=body, headers=theirs)
            assert_envelope(response, status=404, code="NOT_FOUND")

    async def test_an_unknown_home_is_404(self, client: httpx.AsyncClient) -> None:
        headers = await key_with(client, Scope.PRICE_SIGNAL_READ)

        response = await client.post(route(NO_SUCH_HOME), headers=headers)

        assert_envelope(response, status=404, code="NOT_FOUND")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"startTime": "2026-03-01T00:00:00Z"}, "endTime"),
            ({"startTime": "yesterday", "endTime": "2026-03-02T00:00:00Z"}, "startTime"),
            ({"startTime": "2026-03-02T00:00:00Z", "endTime": "2026-03-01T00:00:00Z"}, "endTime"),
            ({"startTime": "2026-03-01T00:00:00Z", "endTime": "2026-04-02T00:00:00Z"}, "endTime"),
            (["2026-03-01"], "body"),
        ],
        ids=["one-of-two", "not-iso", "backwards", "over-31-days", "not-an-object"],
    )
    async def test_a_bad_body_is_400_naming_the_field(
        self, client: httpx.AsyncClient, body: Any, field: str
    ) -> None:
        home_id, headers = await new_home(client, "homes", Scope.PRICE_SIGNAL_READ)

        response = await client.post(route(home_id), json=body, headers=headers)

        assert_validation_failed(response, field)


async def test_openapi_documents_the_event_shape(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()

    operation = document["paths"][ROUTE]["post"]
    ok = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/OpenAdrEventDto"}
    for status in ("400", "401", "403", "404", "429"):
        error = operation["responses"][status]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/ApiErrorEnvelopeDto"}
    schemas = document["components"]["schemas"]
    assert set(schemas["OpenAdrEventDto"]["properties"]) == EVENT_KEYS
    assert set(schemas["IntervalDto"]["properties"]) == {"id", "payloads"}
    assert set(schemas["ValuesMapDto"]["properties"]) == {"type", "values"}
    assert set(schemas["IntervalPeriodDto"]["properties"]) == {"start", "duration"}
    assert set(schemas["EventPayloadDescriptorDto"]["properties"]) == DESCRIPTOR_KEYS
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/GetPriceSignalRequestDto"} in body["anyOf"]
