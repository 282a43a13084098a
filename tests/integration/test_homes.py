"""Homes through HTTP: create, list, get, update, remove; ownership, cap, scopes (CONTRACT §7)."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import create_async_engine

from agentkeys.clock import FrozenClock
from agentkeys.credentials.scopes import Scope
from agentkeys.validation import MAX_FREE_FORM_BYTES
from tests.support.app import START
from tests.support.assertions import (
    assert_envelope,
    assert_validation_failed,
    parse_instant,
    text,
)
from tests.support.catalog import (
    COMED,
    COMED_BES,
    CONED,
    CONED_SC_1,
    DUKE,
    DUKE_RS,
    E_1,
    E_TOU_C,
    LEGACY_IDS,
    NO_SUCH_HOME,
    PGE,
    SCE,
    SCE_TOU_D,
    UNKNOWN_PLAN,
    UTILITY_OF_PLAN,
)
from tests.support.databases import DatabaseProbe
from tests.support.factories import create_home, issue_credential, key_header, key_with

# Homes are stored: ownership, the cap, simultaneous updates, bounded columns.
pytestmark = pytest.mark.both_backends

CREATE = "/v1/homes/create"
LIST = "/v1/homes/list"
HOME_ID = re.compile(r"ws_home_[0-9a-f]{32}")
# ClientHomeDto as WattShift documents it (the answer may carry more).
DOCUMENTED_FIELDS = {
    "id",
    "createdAt",
    "updatedAt",
    "energyMarketBiddingEnabled",
    "carbonSignalIntensity",
    "modalHome",
    "name",
    "userId",
    "UtilityId",
    "ratePlanId",
    "unstructuredAddress",
    "timezone",
    "country",
    "city",
    "zipcode",
    "streetAddress",
    "meterId",
    "meterIdSource",
    "enabled",
    "channelPartnerId",
}
ONE_DAY = [0.5] * 96
MARCH_2026 = {"month": 3, "year": 2026, "usage": [ONE_DAY] * 31}
PERIOD = {"startDate": "2026-03-01", "endDate": "2026-03-02", "usage": [ONE_DAY]}


def home_route(home_id: str, action: str) -> str:
    return f"/v1/homes/{home_id}/{action}"


async def owner_key(client: httpx.AsyncClient) -> dict[str, str]:
    return await key_with(client, "homes", "calculate", Scope.PRICE_SIGNAL_READ)


async def get_home(
    client: httpx.AsyncClient, headers: dict[str, str], home_id: str
) -> dict[str, Any]:
    response = await client.post(home_route(home_id, "get"), headers=headers)
    assert response.status_code == 200, response.text
    home: dict[str, Any] = response.json()
    return home


async def listed_ids(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    response = await client.post(LIST, headers=headers)
    assert response.status_code == 200, response.text
    return [home["id"] for home in response.json()]


async def write(db: DatabaseProbe, sql: str, **params: object) -> None:
    """Change stored rows behind the app's back (as an older release left them)."""
    engine = create_async_engine(db.url)
    try:
        async with engine.begin() as connection:
            await connection.execute(sql_text(sql), params)
    finally:
        await engine.dispose()


async def count_homes(db: DatabaseProbe) -> int:
    rows = await db.rows("SELECT COUNT(*) AS n FROM homes")
    return int(rows[0]["n"])


class TestCreateHome:
    async def test_create_answers_201_with_the_client_home_fields(
        self, client: httpx.AsyncClient
    ) -> None:
        body = {
            "name": "My Test Home",
            "userId": "user_123456789",
            "utilityId": PGE,
            "ratePlanId": E_TOU_C,
            "unstructuredAddress": "123 Market St, San Francisco, CA 94107",
            "country": "US",
            "city": "San Francisco",
            "zipcode": "94107",
            "streetAddress": "123 Market St",
            "solarSystemSizeKw": 5,
            "isNonNetMetered": False,
            "carbonSignalIntensity": "HIGH",
            "meterId": "meter-1",
            "meterIdSource": "utility",
            "channelPartnerId": "partner-1",
        }
        response = await client.post(CREATE, json=body, headers=await owner_key(client))

        assert response.status_code == 201, response.text
        home = response.json()
        assert set(home) >= DOCUMENTED_FIELDS
        assert HOME_ID.fullmatch(home["id"]), home["id"]
        assert home["createdAt"] == home["updatedAt"] == "2026-03-01T12:00:00.000Z"
        assert parse_instant(home["createdAt"]) == START
        assert home["UtilityId"] == home["utilityId"] == PGE
        assert home["ratePlanId"] == E_TOU_C
        assert home["timezone"] == "America/Los_Angeles"
        assert home["energyMarketBiddingEnabled"] is False
        assert home["modalHome"] is False
        assert home["enabled"] is True
        for field in (
            "name",
            "userId",
            "unstructuredAddress",
            "country",
            "city",
            "zipcode",
            "streetAddress",
            "solarSystemSizeKw",
            "isNonNetMetered",
            "carbonSignalIntensity",
            "meterId",
            "meterIdSource",
            "channelPartnerId",
        ):
            assert home[field] == body[field], field

    async def test_a_name_alone_makes_a_home_without_utility_plan_or_timezone(
        self, client: httpx.AsyncClient
    ) -> None:
        home = await create_home(client, await owner_key(client))

        assert home["name"] == "My Test Home"
        assert home["utilityId"] is None
        assert home["UtilityId"] is None
        assert home["ratePlanId"] is None
        assert home["timezone"] is None
        assert home["carbonSignalIntensity"] == "MEDIUM"

    async def test_each_home_gets_its_own_id_and_is_stored_for_its_credential(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        issued = await issue_credential(client, requested_scopes=["homes"])
        headers = key_header(issued["credential"])

        first = await create_home(client, headers)
        second = await create_home(client, headers)

        assert first["id"] != second["id"]
        rows = await db.rows("SELECT id, credential_id FROM homes ORDER BY id")
        assert rows == sorted(
            [
                {"id": first["id"], "credential_id": issued["credential_id"]},
                {"id": second["id"], "credential_id": issued["credential_id"]},
            ],
            key=lambda row: row["id"],
        )

    @pytest.mark.parametrize(
        ("fields", "utility_id", "timezone"),
        [
            ({"utilityId": DUKE}, DUKE, "America/New_York"),
            ({"utilityId": SCE, "ratePlanId": SCE_TOU_D}, SCE, "America/Los_Angeles"),
            ({"ratePlanId": DUKE_RS}, DUKE, "America/New_York"),
            ({"ratePlanId": SCE_TOU_D}, SCE, "America/Los_Angeles"),
            ({"UtilityId": DUKE}, DUKE, "America/New_York"),
            ({"UtilityId": PGE, "ratePlanId": E_TOU_C}, PGE, "America/Los_Angeles"),
        ],
        ids=[
            "utility-alone",
            "utility-and-plan",
            "plan-alone-duke",
            "plan-alone-sce",
            "deprecated-UtilityId",
            "deprecated-UtilityId-and-plan",
        ],
    )
    async def test_the_utility_and_timezone_come_from_the_utility_or_the_plan(
        self,
        client: httpx.AsyncClient,
        fields: dict[str, str],
        utility_id: str,
        timezone: str,
    ) -> None:
        home = await create_home(client, await owner_key(client), **fields)

        assert home["utilityId"] == home["UtilityId"] == utility_id
        assert home["timezone"] == timezone
        assert home["ratePlanId"] == fields.get("ratePlanId")

    async def test_an_unknown_utility_is_refused_naming_utility_id(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        response = await client.post(
            CREATE, json={"name": "Home", "utilityId": "99999"}, headers=await owner_key(client)
        )
        assert_validation_failed(response, "utilityId")
        assert await count_homes(db) == 0

    @pytest.mark.parametrize("plan_id", [UNKNOWN_PLAN, "not-a-plan"])
    async def test_an_unknown_rate_plan_is_refused_naming_rate_plan_id(
        self, client: httpx.AsyncClient, db: DatabaseProbe, plan_id: str
    ) -> None:
        response = await client.post(
            CREATE,
            json={"name": "Home", "utilityId": PGE, "ratePlanId": plan_id},
            headers=await owner_key(client),
        )
        assert_validation_failed(response, "ratePlanId")
        assert await count_homes(db) == 0

    @pytest.mark.parametrize(
        ("utility_field", "utility_id", "plan_id"),
        [("utilityId", PGE, SCE_TOU_D), ("utilityId", SCE, E_TOU_C), ("UtilityId", DUKE, E_TOU_C)],
    )
    async def test_a_plan_of_another_utility_is_refused_naming_rate_plan_id(
        self,
        client: httpx.AsyncClient,
        db: DatabaseProbe,
        utility_field: str,
        utility_id: str,
        plan_id: str,
    ) -> None:
        body = {"name": "Home", utility_field: utility_id, "ratePlanId": plan_id}
        response = await client.post(CREATE, json=body, headers=await owner_key(client))
        envelope = assert_validation_failed(response, "ratePlanId")
        assert utility_id in envelope["field_errors"][0]["message"]
        assert await count_homes(db) == 0

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("carbonSignalIntensity", "EXTREME"),
            ("zipcode", "ABCDE"),
            ("solarSystemSizeKw", -1),
            ("isNonNetMetered", "no"),
            ("city", text(256)),
        ],
    )
    async def test_an_invalid_optional_field_is_refused_by_name(
        self, client: httpx.AsyncClient, field: str, value: object
    ) -> None:
        response = await client.post(
            CREATE, json={"name": "Home", field: value}, headers=await owner_key(client)
        )
        assert_validation_failed(response, field)


class TestHomeName:
    @pytest.mark.parametrize("length", [1, 255])
    async def test_1_and_255_characters_are_accepted_on_create(
        self, client: httpx.AsyncClient, length: int
    ) -> None:
        home = await create_home(client, await owner_key(client), name=text(length))
        assert home["name"] == text(length)

    @pytest.mark.parametrize(
        "body",
        [
            {"name": ""},
            {"name": text(256)},
            {"name": "   "},
            {"name": None},
            {"name": 5},
            {"city": "San Francisco"},
        ],
        ids=["empty", "256", "whitespace", "null", "number", "absent"],
    )
    async def test_a_missing_or_out_of_range_name_is_refused_on_create(
        self, client: httpx.AsyncClient, db: DatabaseProbe, body: dict[str, Any]
    ) -> None:
        response = await client.post(CREATE, json=body, headers=await owner_key(client))
        assert_validation_failed(response, "name")
        assert await count_homes(db) == 0

    @pytest.mark.parametrize("length", [1, 255])
    async def test_1_and_255_characters_are_accepted_on_update(
        self, client: httpx.AsyncClient, length: int
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers)

        response = await client.post(
            home_route(home["id"], "update"), json={"name": text(length)}, headers=headers
        )

        assert response.status_code == 200, response.text
        assert response.json()["name"] == text(length)

    @pytest.mark.parametrize(
        "name",
        ["", text(256), "   ", None, 5],
        ids=["empty", "256", "whitespace", "null", "number"],
    )
    async def test_an_out_of_range_or_cleared_name_is_refused_on_update(
        self, client: httpx.AsyncClient, clock: FrozenClock, name: object
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers)
        clock.advance(timedelta(minutes=1))

        response = await client.post(
            home_route(home["id"], "update"), json={"name": name}, headers=headers
        )

        assert_validation_failed(response, "name")
        assert await get_home(client, headers, home["id"]) == home


class TestListHomes:
    async def test_a_new_credential_has_no_homes(self, client: httpx.AsyncClient) -> None:
        assert await listed_ids(client, await owner_key(client)) == []

    async def test_list_holds_only_this_credentials_homes_oldest_first(
        self, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        mine = await owner_key(client)
        theirs = await key_with(client, "homes", organization="Other Energy Co")
        created = []
        for name in ("first", "second", "third"):
            created.append(await create_home(client, mine, name=name))
            await create_home(client, theirs, name=f"their {name}")
            clock.advance(timedelta(seconds=1))

        response = await client.post(LIST, headers=mine)

        assert response.status_code == 200, response.text
        assert response.json() == created
        assert [home["name"] for home in response.json()] == ["first", "second", "third"]

    async def test_list_order_is_by_creation_not_by_last_update(
        self, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        headers = await owner_key(client)
        older = await create_home(client, headers, name="older")
        clock.advance(timedelta(minutes=1))
        newer = await create_home(client, headers, name="newer")
        clock.advance(timedelta(minutes=1))
        updated = await client.post(
            home_route(older["id"], "update"), json={"city": "Oakland"}, headers=headers
        )
        assert updated.status_code == 200, updated.text

        assert await listed_ids(client, headers) == [older["id"], newer["id"]]


class TestGetHome:
    async def test_get_answers_the_home_as_created(self, client: httpx.AsyncClient) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, ratePlanId=E_TOU_C, city="San Francisco")

        assert await get_home(client, headers, home["id"]) == home

    @pytest.mark.parametrize("home_id", [NO_SUCH_HOME, "anything", "ws_home_"])
    async def test_an_unknown_home_is_404(self, client: httpx.AsyncClient, home_id: str) -> None:
        response = await client.post(home_route(home_id, "get"), headers=await owner_key(client))
        assert_envelope(response, status=404, code="NOT_FOUND")


class TestUpdateHome:
    async def test_only_the_fields_sent_change_and_updated_at_moves_with_the_clock(
        self, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(
            client, headers, ratePlanId=E_TOU_C, city="San Francisco", zipcode="94107"
        )
        clock.advance(timedelta(minutes=5, milliseconds=250))

        response = await client.post(
            home_route(home["id"], "update"),
            json={"streetAddress": "1 Market St", "carbonSignalIntensity": "LOW"},
            headers=headers,
        )

        assert response.status_code == 200, response.text
        updated = response.json()
        assert updated == {
            **home,
            "streetAddress": "1 Market St",
            "carbonSignalIntensity": "LOW",
            "updatedAt": "2026-03-01T12:05:00.250Z",
        }
        assert updated["createdAt"] == home["createdAt"]
        assert await get_home(client, headers, home["id"]) == updated

    async def test_null_clears_an_optional_field(self, client: httpx.AsyncClient) -> None:
        headers = await owner_key(client)
        home = await create_home(
            client, headers, city="San Francisco", zipcode="94107", solarSystemSizeKw=5.5
        )

        response = await client.post(
            home_route(home["id"], "update"),
            json={"city": None, "solarSystemSizeKw": None},
            headers=headers,
        )

        assert response.status_code == 200, response.text
        assert response.json() == {**home, "city": None, "solarSystemSizeKw": None}
        assert (await get_home(client, headers, home["id"]))["zipcode"] == "94107"

    async def test_an_empty_update_changes_nothing_but_updated_at(
        self, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, ratePlanId=E_TOU_C)
        clock.advance(timedelta(hours=1))

        response = await client.post(home_route(home["id"], "update"), json={}, headers=headers)

        assert response.status_code == 200, response.text
        assert response.json() == {**home, "updatedAt": "2026-03-01T13:00:00.000Z"}

    async def test_flags_change_when_sent(self, client: httpx.AsyncClient) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers)

        response = await client.post(
            home_route(home["id"], "update"),
            json={"enabled": False, "isNonNetMetered": True},
            headers=headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["enabled"] is False
        assert response.json()["isNonNetMetered"] is True

    async def test_a_home_can_move_to_another_utility_and_plan(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, ratePlanId=E_TOU_C)

        response = await client.post(
            home_route(home["id"], "update"),
            json={"utilityId": DUKE, "ratePlanId": DUKE_RS},
            headers=headers,
        )

        assert response.status_code == 200, response.text
        moved = response.json()
        assert (moved["utilityId"], moved["UtilityId"]) == (DUKE, DUKE)
        assert moved["ratePlanId"] == DUKE_RS
        assert moved["timezone"] == "America/New_York"

    async def test_null_rate_plan_id_clears_the_plan_and_keeps_the_utility(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, ratePlanId=E_TOU_C)

        response = await client.post(
            home_route(home["id"], "update"), json={"ratePlanId": None}, headers=headers
        )

        assert response.status_code == 200, response.text
        assert response.json()["ratePlanId"] is None
        assert response.json()["utilityId"] == PGE
        assert response.json()["timezone"] == "America/Los_Angeles"

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"ratePlanId": UNKNOWN_PLAN}, "ratePlanId"),
            ({"utilityId": "99999"}, "utilityId"),
            ({"utilityId": SCE, "ratePlanId": E_TOU_C}, "ratePlanId"),
            ({"zipcode": "941O7"}, "zipcode"),
        ],
        ids=["unknown-plan", "unknown-utility", "plan-of-another-utility", "bad-zipcode"],
    )
    async def test_a_refused_update_changes_nothing(
        self, client: httpx.AsyncClient, clock: FrozenClock, body: dict[str, Any], field: str
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, ratePlanId=E_TOU_C, city="San Francisco")
        clock.advance(timedelta(minutes=1))

        response = await client.post(home_route(home["id"], "update"), json=body, headers=headers)

        assert_validation_failed(response, field)
        assert await get_home(client, headers, home["id"]) == home

    async def test_simultaneous_updates_of_different_homes_all_succeed(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await owner_key(client)
        homes = [await create_home(client, headers, name=f"home {n}") for n in range(6)]

        responses = await asyncio.gather(
            *(
                client.post(
                    home_route(home["id"], "update"), json={"city": "Oakland"}, headers=headers
                )
                for home in homes
            )
        )

        assert [response.status_code for response in responses] == [200] * 6, [
            response.text for response in responses if response.status_code != 200
        ]
        for home in homes:
            assert (await get_home(client, headers, home["id"]))["city"] == "Oakland"

    async def test_updating_an_unknown_home_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            home_route(NO_SUCH_HOME, "update"),
            json={"name": "Renamed"},
            headers=await owner_key(client),
        )
        assert_envelope(response, status=404, code="NOT_FOUND")


class TestRemoveHome:
    async def test_remove_answers_the_removed_home_and_then_it_is_gone(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        headers = await owner_key(client)
        kept = await create_home(client, headers, name="kept")
        home = await create_home(client, headers, name="removed", ratePlanId=E_TOU_C)

        removed = await client.post(home_route(home["id"], "remove"), headers=headers)

        assert removed.status_code == 200, removed.text
        assert removed.json() == home
        for action in ("get", "remove"):
            again = await client.post(home_route(home["id"], action), headers=headers)
            assert_envelope(again, status=404, code="NOT_FOUND")
        update = await client.post(
            home_route(home["id"], "update"), json={"name": "back"}, headers=headers
        )
        assert_envelope(update, status=404, code="NOT_FOUND")
        assert await listed_ids(client, headers) == [kept["id"]]
        assert await db.rows("SELECT id FROM homes") == [{"id": kept["id"]}]

    async def test_removing_an_unknown_home_is_404(self, client: httpx.AsyncClient) -> None:
        response = await client.post(
            home_route(NO_SUCH_HOME, "remove"), headers=await owner_key(client)
        )
        assert_envelope(response, status=404, code="NOT_FOUND")


class TestHomeOwnership:
    @pytest.mark.parametrize(
        ("action", "body"),
        [
            ("get", None),
            ("update", {"name": "Taken over", "city": "Elsewhere"}),
            ("remove", None),
            ("bill/monthly", MARCH_2026),
            ("bill/period", PERIOD),
            ("price_signal", None),
        ],
    )
    async def test_another_credentials_home_is_404_and_stays_unchanged(
        self,
        client: httpx.AsyncClient,
        db: DatabaseProbe,
        action: str,
        body: dict[str, Any] | None,
    ) -> None:
        mine = await owner_key(client)
        theirs = await key_with(
            client, "homes", "calculate", Scope.PRICE_SIGNAL_READ, organization="Other Energy Co"
        )
        home = await create_home(client, mine, ratePlanId=E_TOU_C, city="San Francisco")

        refused = await client.post(home_route(home["id"], action), json=body, headers=theirs)
        unknown = await client.post(home_route(NO_SUCH_HOME, action), json=body, headers=theirs)

        assert_envelope(refused, status=404, code="NOT_FOUND")
        assert_envelope(unknown, status=404, code="NOT_FOUND")
        assert await get_home(client, mine, home["id"]) == home
        assert await count_homes(db) == 1

    async def test_another_credential_never_lists_the_home(self, client: httpx.AsyncClient) -> None:
        mine = await owner_key(client)
        theirs = await key_with(client, "homes", organization="Other Energy Co")
        home = await create_home(client, mine)

        assert await listed_ids(client, theirs) == []
        assert await listed_ids(client, mine) == [home["id"]]

    async def test_a_second_key_of_the_same_organization_does_not_own_the_home(
        self, client: httpx.AsyncClient
    ) -> None:
        first = await owner_key(client)
        second = await owner_key(client)
        home = await create_home(client, first)

        response = await client.post(home_route(home["id"], "get"), headers=second)

        assert_envelope(response, status=404, code="NOT_FOUND")
        assert await listed_ids(client, second) == []


class TestMalformedHomeIds:
    """Path ids that cannot be home ids are a plain 404 on every backend, never a 500."""

    @pytest.mark.parametrize(
        "home_id",
        ["ws_home_a%00b", "ws_home_" + "0" * 31 + "%00", "x" * 5000, "ws_home_ABCDEF"],
        ids=["nul", "nul-at-the-end", "long", "upper-case"],
    )
    @pytest.mark.parametrize(
        ("action", "body"),
        [
            ("get", None),
            ("update", {"name": "renamed"}),
            ("remove", None),
            ("bill/monthly", {"month": 2, "year": 2026, "usage": [[0.0] * 96] * 28}),
            ("price_signal", None),
        ],
    )
    async def test_a_malformed_id_is_not_found(
        self,
        client: httpx.AsyncClient,
        home_id: str,
        action: str,
        body: dict[str, Any] | None,
    ) -> None:
        headers = await owner_key(client)

        response = await client.post(home_route(home_id, action), json=body, headers=headers)

        assert_envelope(response, status=404, code="NOT_FOUND")


class TestHomeWithoutRatePlan:
    @pytest.mark.parametrize(
        ("action", "body"),
        [("bill/monthly", MARCH_2026), ("bill/period", PERIOD), ("price_signal", None)],
    )
    @pytest.mark.parametrize("fields", [{}, {"utilityId": PGE}], ids=["no-utility", "utility-only"])
    async def test_pricing_a_home_without_a_rate_plan_names_rate_plan_id(
        self,
        client: httpx.AsyncClient,
        action: str,
        body: dict[str, Any] | None,
        fields: dict[str, str],
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, **fields)

        response = await client.post(home_route(home["id"], action), json=body, headers=headers)

        assert_validation_failed(response, "ratePlanId")

    async def test_a_cleared_rate_plan_makes_the_home_unpriceable(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, ratePlanId=E_TOU_C)
        priced = await client.post(home_route(home["id"], "price_signal"), headers=headers)
        assert priced.status_code == 200, priced.text

        cleared = await client.post(
            home_route(home["id"], "update"), json={"ratePlanId": None}, headers=headers
        )
        assert cleared.status_code == 200, cleared.text
        response = await client.post(home_route(home["id"], "price_signal"), headers=headers)

        assert_validation_failed(response, "ratePlanId")


class TestHomeLimit:
    async def test_the_101st_home_is_refused_until_one_is_removed(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        headers = await owner_key(client)
        homes = [await create_home(client, headers, name=f"home {n}") for n in range(100)]

        refused = await client.post(CREATE, json={"name": "one too many"}, headers=headers)

        envelope = assert_envelope(refused, status=403, code="FORBIDDEN")
        assert "100" in envelope["message"]
        assert await count_homes(db) == 100
        assert len(await listed_ids(client, headers)) == 100
        removed = await client.post(home_route(homes[0]["id"], "remove"), headers=headers)
        assert removed.status_code == 200, removed.text
        await create_home(client, headers, name="in its place")
        assert await count_homes(db) == 100

    async def test_the_limit_is_per_credential(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        full = await owner_key(client)
        for n in range(100):
            await create_home(client, full, name=f"home {n}")
        other = await key_with(client, "homes", organization="Other Energy Co")

        await create_home(client, other, name="still allowed")

        assert await count_homes(db) == 101

    async def test_simultaneous_creates_all_succeed(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        headers = await owner_key(client)

        responses = await asyncio.gather(
            *(client.post(CREATE, json={"name": f"home {n}"}, headers=headers) for n in range(8))
        )

        assert [response.status_code for response in responses] == [201] * 8, [
            response.text for response in responses if response.status_code != 201
        ]
        assert await count_homes(db) == 8

    async def test_simultaneous_creates_at_the_limit_never_pass_it(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        headers = await owner_key(client)
        for n in range(98):
            await create_home(client, headers, name=f"home {n}")

        responses = await asyncio.gather(
            *(client.post(CREATE, json={"name": f"late {n}"}, headers=headers) for n in range(8))
        )

        statuses = sorted(response.status_code for response in responses)
        assert statuses == [201] * 2 + [403] * 6, [response.text for response in responses]
        assert await count_homes(db) == 100


class TestHomesAuthentication:
    @pytest.mark.parametrize(
        ("route", "body"),
        [
            (CREATE, {"name": "Home"}),
            (LIST, None),
            (home_route(NO_SUCH_HOME, "get"), None),
            (home_route(NO_SUCH_HOME, "update"), {"name": "Home"}),
            (home_route(NO_SUCH_HOME, "remove"), None),
        ],
        ids=["create", "list", "get", "update", "remove"],
    )
    async def test_request_without_a_key_is_refused_with_401(
        self, client: httpx.AsyncClient, route: str, body: dict[str, Any] | None
    ) -> None:
        assert_envelope(
            await client.post(route, json=body), status=401, code="AUTH_MISSING_API_KEY"
        )

    async def test_homes_read_can_list_and_get_but_not_write(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        writer = await owner_key(client)
        home = await create_home(client, writer)
        reader = await key_with(client, Scope.HOMES_READ, organization="Reader Co")

        assert await listed_ids(client, reader) == []
        unknown = await client.post(home_route(NO_SUCH_HOME, "get"), headers=reader)
        assert_envelope(unknown, status=404, code="NOT_FOUND")
        for route, body in (
            (CREATE, {"name": "Home"}),
            (home_route(home["id"], "update"), {"name": "Renamed"}),
            (home_route(home["id"], "remove"), None),
        ):
            response = await client.post(route, json=body, headers=reader)
            envelope = assert_envelope(response, status=403, code="AUTH_INSUFFICIENT_SCOPE")
            assert Scope.HOMES_WRITE in envelope["message"]
        assert await get_home(client, writer, home["id"]) == home
        assert await count_homes(db) == 1

    async def test_homes_write_can_write_but_not_list_or_get(
        self, client: httpx.AsyncClient
    ) -> None:
        writer = await key_with(client, Scope.HOMES_WRITE)
        home = await create_home(client, writer)

        for route in (LIST, home_route(home["id"], "get")):
            response = await client.post(route, headers=writer)
            envelope = assert_envelope(response, status=403, code="AUTH_INSUFFICIENT_SCOPE")
            assert Scope.HOMES_READ in envelope["message"]
        updated = await client.post(
            home_route(home["id"], "update"), json={"name": "Renamed"}, headers=writer
        )
        assert updated.status_code == 200, updated.text
        removed = await client.post(home_route(home["id"], "remove"), headers=writer)
        assert removed.status_code == 200, removed.text

    @pytest.mark.parametrize(
        ("route", "body", "scope"),
        [
            (CREATE, {"name": "Home"}, Scope.HOMES_WRITE),
            (LIST, None, Scope.HOMES_READ),
            (home_route(NO_SUCH_HOME, "get"), None, Scope.HOMES_READ),
            (home_route(NO_SUCH_HOME, "update"), {"name": "Home"}, Scope.HOMES_WRITE),
            (home_route(NO_SUCH_HOME, "remove"), None, Scope.HOMES_WRITE),
        ],
        ids=["create", "list", "get", "update", "remove"],
    )
    async def test_key_without_homes_scopes_is_refused_with_403_naming_the_scope(
        self,
        client: httpx.AsyncClient,
        db: DatabaseProbe,
        route: str,
        body: dict[str, Any] | None,
        scope: str,
    ) -> None:
        headers = await key_with(client, Scope.UTILITY_READ, "calculate", Scope.PRICE_SIGNAL_READ)

        response = await client.post(route, json=body, headers=headers)

        envelope = assert_envelope(response, status=403, code="AUTH_INSUFFICIENT_SCOPE")
        assert scope in envelope["message"]
        assert await count_homes(db) == 0


# A ZIP code in each catalog utility's territory and in no other's of the three (San Francisco
# for PG&E, Newport Beach in Orange County for SCE, Charlotte for Duke; EIA-861 also lists PG&E
# in San Bernardino County, so a ZIP there takes either utility's plans).
ZIP_OF = {PGE: "94107", SCE: "92660", DUKE: "28202"}


class TestHomeTerritory:
    """A home's plan must belong to a utility serving its ZIP code (by ZIP or by county), on
    create and on every update that moves it."""

    @pytest.mark.parametrize("plan_id", sorted(UTILITY_OF_PLAN))
    @pytest.mark.parametrize("zip_utility", sorted(ZIP_OF))
    async def test_a_plan_is_accepted_exactly_where_its_utility_serves_the_zip(
        self, client: httpx.AsyncClient, db: DatabaseProbe, plan_id: str, zip_utility: str
    ) -> None:
        zipcode = ZIP_OF[zip_utility]
        body = {"name": "Home", "zipcode": zipcode, "ratePlanId": plan_id}

        response = await client.post(CREATE, json=body, headers=await owner_key(client))

        if UTILITY_OF_PLAN[plan_id] == zip_utility:
            assert response.status_code == 201, response.text
            assert response.json()["utilityId"] == zip_utility
            return
        envelope = assert_validation_failed(response, "zipcode")
        message = envelope["field_errors"][0]["message"]
        assert zipcode in message
        assert plan_id in message
        assert f"'{UTILITY_OF_PLAN[plan_id]}'" in message  # the plan's utility
        assert f"{zip_utility} (" in message  # a utility that does serve it
        assert await count_homes(db) == 0

    @pytest.mark.parametrize("plan_id", [E_TOU_C, SCE_TOU_D])
    async def test_a_zip_in_a_county_several_utilities_serve_takes_each_ones_plans(
        self, client: httpx.AsyncClient, plan_id: str
    ) -> None:
        # Adelanto, San Bernardino County: EIA-861 lists both PG&E and SCE there (and more);
        # the county table cannot tell which serves the street, so neither is refused.
        home = await create_home(client, await owner_key(client), zipcode="92301", plan=plan_id)

        assert home["utilityId"] == UTILITY_OF_PLAN[plan_id]

    @pytest.mark.parametrize(
        ("zipcode", "plan_id", "utility_id", "timezone"),
        [
            ("2134", "", None, "America/New_York"),  # Allston, MA: 02134, its 0 lost
            ("94107-1234", E_TOU_C, PGE, "America/Los_Angeles"),
        ],
        ids=["4-digits", "zip+4"],
    )
    async def test_a_zip_is_read_as_utility_get_reads_it(
        self,
        client: httpx.AsyncClient,
        zipcode: str,
        plan_id: str,
        utility_id: str | None,
        timezone: str,
    ) -> None:
        home = await create_home(client, await owner_key(client), zipcode=zipcode, plan=plan_id)

        assert (home["zipcode"], home["utilityId"], home["timezone"]) == (
            zipcode,
            utility_id,
            timezone,
        )

    async def test_a_3_digit_prefix_is_no_place_for_a_plan(self, client: httpx.AsyncClient) -> None:
        body = {"name": "Home", "zipcode": "941", "ratePlanId": E_TOU_C}

        response = await client.post(CREATE, json=body, headers=await owner_key(client))

        message = assert_validation_failed(response, "zipcode")["field_errors"][0]["message"]
        assert "not a U.S. ZIP code" in message

    async def test_a_bay_area_zip_takes_a_pge_plan(self, client: httpx.AsyncClient) -> None:
        home = await create_home(client, await owner_key(client), zipcode="94110", plan=E_TOU_C)

        assert (home["utilityId"], home["ratePlanId"]) == (PGE, E_TOU_C)

    async def test_a_manhattan_zip_refuses_a_pge_plan_naming_zip_plan_and_con_edison(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        body = {"name": "Home", "zipcode": "10001", "ratePlanId": E_TOU_C}

        response = await client.post(CREATE, json=body, headers=await owner_key(client))

        message = assert_validation_failed(response, "zipcode")["field_errors"][0]["message"]
        assert "10001" in message
        assert E_TOU_C in message
        assert f"'{PGE}'" in message  # the plan's utility
        assert f"{CONED} (" in message  # New York County's utility (EIA-861 territory)
        assert await count_homes(db) == 0

    async def test_a_manhattan_zip_takes_con_edisons_plan(self, client: httpx.AsyncClient) -> None:
        home = await create_home(client, await owner_key(client), zipcode="10001", plan=CONED_SC_1)

        assert (home["utilityId"], home["ratePlanId"]) == (CONED, CONED_SC_1)
        assert home["timezone"] == "America/New_York"

    async def test_a_string_that_is_no_us_zip_is_refused_with_a_plan(
        self, client: httpx.AsyncClient
    ) -> None:
        body = {"name": "Home", "zipcode": "00000", "utilityId": PGE}

        response = await client.post(CREATE, json=body, headers=await owner_key(client))

        message = assert_validation_failed(response, "zipcode")["field_errors"][0]["message"]
        assert "00000" in message
        assert "not a U.S. ZIP code" in message

    @pytest.mark.parametrize("zipcode", ["10001", "00000"])
    async def test_a_zip_without_utility_or_plan_is_accepted(
        self, client: httpx.AsyncClient, zipcode: str
    ) -> None:
        home = await create_home(client, await owner_key(client), zipcode=zipcode)
        assert (home["zipcode"], home["utilityId"]) == (zipcode, None)

    @pytest.mark.parametrize(
        ("home", "change", "field"),
        [
            ({"zipcode": "94107", "ratePlanId": E_TOU_C}, {"zipcode": "28202"}, "zipcode"),
            ({"zipcode": "94107", "utilityId": PGE}, {"zipcode": "10001"}, "zipcode"),
            ({"zipcode": "28202"}, {"ratePlanId": E_TOU_C}, "ratePlanId"),
            ({"zipcode": "28202"}, {"utilityId": PGE}, "utilityId"),
            ({"zipcode": "28202"}, {"UtilityId": SCE}, "UtilityId"),
        ],
    )
    async def test_an_update_is_checked_against_the_kept_fields(
        self,
        client: httpx.AsyncClient,
        home: dict[str, str],
        change: dict[str, str],
        field: str,
    ) -> None:
        headers = await owner_key(client)
        created = await create_home(client, headers, **home)

        response = await client.post(
            home_route(created["id"], "update"), json=change, headers=headers
        )

        assert_validation_failed(response, field)
        assert await get_home(client, headers, created["id"]) == created

    async def test_moving_zip_and_plan_together_is_accepted(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, zipcode="94107", ratePlanId=E_TOU_C)

        response = await client.post(
            home_route(home["id"], "update"),
            json={"zipcode": "28202", "utilityId": DUKE, "ratePlanId": DUKE_RS},
            headers=headers,
        )

        assert response.status_code == 200, response.text
        assert (response.json()["utilityId"], response.json()["timezone"]) == (
            DUKE,
            "America/New_York",
        )


class TestHomeTimezone:
    """A home's time zone is its ZIP code's; without a known ZIP code, its utility's."""

    async def test_a_chicago_home_is_on_central_time(self, client: httpx.AsyncClient) -> None:
        home = await create_home(client, await owner_key(client), zipcode="60601", plan=COMED_BES)

        assert (home["utilityId"], home["timezone"]) == (COMED, "America/Chicago")

    async def test_a_zip_alone_gives_the_home_its_time_zone(
        self, client: httpx.AsyncClient
    ) -> None:
        home = await create_home(client, await owner_key(client), zipcode="60601")

        assert (home["utilityId"], home["timezone"]) == (None, "America/Chicago")

    async def test_the_time_zone_follows_the_zip_on_update(self, client: httpx.AsyncClient) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, zipcode="10001")

        moved = await client.post(
            home_route(home["id"], "update"), json={"zipcode": "60601"}, headers=headers
        )
        cleared = await client.post(
            home_route(home["id"], "update"), json={"zipcode": None}, headers=headers
        )

        assert moved.json()["timezone"] == "America/Chicago", moved.text
        assert cleared.json()["timezone"] is None, cleared.text

    async def test_without_a_zip_a_plan_gives_its_utilitys_time_zone(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, zipcode="60601", plan=COMED_BES)

        response = await client.post(
            home_route(home["id"], "update"), json={"zipcode": None}, headers=headers
        )

        assert response.status_code == 200, response.text
        assert (response.json()["zipcode"], response.json()["timezone"]) == (
            None,
            "America/Chicago",
        )


class TestFormerPlanIds:
    """Plans the sandbox once named by its own ids are now named by their URDB labels: an old id
    is still accepted, and the answer carries the current one."""

    @pytest.mark.parametrize("legacy_id", sorted(LEGACY_IDS))
    async def test_a_former_id_is_accepted_and_answered_as_the_current_one(
        self, client: httpx.AsyncClient, db: DatabaseProbe, legacy_id: str
    ) -> None:
        current = LEGACY_IDS[legacy_id]
        home = await create_home(client, await owner_key(client), plan=legacy_id)

        assert (home["ratePlanId"], home["utilityId"]) == (current, UTILITY_OF_PLAN[current])
        rows = await db.rows("SELECT rate_plan_id FROM homes WHERE id = :id", id=home["id"])
        assert rows == [{"rate_plan_id": current}]

    async def test_a_former_id_is_accepted_on_update_with_its_utility(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, zipcode="94107")
        former = next(old for old, new in LEGACY_IDS.items() if new == E_1)

        response = await client.post(
            home_route(home["id"], "update"),
            json={"utilityId": PGE, "ratePlanId": former},
            headers=headers,
        )

        assert response.status_code == 200, response.text
        assert response.json()["ratePlanId"] == E_1

    async def test_a_stored_home_on_a_former_id_is_still_priced_and_moved_to_the_current_id(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        # Migration 0010 rewrites such rows; one written behind its back must still work.
        headers = await owner_key(client)
        home = await create_home(client, headers, zipcode="94107", plan=E_TOU_C)
        former = next(old for old, new in LEGACY_IDS.items() if new == E_TOU_C)
        await write(db, "UPDATE homes SET rate_plan_id = :plan", plan=former)

        priced = await client.post(home_route(home["id"], "price_signal"), headers=headers)
        billed = await client.post(
            home_route(home["id"], "bill/monthly"), json=MARCH_2026, headers=headers
        )
        moved = await client.post(
            home_route(home["id"], "update"), json={"utilityId": PGE}, headers=headers
        )

        assert priced.status_code == 200, priced.text
        assert billed.status_code == 200, billed.text
        assert moved.status_code == 200, moved.text
        assert moved.json()["ratePlanId"] == E_TOU_C


SOLAR = "/v1/homes/solar/create"


class TestSolarCreate:
    """WattShift's legacy ``/v1/homes/solar/create``: the solar fields of a home, by its id."""

    async def test_solar_is_set_on_the_home_and_its_id_answered_with_201(
        self, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, zipcode="94107", plan=E_TOU_C)
        clock.advance(timedelta(minutes=2))

        response = await client.post(
            SOLAR,
            json={"homeId": home["id"], "solarSystemSizeKw": 6.4, "isNonNetMetered": True},
            headers=headers,
        )

        assert response.status_code == 201, response.text
        assert response.json() == {"homeId": home["id"]}
        assert await get_home(client, headers, home["id"]) == {
            **home,
            "solarSystemSizeKw": 6.4,
            "isNonNetMetered": True,
            "updatedAt": "2026-03-01T12:02:00.000Z",
        }

    async def test_a_second_call_replaces_the_system_and_is_net_metered_by_default(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, solarSystemSizeKw=3, isNonNetMetered=True)

        response = await client.post(
            SOLAR, json={"homeId": home["id"], "solarSystemSizeKw": 8}, headers=headers
        )

        assert response.status_code == 201, response.text
        stored = await get_home(client, headers, home["id"])
        assert (stored["solarSystemSizeKw"], stored["isNonNetMetered"]) == (8, False)

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"solarSystemSizeKw": 5}, "homeId"),
            ({"homeId": NO_SUCH_HOME}, "solarSystemSizeKw"),
            ({"homeId": NO_SUCH_HOME, "solarSystemSizeKw": 0}, "solarSystemSizeKw"),
            ({"homeId": NO_SUCH_HOME, "solarSystemSizeKw": -2}, "solarSystemSizeKw"),
            ({"homeId": NO_SUCH_HOME, "solarSystemSizeKw": 10_001}, "solarSystemSizeKw"),
            ({"homeId": NO_SUCH_HOME, "solarSystemSizeKw": "5"}, "solarSystemSizeKw"),
            (
                {"homeId": NO_SUCH_HOME, "solarSystemSizeKw": 5, "isNonNetMetered": "no"},
                "isNonNetMetered",
            ),
            ({"homeId": "x" * 65, "solarSystemSizeKw": 5}, "homeId"),
        ],
    )
    async def test_a_missing_or_invalid_field_is_refused_by_name(
        self, client: httpx.AsyncClient, body: dict[str, Any], field: str
    ) -> None:
        response = await client.post(SOLAR, json=body, headers=await owner_key(client))
        assert_validation_failed(response, field)

    @pytest.mark.parametrize("home_id", [NO_SUCH_HOME, "anything"])
    async def test_an_unknown_home_is_404(self, client: httpx.AsyncClient, home_id: str) -> None:
        response = await client.post(
            SOLAR,
            json={"homeId": home_id, "solarSystemSizeKw": 5},
            headers=await owner_key(client),
        )
        assert_envelope(response, status=404, code="NOT_FOUND")

    async def test_another_credentials_home_is_404_and_stays_unchanged(
        self, client: httpx.AsyncClient
    ) -> None:
        mine = await owner_key(client)
        theirs = await key_with(client, "homes", organization="Other Energy Co")
        home = await create_home(client, mine, solarSystemSizeKw=2)

        response = await client.post(
            SOLAR, json={"homeId": home["id"], "solarSystemSizeKw": 9}, headers=theirs
        )

        assert_envelope(response, status=404, code="NOT_FOUND")
        assert await get_home(client, mine, home["id"]) == home

    async def test_homes_write_is_needed(self, client: httpx.AsyncClient) -> None:
        writer = await owner_key(client)
        home = await create_home(client, writer)
        reader = await key_with(client, Scope.HOMES_READ, organization="Reader Co")

        refused = await client.post(
            SOLAR, json={"homeId": home["id"], "solarSystemSizeKw": 9}, headers=reader
        )
        unauthenticated = await client.post(
            SOLAR, json={"homeId": home["id"], "solarSystemSizeKw": 9}
        )

        envelope = assert_envelope(refused, status=403, code="AUTH_INSUFFICIENT_SCOPE")
        assert Scope.HOMES_WRITE in envelope["message"]
        assert_envelope(unauthenticated, status=401, code="AUTH_MISSING_API_KEY")
        assert await get_home(client, writer, home["id"]) == home


class TestListPaging:
    async def test_without_paging_every_home_is_listed_and_pages_split_them_in_order(
        self, client: httpx.AsyncClient, clock: FrozenClock
    ) -> None:
        headers = await owner_key(client)
        created = []
        for number in range(5):
            created.append((await create_home(client, headers, name=f"home {number}"))["id"])
            clock.advance(timedelta(seconds=1))

        async def page(body: object) -> list[str]:
            response = await client.post(LIST, json=body, headers=headers)
            assert response.status_code == 200, response.text
            return [home["id"] for home in response.json()]

        assert await listed_ids(client, headers) == created
        assert await page({}) == created
        assert await page(None) == created
        pages = [await page({"pageSize": 2, "pageNumber": n}) for n in (1, 2, 3, 4)]
        assert pages == [created[0:2], created[2:4], created[4:5], []]
        assert await page({"pageSize": 3}) == created[:3]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"pageSize": 0}, "pageSize"),
            ({"pageSize": 101}, "pageSize"),
            ({"pageNumber": 0}, "pageNumber"),
            ({"pageNumber": 10_001}, "pageNumber"),
            ({"pageSize": "2"}, "pageSize"),
        ],
    )
    async def test_paging_out_of_range_is_refused_by_name(
        self, client: httpx.AsyncClient, body: dict[str, object], field: str
    ) -> None:
        response = await client.post(LIST, json=body, headers=await owner_key(client))
        assert_validation_failed(response, field)


NON_FINITE_TOKENS = ["NaN", "Infinity", "-Infinity", "1e999"]


async def post_raw(
    client: httpx.AsyncClient, route: str, text_body: str, headers: dict[str, str]
) -> httpx.Response:
    return await client.post(
        route, content=text_body.encode(), headers={**headers, "Content-Type": "application/json"}
    )


class TestSolarInfo:
    """``solarInfo`` is any JSON object a client sends, within bounds every backend can store."""

    @pytest.mark.parametrize("token", NON_FINITE_TOKENS)
    async def test_non_finite_numbers_are_refused_by_path_on_create_and_update(
        self, client: httpx.AsyncClient, db: DatabaseProbe, token: str
    ) -> None:
        headers = await owner_key(client)
        solar = '{"panels": [{"kw": 1}, {"kw": 2.5}, {"kw": ' + token + "}]}"
        created = await post_raw(
            client, CREATE, '{"name": "H", "solarInfo": ' + solar + "}", headers
        )
        assert_validation_failed(created, "solarInfo.panels[2].kw")
        assert await count_homes(db) == 0
        home = await create_home(client, headers)
        updated = await post_raw(
            client,
            home_route(home["id"], "update"),
            '{"solarInfo": ' + solar + "}",
            headers,
        )
        assert_validation_failed(updated, "solarInfo.panels[2].kw")
        assert await get_home(client, headers, home["id"]) == home

    @pytest.mark.parametrize("token", NON_FINITE_TOKENS)
    async def test_non_finite_typed_numbers_are_refused_by_name(
        self, client: httpx.AsyncClient, token: str
    ) -> None:
        body = '{"name": "H", "solarSystemSizeKw": ' + token + "}"
        response = await post_raw(client, CREATE, body, await owner_key(client))
        assert_validation_failed(response, "solarSystemSizeKw")

    @pytest.mark.parametrize(
        ("solar", "field"),
        [
            ('{"note": "a\\ud800"}', "solarInfo.note"),
            ('{"arrays": [{"label": "\\udc00"}]}', "solarInfo.arrays[0].label"),
            ('{"bad\\ud800key": 1}', "solarInfo"),
            ('{"nul": "a\\u0000"}', "solarInfo.nul"),
        ],
    )
    async def test_unstorable_text_is_refused_by_path(
        self, client: httpx.AsyncClient, db: DatabaseProbe, solar: str, field: str
    ) -> None:
        body = '{"name": "H", "solarInfo": ' + solar + "}"
        response = await post_raw(client, CREATE, body, await owner_key(client))
        assert_validation_failed(response, field)
        assert await count_homes(db) == 0

    async def test_8_kib_of_json_are_stored_and_one_byte_more_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await owner_key(client)
        largest = {"n": "€" * ((MAX_FREE_FORM_BYTES - 8) // 3)}  # € is 3 bytes of UTF-8
        assert len(json.dumps(largest, ensure_ascii=False, separators=(",", ":")).encode()) == (
            MAX_FREE_FORM_BYTES
        )
        home = await create_home(client, headers, solarInfo=largest)
        assert (await get_home(client, headers, home["id"]))["solarInfo"] == largest
        larger = {"n": largest["n"] + "c"}
        response = await client.post(
            CREATE, json={"name": "H", "solarInfo": larger}, headers=headers
        )
        assert_validation_failed(response, "solarInfo")


class TestHomeSize:
    async def test_a_home_with_every_field_at_its_cap_stays_small(
        self, client: httpx.AsyncClient
    ) -> None:
        document = (await client.get("/openapi.json")).json()
        fields = document["components"]["schemas"]["CreateClientHomeDto"]["properties"]
        body: dict[str, Any] = {"zipcode": "94107", "ratePlanId": E_TOU_C}
        for name, schema in fields.items():
            options = schema.get("anyOf", [schema])
            text_schema = next((o for o in options if o.get("type") == "string"), None)
            if name in body or text_schema is None or {"pattern", "enum"} & text_schema.keys():
                continue
            if name in {"utilityId", "UtilityId"}:
                continue
            body[name] = "€" * text_schema["maxLength"]  # 3 bytes of UTF-8 each
        body["solarInfo"] = {"n": "€" * ((MAX_FREE_FORM_BYTES - 8) // 3)}
        headers = await owner_key(client)

        created = await client.post(CREATE, json=body, headers=headers)

        assert created.status_code == 201, created.text
        assert len(body) >= 12
        # 100 such homes, a full page of /v1/homes/list, stay under 3 MB.
        assert len(created.content) <= 30_000
        listed = await client.post(LIST, headers=headers)
        assert len(listed.content) == len(created.content) + 2
