"""The proof: a scripted agent that knows only the base URL reads /llms.txt and follows it to a
key, a utility's plan, a home, a monthly bill and the key's revocation: once through the MCP
tools (streamable HTTP, the SDK's client), once through agentkeys.client, against a real server.

What the agent uses it reads from llms.txt: the issuance endpoint, the example body, the scope
list, the header, the self-check route, the revocation path, the MCP endpoint and the client's
name. It brings only what an agent brings itself: the base URL, who it works for, a ZIP code and
a month of metered usage."""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from agentkeys.client import AgentKeysClient, AgentKeysError
from tests.support.mcp import mcp_over, ok, tool_error
from tests.support.servers import RunningServer, running_server

# What the agent brings: where it works, and a home in San Francisco metered for March 2026.
ZIPCODE = "94107"
# 31 days of 96 quarter-hours at 0.5 kWh each: 31 * 96 * 0.5 = 1,488 kWh.
MARCH: dict[str, Any] = {"month": 3, "year": 2026, "usage": [[0.5] * 96 for _ in range(31)]}
MARCH_KWH = 1488.0


def identity(organization: str) -> dict[str, Any]:
    """What the example body says to replace with the agent's own."""
    slug = organization.lower().replace(" ", "-")
    return {
        "organization_name": organization,
        "company": organization,
        "user_name": "Robin Agent",
        "user_email": f"robin@{slug}.example.com",
        "assignment": (
            f"Estimate monthly electricity bills for {organization} customers in San Francisco "
            "from their smart meter usage"
        ),
    }


@dataclass(frozen=True, slots=True)
class Guide:
    """What the agent learnt from /llms.txt."""

    issuance: tuple[str, str]
    example: dict[str, Any]
    scope_names: frozenset[str]
    header: str
    self_check: tuple[str, str]
    revocation_template: str
    mcp_endpoint: str | None
    client_class: str

    def request_body(self, organization: str) -> dict[str, Any]:
        """The example, with the agent's own identity, asking only for listed scopes."""
        body = {**self.example, **identity(organization)}
        assert set(body["requested_scopes"]) <= self.scope_names, body
        return body


def sections(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    title = ""
    for line in text.splitlines():
        if line.startswith("## "):
            title = line[3:].strip()
            found[title] = ""
        else:
            found[title] = found.get(title, "") + line + "\n"
    return found


def first(pattern: str, text: str, flags: int = re.MULTILINE) -> re.Match[str]:
    match = re.search(pattern, text, flags)
    assert match is not None, (pattern, text)
    return match


def read_guide(text: str) -> Guide:
    """Parse what an agent needs from llms.txt, as a reader would: by section and wording."""
    found = sections(text)
    request = found["Request a key"]
    issuance = first(r"`(GET|POST) (/\S+)`", request)
    example = json.loads(first(r"```json\n(.*?)\n```", request, re.DOTALL).group(1))
    authenticate = found["Authenticate"]
    self_check = first(r"Check a key with \[(GET|POST) (/\S+)\]", authenticate)
    mcp_lines = [
        line for line in found["Other ways in"].splitlines() if "MCP" in line and "](/" in line
    ]
    return Guide(
        issuance=(issuance.group(1), issuance.group(2)),
        example=example,
        scope_names=frozenset(re.findall(r"^- `([^`]+)`", found["Scopes"], re.MULTILINE)),
        header=first(r"Send the key as the `([^`]+)` header", authenticate).group(1),
        self_check=(self_check.group(1), self_check.group(2)),
        revocation_template=first(r"`POST (/\S*\{credentialId\}\S*)`", found["Revoke"]).group(1),
        mcp_endpoint=first(r"\]\((/[^)\s]+)\)", mcp_lines[0]).group(1) if mcp_lines else None,
        client_class=first(r"`(agentkeys\.[\w.]+)\(BASE\)`", found["Other ways in"]).group(1),
    )


def first_plan(utilities: list[dict[str, Any]]) -> str:
    """The first plan of the first utility that has any: the plan the agent bills with."""
    plan_id: str = next(u["ratePlans"] for u in utilities if u["ratePlans"])[0]["id"]
    return plan_id


def check_march_bill(bill: dict[str, Any], *, plan_id: str) -> None:
    assert bill["ratePlanId"] == plan_id
    assert (bill["startDate"], bill["endDate"], bill["days"]) == ("2026-03-01", "2026-04-01", 31)
    assert bill["importKwh"] == MARCH_KWH
    assert bill["currency"] == "USD"
    assert bill["billTotal"] > 0


def assert_refused_as_revoked(base_url: str, guide: Guide, key: str) -> None:
    """A plain HTTP call with the revoked key, sent as llms.txt says, is refused."""
    method, path = guide.self_check
    response = httpx.request(method, base_url + path, headers={guide.header: key})
    assert response.status_code == 401, response.text
    assert response.json()["error_code"] == "AUTH_REVOKED_CREDENTIAL"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    directory = tmp_path_factory.mktemp("agent-proof")
    with running_server(
        database_url=f"sqlite+aiosqlite:///{directory / 'served.db'}",
        log_path=directory / "server.log",
    ) as running:
        yield running


def fetch_guide(base_url: str) -> Guide:
    response = httpx.get(f"{base_url}/llms.txt")
    assert response.status_code == 200, response.text
    return read_guide(response.text)


async def test_an_agent_follows_llms_txt_through_the_mcp_tools(server: RunningServer) -> None:
    guide = fetch_guide(server.base_url)
    body = guide.request_body("Tool Using Energy")
    assert guide.mcp_endpoint is not None

    async with mcp_over(None, server.base_url + guide.mcp_endpoint) as session:
        tools = {tool.name: tool for tool in (await session.list_tools()).tools}
        asking = tools["request_credential"]
        # The tool asks where llms.txt says, and takes the body it shows.
        assert " ".join(guide.issuance) in (asking.description or "")
        assert set(body) <= set(asking.inputSchema["properties"])
        issued = ok(await session.call_tool("request_credential", body))
        assert issued["outcome"] == "issued", issued
        assert set(issued["scopes"]) == set(body["requested_scopes"])

        utilities = ok(await session.call_tool("lookup_utility", {"zipcode": ZIPCODE}))
        plan_id = first_plan(utilities)
        home = ok(
            await session.call_tool(
                "create_home", {"name": "Agent's home", "ratePlanId": plan_id, "zipcode": ZIPCODE}
            )
        )
        bill = ok(await session.call_tool("monthly_bill", {"homeId": home["id"], **MARCH}))
        check_march_bill(bill, plan_id=plan_id)

        revoked = ok(await session.call_tool("revoke_credential", {}))
        assert revoked["outcome"] == "revoked"
        tool_error(await session.call_tool("whoami", {}), code="AUTH_REVOKED_CREDENTIAL")

    assert_refused_as_revoked(server.base_url, guide, issued["credential"])


def test_an_agent_follows_llms_txt_through_the_python_client(server: RunningServer) -> None:
    guide = fetch_guide(server.base_url)
    body = guide.request_body("Client Using Energy")
    module, _, name = guide.client_class.rpartition(".")
    client_class = getattr(importlib.import_module(module), name)
    assert isinstance(client_class, type)
    assert issubclass(client_class, AgentKeysClient)
    sent: list[httpx.Request] = []

    with (
        httpx.Client(event_hooks={"request": [sent.append]}) as http,
        client_class(server.base_url, http_client=http) as client,
    ):
        issued = client.request_credential(body)
        assert issued.outcome == "issued", issued
        assert issued.credential is not None
        assert issued.credential_id is not None
        assert set(issued.scopes or ()) == set(body["requested_scopes"])

        utilities = client.lookup_utility({"zipcode": ZIPCODE})
        plan_id = first_plan([utility.model_dump(by_alias=True) for utility in utilities])
        home = client.create_home(
            {"name": "Agent's home", "ratePlanId": plan_id, "zipcode": ZIPCODE}
        )
        bill = client.monthly_bill(home.id, MARCH)
        check_march_bill(bill.model_dump(by_alias=True), plan_id=plan_id)

        revoked = client.revoke_credential(issued.credential_id)
        assert revoked.outcome == "revoked"
        with pytest.raises(AgentKeysError) as refused:
            client.whoami()
    assert (refused.value.status_code, refused.value.error_code) == (
        401,
        "AUTH_REVOKED_CREDENTIAL",
    )

    # The client went where llms.txt says: issuance without a key, then the key in its header.
    asked, *keyed = sent
    assert (asked.method, asked.url.path) == guide.issuance
    assert guide.header not in asked.headers
    assert all(request.headers[guide.header] == issued.credential for request in keyed)
    revocation = guide.revocation_template.replace("{credentialId}", issued.credential_id)
    assert ("POST", revocation) in {(request.method, request.url.path) for request in keyed}

    assert_refused_as_revoked(server.base_url, guide, issued.credential)
