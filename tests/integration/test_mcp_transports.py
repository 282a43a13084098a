"""The MCP tools as an agent reaches them, with the SDK's own client: over streamable HTTP at a real
server's /mcp, and over stdio through `agentkeys mcp --url` pointed at that server."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.support.catalog import E_TOU_C, ZIP_OF_PLAN
from tests.support.factories import credential_request
from tests.support.mcp import mcp_over, ok, tool_error
from tests.support.servers import RunningServer, running_server

SCOPES = ["homes", "calculate", "utility:read"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("mcp-server")
    with running_server(
        database_url=f"sqlite+aiosqlite:///{directory / 'served.db'}",
        log_path=directory / "server.log",
    ) as running:
        yield running


@asynccontextmanager
async def over_stdio(base_url: str, *, key: str | None = None) -> AsyncIterator[ClientSession]:
    """`agentkeys mcp --url base_url` as an MCP client launches it: a subprocess on stdio, with
    ``key`` in WATTSHIFT_API_KEY when given."""
    environment = {name: value for name, value in os.environ.items() if name != "WATTSHIFT_API_KEY"}
    if key is not None:
        environment["WATTSHIFT_API_KEY"] = key
    parameters = StdioServerParameters(
        command=str(Path(sys.executable).with_name("agentkeys")),
        args=["mcp", "--url", base_url],
        env=environment,
    )
    async with (
        stdio_client(parameters) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


async def agent_flow(session: ClientSession, *, organization: str) -> None:
    """Ask for a key, find a plan, create a home, bill a month, revoke: the key held throughout
    by the session; after the revocation the API refuses it."""
    slug = organization.lower().replace(" ", "-")
    issued = ok(
        await session.call_tool(
            "request_credential",
            credential_request(
                organization_name=organization,
                user_email=f"agent@{slug}.example.com",
                requested_scopes=SCOPES,
            ),
        )
    )
    assert issued["outcome"] == "issued", issued

    zipcode = ZIP_OF_PLAN[E_TOU_C]
    utilities = ok(
        await session.call_tool("lookup_utility", {"zipcode": zipcode, "detailLevel": "minimal"})
    )
    plans = {plan["id"] for utility in utilities for plan in utility["ratePlans"]}
    assert E_TOU_C in plans

    home = ok(
        await session.call_tool(
            "create_home", {"name": "Agent home", "ratePlanId": E_TOU_C, "zipcode": zipcode}
        )
    )
    # 31 days of 96 quarter-hours at 0.5 kWh: 31 * 96 * 0.5 = 1,488 kWh.
    march = {"month": 3, "year": 2026, "usage": [[0.5] * 96 for _ in range(31)]}
    bill: dict[str, Any] = ok(
        await session.call_tool("monthly_bill", {"homeId": home["id"], **march})
    )
    assert bill["currency"] == "USD"
    assert bill["billTotal"] > 0

    me = ok(await session.call_tool("whoami", {}))
    assert me["credential_id"] == issued["credential_id"]
    revoked = ok(await session.call_tool("revoke_credential", {}))
    assert revoked["outcome"] == "revoked"
    tool_error(await session.call_tool("whoami", {}), code="AUTH_REVOKED_CREDENTIAL")


class TestStreamableHttp:
    async def test_an_agent_goes_from_key_to_bill_to_revocation(
        self, server: RunningServer
    ) -> None:
        async with mcp_over(None, f"{server.base_url}/mcp") as session:
            await agent_flow(session, organization="Streaming Energy")

    async def test_a_tool_without_a_key_answers_the_401_envelope(
        self, server: RunningServer
    ) -> None:
        async with mcp_over(None, f"{server.base_url}/mcp") as session:
            result = await session.call_tool("list_homes", {})
        tool_error(result, code="AUTH_MISSING_API_KEY")


class TestStdio:
    async def test_an_agent_goes_from_key_to_bill_to_revocation(
        self, server: RunningServer
    ) -> None:
        async with over_stdio(server.base_url) as session:
            await agent_flow(session, organization="Piped Energy")

    async def test_refusals_are_the_apis_envelopes(self, server: RunningServer) -> None:
        async with over_stdio(server.base_url) as session:
            tool_error(await session.call_tool("whoami", {}), code="AUTH_MISSING_API_KEY")
            invalid = await session.call_tool(
                "request_credential", {**credential_request(), "requested_ttl_seconds": "long"}
            )
        envelope = tool_error(invalid, code="VALIDATION_FAILED")
        assert [error["field"] for error in envelope["field_errors"]] == ["requested_ttl_seconds"]

    async def test_a_key_in_the_environment_is_used_until_one_is_requested(
        self, server: RunningServer
    ) -> None:
        body = credential_request(
            organization_name="Env Energy", user_email="agent@env-energy.example.com"
        )
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            issued = (await http.post("/v1/agent-credentials", json=body)).json()
        assert issued["outcome"] == "issued", issued
        async with over_stdio(server.base_url, key=issued["credential"]) as session:
            me = ok(await session.call_tool("whoami", {}))
        assert me["credential_id"] == issued["credential_id"]

    async def test_a_server_that_is_not_there_is_a_tool_error(self) -> None:
        # Port 9 (discard) on the loopback: nothing of ours listens there.
        async with over_stdio("http://127.0.0.1:9") as session:
            result = await session.call_tool("whoami", {})
        tool_error(result, code="SERVICE_UNAVAILABLE")
