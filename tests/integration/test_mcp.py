"""The MCP server at /mcp, through the SDK's own client, on the app in process: the tools are the
HTTP routes, with their request models as input schemas and their envelopes as tool errors."""

from __future__ import annotations

import logging

import pytest
from pydantic import BaseModel

from agentkeys.credentials.schemas import (
    CreateAgentCredentialRequestDto,
    RevokeAgentCredentialRequestDto,
)
from agentkeys.sandbox.battery.schemas import BatteryAnnualEstimatedSavingsRequestDto
from agentkeys.sandbox.bills.schemas import MonthlyBillRequestDto, PeriodBillRequestDto
from agentkeys.sandbox.feedback.schemas import CreateFeedbackDto
from agentkeys.sandbox.homes.schemas import (
    CreateClientHomeDto,
    ListHomesRequestDto,
    UpdateClientHomeDto,
)
from agentkeys.sandbox.impact.schemas import HomeImpactRequestDto, ImpactRequestDto
from agentkeys.sandbox.price_signal.schemas import GetPriceSignalRequestDto
from agentkeys.sandbox.utility.schemas import UtilityRequestDTO
from tests.support.app import AppFactory, client_for
from tests.support.catalog import E_TOU_C, ZIP_OF_PLAN
from tests.support.databases import DatabaseProbe
from tests.support.factories import credential_request, issue_credential, key_header
from tests.support.mcp import mcp_on_app, mcp_over, ok, tool_error

# Each tool and the request model of its route; the path parameter it adds, if any.
BODY_TOOLS: dict[str, type[BaseModel]] = {
    "request_credential": CreateAgentCredentialRequestDto,
    "lookup_utility": UtilityRequestDTO,
    "create_home": CreateClientHomeDto,
    "list_homes": ListHomesRequestDto,
    "calculate_impact": ImpactRequestDto,
    "send_feedback": CreateFeedbackDto,
}
PATH_TOOLS: dict[str, tuple[type[BaseModel] | None, str]] = {
    "revoke_credential": (RevokeAgentCredentialRequestDto, "credentialId"),
    "get_home": (None, "homeId"),
    "update_home": (UpdateClientHomeDto, "homeId"),
    "remove_home": (None, "homeId"),
    "monthly_bill": (MonthlyBillRequestDto, "homeId"),
    "period_bill": (PeriodBillRequestDto, "homeId"),
    "rate_plan_quote": (PeriodBillRequestDto, "ratePlanId"),
    "home_calculate_impact": (HomeImpactRequestDto, "homeId"),
    "price_signal": (GetPriceSignalRequestDto, "homeId"),
    "battery_estimate": (BatteryAnnualEstimatedSavingsRequestDto, "homeId"),
}
NO_INPUT = {"type": "object", "properties": {}}


def march_2026() -> dict[str, object]:
    # 31 days of 96 quarter-hours at 0.5 kWh each.
    return {"month": 3, "year": 2026, "usage": [[0.5] * 96 for _ in range(31)]}


class TestToolList:
    async def test_every_route_is_a_tool_described_by_its_request_model(
        self, make_app: AppFactory
    ) -> None:
        async with mcp_on_app(make_app()) as session:
            listed = {tool.name: tool for tool in (await session.list_tools()).tools}

        assert set(listed) == {"whoami", *BODY_TOOLS, *PATH_TOOLS}
        assert listed["whoami"].inputSchema == NO_INPUT
        for name, model in BODY_TOOLS.items():
            assert listed[name].inputSchema == model.model_json_schema(), name
        for name, (path_model, parameter) in PATH_TOOLS.items():
            schema = dict(listed[name].inputSchema)
            properties = dict(schema.pop("properties"))
            assert properties.pop(parameter)["type"] == "string", name
            required = [field for field in schema.pop("required", []) if field != parameter]
            expected = path_model.model_json_schema() if path_model is not None else dict(NO_INPUT)
            expected_properties = expected.pop("properties")
            expected_required = expected.pop("required", [])
            assert properties == expected_properties, name
            assert required == expected_required, name
            assert schema == expected, name
        # The credential to revoke defaults to the session's own; a home must be named.
        assert "credentialId" not in listed["revoke_credential"].inputSchema.get("required", [])
        assert "homeId" in listed["get_home"].inputSchema["required"]
        # Only the tools that change nothing say so; the two that delete say that.
        changing = {"request_credential", "revoke_credential", "create_home", "update_home"}
        changing |= {"remove_home", "send_feedback"}
        for name, tool in listed.items():
            assert tool.annotations is not None, name
            assert tool.annotations.readOnlyHint is (name not in changing), name
            assert tool.annotations.destructiveHint is (
                name in {"revoke_credential", "remove_home"}
            ), name


class TestSessionKey:
    async def test_issued_key_is_held_by_the_session_and_used_by_later_tools(
        self, make_app: AppFactory
    ) -> None:
        app = make_app()
        async with mcp_on_app(app) as session:
            issued = ok(await session.call_tool("request_credential", credential_request()))
            assert issued["outcome"] == "issued"
            assert issued["credential"].startswith("wsk_")

            me = ok(await session.call_tool("whoami", {}))
            assert me["credential_id"] == issued["credential_id"]

            home = ok(
                await session.call_tool(
                    "create_home",
                    {"name": "MCP home", "ratePlanId": E_TOU_C, "zipcode": ZIP_OF_PLAN[E_TOU_C]},
                )
            )
            bill = ok(
                await session.call_tool("monthly_bill", {"homeId": home["id"], **march_2026()})
            )
            listed = ok(await session.call_tool("list_homes", {}))
            assert [each["id"] for each in listed] == [home["id"]]

        # The same bill as the HTTP route answers the same key.
        async with client_for(make_app()) as http:
            direct = await http.post(
                f"/v1/homes/{home['id']}/bill/monthly",
                json=march_2026(),
                headers=key_header(issued["credential"]),
            )
        assert direct.status_code == 200, direct.text
        assert bill["billTotal"] == direct.json()["billTotal"]

    async def test_needs_more_info_is_an_answer_not_an_error(self, make_app: AppFactory) -> None:
        async with mcp_on_app(make_app()) as session:
            without_email = credential_request(user_email=None)
            answer = ok(await session.call_tool("request_credential", without_email))
            assert answer["outcome"] == "needs_more_info"
            assert answer["missing_fields"] == ["user_email"]
            # No key was issued, so none is held.
            tool_error(await session.call_tool("whoami", {}), code="AUTH_MISSING_API_KEY")

    async def test_revoked_key_is_refused_at_once(self, make_app: AppFactory) -> None:
        async with mcp_on_app(make_app()) as session:
            issued = ok(await session.call_tool("request_credential", credential_request()))
            revoked = ok(await session.call_tool("revoke_credential", {"reason": "done"}))
            assert revoked == {
                **revoked,
                "outcome": "revoked",
                "credential_id": issued["credential_id"],
            }
            tool_error(await session.call_tool("whoami", {}), code="AUTH_REVOKED_CREDENTIAL")


class TestSameApi:
    async def test_the_api_counts_the_agents_address_not_the_servers(
        self, make_app: AppFactory, db: DatabaseProbe
    ) -> None:
        # Per-network quotas and rates must see the agent, or every MCP agent would share one.
        async with mcp_on_app(make_app(), client_address="198.51.100.23") as session:
            ok(await session.call_tool("request_credential", credential_request()))
        [row] = await db.rows("SELECT client_address, client_network FROM credential_requests")
        assert (row["client_address"], row["client_network"]) == (
            "198.51.100.23",
            "198.51.100.23/32",
        )

    async def test_ending_a_session_logs_no_error(
        self, make_app: AppFactory, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.WARNING):
            async with mcp_on_app(make_app()) as session:
                ok(await session.call_tool("request_credential", credential_request()))
        assert [record.getMessage() for record in caplog.records] == []


class TestErrors:
    async def test_a_tool_without_a_key_answers_the_401_envelope(
        self, make_app: AppFactory
    ) -> None:
        async with mcp_on_app(make_app()) as session:
            result = await session.call_tool("lookup_utility", {"zipcode": "94107"})
        envelope = tool_error(result, code="AUTH_MISSING_API_KEY")
        assert envelope["recovery_action"]

    async def test_invalid_arguments_answer_the_400_envelope_naming_the_field(
        self, make_app: AppFactory
    ) -> None:
        async with mcp_on_app(make_app()) as session:
            ok(await session.call_tool("request_credential", credential_request()))
            result = await session.call_tool(
                "monthly_bill", {"homeId": "ws_home_x", "month": 13, "usage": []}
            )
        envelope = tool_error(result, code="VALIDATION_FAILED")
        assert "month" in [error["field"] for error in envelope["field_errors"]]

    async def test_an_unknown_tool_is_refused_in_the_same_envelope(
        self, make_app: AppFactory
    ) -> None:
        async with mcp_on_app(make_app()) as session:
            result = await session.call_tool("delete_everything", {})
        envelope = tool_error(result, code="VALIDATION_FAILED")
        assert [error["field"] for error in envelope["field_errors"]] == ["name"]

    async def test_a_missing_home_id_is_refused_in_the_same_envelope(
        self, make_app: AppFactory
    ) -> None:
        async with mcp_on_app(make_app()) as session:
            result = await session.call_tool("get_home", {})
        envelope = tool_error(result, code="VALIDATION_FAILED")
        assert envelope["field_errors"] == [
            {"field": "homeId", "message": "'homeId' must be a non-empty string."}
        ]


class TestPresentedKey:
    @pytest.mark.parametrize("header", ["x-ws-api-key", "authorization"])
    async def test_a_key_sent_with_the_mcp_requests_authenticates_the_tools(
        self, make_app: AppFactory, header: str
    ) -> None:
        app = make_app()
        async with client_for(app) as http:
            issued = await issue_credential(http)
            key = issued["credential"]
            http.headers[header] = key if header == "x-ws-api-key" else f"Bearer {key}"
            async with mcp_over(http, "http://agentkeys.test/mcp") as session:
                me = ok(await session.call_tool("whoami", {}))
                revoked = ok(await session.call_tool("revoke_credential", {}))
        assert me["credential_id"] == issued["credential_id"]
        assert revoked["credential_id"] == issued["credential_id"]

    @pytest.mark.parametrize(
        ("revoke", "code"), [(False, "AUTH_INVALID_API_KEY"), (True, "AUTH_REVOKED_CREDENTIAL")]
    )
    async def test_a_refused_key_is_answered_the_apis_401_before_any_session(
        self, make_app: AppFactory, revoke: bool, code: str
    ) -> None:
        async with client_for(make_app()) as http:
            key = "wsk_not_a_key"
            if revoke:
                issued = await issue_credential(http)
                key = issued["credential"]
                revoked = await http.post(issued["revocation_path"], headers=key_header(key))
                assert revoked.status_code == 200
            response = await http.post(
                "/mcp",
                headers={**key_header(key), "accept": "application/json, text/event-stream"},
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            )
        assert response.status_code == 401
        assert response.json()["error_code"] == code
        assert response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize(
        ("header", "form"), [("authorization", "Bearer {}"), ("x-ws-api-key", "{}")]
    )
    async def test_a_key_header_sent_twice_is_no_key(
        self, make_app: AppFactory, header: str, form: str
    ) -> None:
        # Read whole, never by the first line: a valid key beside another line authenticates no
        # one.
        async with client_for(make_app()) as http:
            key = (await issue_credential(http))["credential"]
            response = await http.post(
                "/mcp",
                headers=[
                    (header, form.format(key)),
                    (header, form.format("wsk_agent_other")),
                    ("accept", "application/json, text/event-stream"),
                ],
                json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
            )
        assert response.status_code == 401
        assert response.json()["error_code"] == "AUTH_INVALID_API_KEY"
