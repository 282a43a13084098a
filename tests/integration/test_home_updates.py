"""An update follows the rules of create: a plan sets its utility, a utility sent or kept must be
the plan's, the utility must serve the ZIP code, and null never silently keeps a value: it
clears an optional field or is refused naming the field. Both backends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from agentkeys.sandbox.homes.schemas import UpdateClientHomeDto
from tests.integration.test_homes import get_home, home_route, owner_key
from tests.support.assertions import assert_validation_failed
from tests.support.catalog import DUKE, DUKE_RS, E_TOU_C, PGE, SCE, SCE_TOU_D
from tests.support.factories import create_home

# Homes are stored data: both backends.
pytestmark = pytest.mark.both_backends


async def update(
    client: httpx.AsyncClient, headers: dict[str, str], home: dict[str, Any], body: Any
) -> httpx.Response:
    return await client.post(home_route(home["id"], "update"), json=body, headers=headers)


class TestAPlanSetsItsUtility:
    async def test_zip_and_plan_alone_move_a_home_to_another_utility(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, zipcode="94107", ratePlanId=E_TOU_C)

        response = await update(client, headers, home, {"zipcode": "28202", "ratePlanId": DUKE_RS})

        assert response.status_code == 200, response.text
        moved = response.json()
        assert (moved["utilityId"], moved["UtilityId"], moved["ratePlanId"]) == (
            DUKE,
            DUKE,
            DUKE_RS,
        )
        assert moved["timezone"] == "America/New_York"
        assert await get_home(client, headers, home["id"]) == moved

    async def test_a_plan_alone_sets_its_utility_on_a_home_without_a_zip(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, ratePlanId=E_TOU_C)

        response = await update(client, headers, home, {"ratePlanId": SCE_TOU_D})

        assert response.status_code == 200, response.text
        assert (response.json()["utilityId"], response.json()["ratePlanId"]) == (SCE, SCE_TOU_D)

    async def test_a_plan_alone_whose_utility_does_not_serve_the_kept_zip_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, zipcode="94107", ratePlanId=E_TOU_C)

        response = await update(client, headers, home, {"ratePlanId": DUKE_RS})

        message = assert_validation_failed(response, "ratePlanId")["field_errors"][0]["message"]
        assert "94107" in message
        assert f"'{DUKE}'" in message  # the new plan's utility
        assert E_TOU_C in message  # a plan that does serve the ZIP
        assert await get_home(client, headers, home["id"]) == home

    @pytest.mark.parametrize("field", ["utilityId", "UtilityId"])
    async def test_a_utility_sent_must_be_the_kept_plans(
        self, client: httpx.AsyncClient, field: str
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, ratePlanId=E_TOU_C)

        response = await update(client, headers, home, {field: SCE})

        message = assert_validation_failed(response, field)["field_errors"][0]["message"]
        assert E_TOU_C in message
        assert f"'{PGE}'" in message
        assert f"'{SCE}'" in message
        assert await get_home(client, headers, home["id"]) == home

    async def test_a_utility_sent_with_a_plan_must_be_the_plans(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, ratePlanId=E_TOU_C)

        response = await update(client, headers, home, {"utilityId": DUKE, "ratePlanId": SCE_TOU_D})

        assert_validation_failed(response, "ratePlanId")
        assert await get_home(client, headers, home["id"]) == home


class TestNullOnUpdate:
    @pytest.mark.parametrize("field", ["utilityId", "UtilityId"])
    async def test_null_utility_is_refused_while_a_plan_remains(
        self, client: httpx.AsyncClient, field: str
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, zipcode="94107", ratePlanId=E_TOU_C)

        kept_plan = await update(client, headers, home, {field: None})
        with_plan = await update(client, headers, home, {field: None, "ratePlanId": SCE_TOU_D})

        assert E_TOU_C in assert_validation_failed(kept_plan, field)["field_errors"][0]["message"]
        assert_validation_failed(with_plan, field)
        assert await get_home(client, headers, home["id"]) == home

    async def test_null_utility_and_plan_together_remove_both(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, zipcode="94107", ratePlanId=E_TOU_C)

        response = await update(client, headers, home, {"utilityId": None, "ratePlanId": None})

        assert response.status_code == 200, response.text
        cleared = response.json()
        assert (cleared["utilityId"], cleared["ratePlanId"]) == (None, None)
        # The home stays where it is: its ZIP code keeps its time zone.
        assert (cleared["zipcode"], cleared["timezone"]) == ("94107", "America/Los_Angeles")

    async def test_required_fields_sent_as_null_are_all_named(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = await owner_key(client)
        home = await create_home(client, headers, carbonSignalIntensity="LOW")

        response = await update(
            client,
            headers,
            home,
            {"name": None, "carbonSignalIntensity": None, "enabled": None, "city": "Oakland"},
        )

        assert_validation_failed(response, "name", "carbonSignalIntensity", "enabled")
        assert await get_home(client, headers, home["id"]) == home

    @pytest.mark.parametrize(
        "field",
        sorted(
            (info.alias or name)
            for name, info in UpdateClientHomeDto.model_fields.items()
            if name not in {"utility_id", "deprecated_utility_id"}
        ),
    )
    async def test_every_field_sent_as_null_is_cleared_or_refused_by_name(
        self, client: httpx.AsyncClient, field: str
    ) -> None:
        """The class: no update field keeps its value silently when sent as null."""
        headers = await owner_key(client)
        home = await create_home(
            client,
            headers,
            zipcode="94107",
            ratePlanId=E_TOU_C,
            city="San Francisco",
            solarSystemSizeKw=1.5,
            solarInfo={"panels": 4},
            isNonNetMetered=True,
            carbonSignalIntensity="LOW",
            userId="u",
            clientId="c",
            unstructuredAddress="1 Market St, San Francisco",
            country="US",
            streetAddress="1 Market St",
            meterId="m",
            meterIdSource="s",
            channelPartnerId="p",
        )

        response = await update(client, headers, home, {field: None})

        if field in {"name", "carbonSignalIntensity", "enabled"}:
            assert_validation_failed(response, field)
            assert await get_home(client, headers, home["id"]) == home
            return
        assert response.status_code == 200, response.text
        answered = response.json()
        if field in answered:
            assert answered[field] is None, answered


@pytest.mark.parametrize("route", ["create", "update"])
async def test_utility_id_and_its_deprecated_spelling_must_agree(
    client: httpx.AsyncClient, route: str
) -> None:
    headers = await owner_key(client)
    home = await create_home(client, headers)
    body = {"name": "H", "utilityId": PGE, "UtilityId": SCE}
    url = "/v1/homes/create" if route == "create" else home_route(home["id"], "update")

    response = await client.post(url, json=body, headers=headers)

    assert_validation_failed(response, "UtilityId")
    same = await client.post(url, json={**body, "UtilityId": PGE}, headers=headers)
    assert same.status_code in {200, 201}, same.text
