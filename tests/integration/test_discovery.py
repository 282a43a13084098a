"""Discovery: an agent that knows only the base URL finds, in /llms.txt and
/.well-known/agent-credentials, everything it needs to get, use and revoke a key, and the figures
there are those of the policy in force."""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
import typer
from typer.core import TyperGroup

from agentkeys.cli.main import app as cli_app
from agentkeys.credentials.policy import IssuingPolicy, Quota, ScopeCatalog
from agentkeys.credentials.policy_file import load_policy
from agentkeys.discovery import documents
from agentkeys.discovery.llms import render_llms_txt
from agentkeys.ratelimit.base import RequestRate
from tests.support.app import AppFactory, client_for
from tests.support.assertions import assert_envelope
from tests.support.factories import key_header
from tests.support.policies import gateway_policy, with_quotas

LLMS = "/llms.txt"
WELL_KNOWN = "/.well-known/agent-credentials"
# The shipped policy's catalog (src/agentkeys/credentials/default_policy.toml), written out.
SHIPPED_SCOPES = {
    "utility:read": "Look up utilities and rate plans for a ZIP code.",
    "homes:read": "List and read the homes this credential created.",
    "homes:write": "Create, update and remove homes.",
    "price_signal:read": "Read 15-minute import and export prices for a home.",
    "bill_impact:read": "Calculate bills and bill impacts from 15-minute usage.",
    "battery:estimate": "Estimate annual battery savings for a home.",
    "feedback:write": "Send feedback to the API team.",
}
SHIPPED_ALIASES = {
    "homes": ["homes:read", "homes:write"],
    "calculate": ["bill_impact:read", "battery:estimate"],
}
LINK = re.compile(r"\]\((/[^)\s]*)\)")
SCOPE_LINE = re.compile(r"^- `([^`]+)`: (.*?) Unlocks: (.*)\.$")
ALIAS_LINE = re.compile(r"^- `([^`]+)` = (.*)$")


def sections(text: str) -> dict[str, str]:
    """The file's H2 sections by title; the part before the first H2 under ``""``."""
    found: dict[str, str] = {}
    title = ""
    for line in text.splitlines():
        if line.startswith("## "):
            title = line[3:].strip()
            found[title] = ""
        else:
            found[title] = found.get(title, "") + line + "\n"
    return found


def example_body(text: str) -> dict[str, Any]:
    """The JSON example of the "Request a key" section, as an agent would copy it."""
    match = re.search(r"```json\n(.*?)\n```", sections(text)["Request a key"], re.DOTALL)
    assert match is not None, text
    body: dict[str, Any] = json.loads(match.group(1))
    return body


def listed_scopes(text: str) -> dict[str, str]:
    lines = sections(text)["Scopes"].splitlines()
    return {
        match.group(1): match.group(2)
        for match in map(SCOPE_LINE.match, lines)
        if match is not None
    }


def listed_aliases(text: str) -> dict[str, list[str]]:
    lines = sections(text)["Scopes"].splitlines()
    return {
        match.group(1): re.findall(r"`([^`]+)`", match.group(2))
        for match in map(ALIAS_LINE.match, lines)
        if match is not None
    }


async def llms_txt(client: httpx.AsyncClient) -> str:
    response = await client.get(LLMS)
    assert response.status_code == 200, response.text
    return response.text


async def well_known(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get(WELL_KNOWN)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    document: dict[str, Any] = response.json()
    return document


def resolve_pointer(document: dict[str, Any], reference: str) -> Any:
    """``/openapi.json#/components/schemas/X`` → that part of ``document``."""
    path, _, pointer = reference.partition("#")
    assert path == "/openapi.json", reference
    node: Any = document
    for part in pointer.strip("/").split("/"):
        node = node[part]
    return node


def custom_policy() -> IssuingPolicy:
    """Figures unlike the shipped ones, so only a document generated from the policy shows them."""
    shipped = load_policy()
    return replace(
        with_quotas(
            shipped,
            organization_issued=Quota(7, timedelta(minutes=30)),
            organization_active=Quota(3),
        ),
        catalog=ScopeCatalog(
            scopes=shipped.catalog.scopes,
            aliases={"everything_homes": ("homes:read", "homes:write", "utility:read")},
        ),
        required_fields=("user_email", "project"),
        min_assignment_words=12,
        default_ttl_seconds=1800,
        min_ttl_seconds=300,
        max_ttl_seconds=7200,
        request_rate=RequestRate(42, timedelta(seconds=30)),
    )


class TestLlmsTxt:
    async def test_it_is_plain_text_in_the_llmstxt_format(self, client: httpx.AsyncClient) -> None:
        response = await client.get(LLMS)

        assert response.status_code == 200
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        lines = response.text.splitlines()
        assert lines[0] == "# agentkeys"
        assert lines[1] == ""
        assert lines[2].startswith("> ")
        # Between the summary and the first H2: notes, never a heading of another level.
        head = sections(response.text)[""]
        assert [line for line in head.splitlines() if line.startswith("#")] == ["# agentkeys"]
        titles = list(sections(response.text))[1:]
        for title in (
            "Request a key",
            "Outcomes",
            "Scopes",
            "Revoke",
            "Limits in force",
            "Instructions for agents",
            "Other ways in",
            "API reference",
        ):
            assert title in titles, titles
        # "Optional" holds what a reader short of context may skip: it comes last.
        assert titles[-1] == "Optional"

    async def test_every_operation_has_a_linked_markdown_page(
        self, client: httpx.AsyncClient
    ) -> None:
        text = await llms_txt(client)
        openapi = (await client.get("/openapi.json")).json()
        operation_ids = {
            operation["operationId"]
            for operations in openapi["paths"].values()
            for operation in operations.values()
        }

        pages = {link for link in LINK.findall(text) if link.startswith("/docs/md/")}
        assert {page.removeprefix("/docs/md/").removesuffix(".md") for page in pages} == (
            operation_ids
        )
        for page in sorted(pages):
            response = await client.get(page)
            assert response.status_code == 200, page
            assert response.headers["content-type"] == "text/markdown; charset=utf-8", page
            operation_id = page.removeprefix("/docs/md/").removesuffix(".md")
            assert response.text.startswith(f"# {operation_id}\n"), page

    async def test_every_other_link_answers(self, client: httpx.AsyncClient) -> None:
        links = {link.partition("#")[0] for link in LINK.findall(await llms_txt(client))}
        others = {link for link in links if not link.startswith("/docs/md/")}

        assert others == {"/openapi.json", WELL_KNOWN, "/docs", "/redoc", "/mcp"}
        # /mcp speaks MCP (a POST with a JSON-RPC body), not a page to GET.
        for link in sorted(others - {"/mcp"}):
            response = await client.get(link)
            assert response.status_code == 200, link

    async def test_the_openapi_link_answers_the_document(self, client: httpx.AsyncClient) -> None:
        text = await llms_txt(client)

        assert "/openapi.json" in LINK.findall(text)
        response = await client.get("/openapi.json")
        assert response.status_code == 200
        assert "paths" in response.json()

    async def test_the_example_body_is_issued_a_key_with_its_scopes(
        self, client: httpx.AsyncClient
    ) -> None:
        body = example_body(await llms_txt(client))

        answer = (await client.post("/v1/agent-credentials", json=body)).json()

        assert answer["outcome"] == "issued", answer
        described = await client.get(
            "/v1/agent-credentials/self", headers=key_header(answer["credential"])
        )
        assert described.status_code == 200
        # The walk the example prepares: a utility, a home, its monthly bill.
        assert set(described.json()["effective_scopes"]) >= {
            "utility:read",
            "homes:write",
            "bill_impact:read",
        }

    async def test_the_scopes_and_aliases_are_the_policy_s(self, client: httpx.AsyncClient) -> None:
        text = await llms_txt(client)

        assert listed_scopes(text) == SHIPPED_SCOPES
        assert listed_aliases(text) == SHIPPED_ALIASES

    async def test_each_scope_names_the_routes_that_need_it(
        self, client: httpx.AsyncClient
    ) -> None:
        lines = {
            match.group(1): match.group(3)
            for match in map(
                SCOPE_LINE.match, sections(await llms_txt(client))["Scopes"].split("\n")
            )
            if match is not None
        }

        assert "[POST /v1/utility/get]" in lines["utility:read"]
        assert "[POST /v1/homes/create]" in lines["homes:write"]
        assert "[POST /v1/homes/{id}/bill/monthly]" in lines["bill_impact:read"]
        assert "[POST /v1/feedback]" in lines["feedback:write"]
        assert "/v1/homes/create" not in lines["homes:read"]

    async def test_any_key_routes_are_the_agents_own_not_the_gateways(
        self, client: httpx.AsyncClient
    ) -> None:
        scopes = sections(await llms_txt(client))["Scopes"]
        any_key = next(line for line in scopes.split("\n") if line.startswith("Any valid key"))

        assert "[GET /v1/agent-credentials/self]" in any_key
        # Forward auth is called by a gateway and needs the scope of the [upstream] table.
        assert "/v1/auth/forward" not in any_key

    async def test_a_scope_of_the_guarded_api_says_so(self, make_app: AppFactory) -> None:
        async with client_for(make_app(policy=gateway_policy())) as client:
            scopes = sections(await llms_txt(client))["Scopes"]

        meters = next(line for line in scopes.split("\n") if line.startswith("- `meters:read`"))
        assert meters.endswith("Unlocks: requests to the API this server guards.")
        public = next(line for line in scopes.split("\n") if line.startswith("- `utility:read`"))
        assert "[POST /v1/utility/get]" in public
        assert public.endswith("; requests to the API this server guards.")

    async def test_it_states_the_header_the_outcomes_and_how_to_revoke(
        self, client: httpx.AsyncClient
    ) -> None:
        found = sections(await llms_txt(client))

        assert "`x-ws-api-key`" in found["Authenticate"]
        for outcome in ("issued", "needs_more_info", "rate_limited", "production_denied"):
            assert f"- `{outcome}`:" in found["Outcomes"], outcome
        assert "`POST /v1/agent-credentials/{credentialId}/revoke`" in found["Revoke"]
        instructions = found["Instructions for agents"]
        assert "env file" in instructions
        assert "Never put it in source code" in instructions
        assert "Revoke the key when the task is done" in instructions

    async def test_the_limits_are_the_shipped_policy_s(self, client: httpx.AsyncClient) -> None:
        limits = sections(await llms_txt(client))["Limits in force"]

        # default_policy.toml: ttl 86400 / 1 / 604800; request_rate 600 per 60 s.
        assert (
            "default 86400 seconds (1 day), at least 1 second, at most 604800 seconds (1 week)"
            in limits
        )
        assert "Sandbox requests per key: 600 per 60 seconds (1 minute)." in limits
        assert "Quota `organization_issued`: 10 " in limits

    async def test_head_answers_without_a_body(self, client: httpx.AsyncClient) -> None:
        response = await client.head(LLMS)

        assert response.status_code == 200
        assert response.content == b""
        full = await client.get(LLMS)
        assert int(response.headers["content-length"]) == len(full.content)


class TestOperationPages:
    async def test_the_issuance_page_describes_its_body(self, client: httpx.AsyncClient) -> None:
        openapi = (await client.get("/openapi.json")).json()
        operation_id = openapi["paths"]["/v1/agent-credentials"]["post"]["operationId"]

        page = (await client.get(f"/docs/md/{operation_id}.md")).text

        assert "- **Request:** `POST /v1/agent-credentials`" in page
        assert "- **Access:** No key: anyone may call it." in page
        assert "## Request body" in page
        assert (
            "- `assignment` (string; required; at least 10 characters; at most 4000 characters)"
            in page
        )
        assert '- `requested_environment` (one of `"sandbox"`, `"production"`; optional' in page
        assert "- **200** (`application/json` object `AgentCredentialResponseDto`)" in page
        assert "- **400** (`application/json` object `ApiErrorEnvelopeDto`)" in page
        # The answer's fields, with the descriptions the schema gives them.
        assert (
            "- `credential` (string; optional): issued: the secret key (wsk_agent_…). Shown once"
            in page
        )

    async def test_a_guarded_page_names_its_header_and_scope(
        self, client: httpx.AsyncClient
    ) -> None:
        openapi = (await client.get("/openapi.json")).json()
        operation_id = openapi["paths"]["/v1/homes/{id}/bill/monthly"]["post"]["operationId"]

        page = (await client.get(f"/docs/md/{operation_id}.md")).text

        assert "- **Required scopes:** `bill_impact:read`" in page
        assert "`x-ws-api-key`" in page
        assert "- `id` (in path; string; required)" in page
        assert "- `month` (integer; required; ≥ 1; ≤ 12)" in page


COMMAND = re.compile(r"`(agentkeys [a-z]+)((?: --[a-z-]+(?: [^`\s]+)?)*)`")


def named_commands(text: str) -> dict[str, list[str]]:
    """``agentkeys <command>`` quoted in ``text`` → the options it is shown with."""
    found: dict[str, list[str]] = {}
    for command, options in COMMAND.findall(text):
        found.setdefault(command, []).extend(re.findall(r"--[a-z-]+", options))
    return found


def cli_options(name: str) -> set[str]:
    """The options ``agentkeys <name>`` accepts."""
    group = typer.main.get_command(cli_app)
    assert isinstance(group, TyperGroup)
    command = group.commands.get(name)
    assert command is not None, name
    return {option for parameter in command.params for option in parameter.opts}


class TestOtherWaysIn:
    """The section naming MCP, the Python client and the command line: each name it gives an
    agent is real (the class imports, the command takes the options shown)."""

    async def test_it_names_the_mcp_endpoint_and_its_stdio_command(
        self, client: httpx.AsyncClient
    ) -> None:
        section = sections(await llms_txt(client))["Other ways in"]

        [line] = [line for line in section.splitlines() if line.startswith("- [MCP server]")]
        assert LINK.findall(line) == ["/mcp"]
        assert "streamable HTTP" in line
        assert "`x-ws-api-key`" in line
        assert named_commands(line) == {"agentkeys mcp": ["--url"]}

    async def test_the_python_client_it_names_imports(self, client: httpx.AsyncClient) -> None:
        section = sections(await llms_txt(client))["Other ways in"]

        named = re.findall(r"`(agentkeys\.[a-z_.]+\.[A-Za-z]+)", section)
        assert named == [
            "agentkeys.client.AgentKeysClient",
            "agentkeys.client.AsyncAgentKeysClient",
        ]
        for dotted in named:
            module, _, name = dotted.rpartition(".")
            assert isinstance(getattr(importlib.import_module(module), name), type), dotted

    async def test_the_commands_it_shows_take_the_options_shown(
        self, client: httpx.AsyncClient
    ) -> None:
        section = sections(await llms_txt(client))["Other ways in"]
        commands = named_commands(section)

        assert set(commands) == {
            "agentkeys mcp",
            "agentkeys request",
            "agentkeys whoami",
            "agentkeys revoke",
        }
        assert commands["agentkeys request"] == [
            "--url",
            "--organization",
            "--user-name",
            "--email",
            "--assignment",
            "--scopes",
        ]
        for command, options in commands.items():
            accepted = cli_options(command.removeprefix("agentkeys "))
            assert set(options) <= accepted, (command, options, accepted)
        assert "`.env` (created with mode 0600) as `WATTSHIFT_API_KEY=…`" in section

    async def test_without_mcp_mounted_it_names_no_mcp(self, make_app: AppFactory) -> None:
        # Every app this project builds mounts /mcp: the facts of one that does not.
        facts = replace(documents.read_facts(make_app()), mcp_endpoint=None)

        text = render_llms_txt(facts)

        assert "/mcp" not in LINK.findall(text)
        assert "MCP" not in text
        section = sections(text)["Other ways in"]
        assert set(named_commands(section)) == {
            "agentkeys request",
            "agentkeys whoami",
            "agentkeys revoke",
        }
        assert "`agentkeys.client.AgentKeysClient(BASE)`" in section


class TestGeneratedFromThePolicy:
    """A policy unlike the shipped one: every figure and the example follow it."""

    async def test_the_limits_follow_the_policy(self, make_app: AppFactory) -> None:
        async with client_for(make_app(policy=custom_policy())) as client:
            text = await llms_txt(client)
            document = await well_known(client)

        limits = sections(text)["Limits in force"]
        # 1800 s = 30 min, 300 s = 5 min, 7200 s = 2 h.
        assert (
            "default 1800 seconds (30 minutes), at least 300 seconds (5 minutes), "
            "at most 7200 seconds (2 hours)" in limits
        )
        # 30 min = 1800 s.
        assert (
            "Quota `organization_issued`: 7 credentials issued per organization and client "
            "network per 1800 seconds (30 minutes)." in limits
        )
        assert "Quota `organization_active`: 3 " in limits
        assert "Quota `email_issued`" not in limits
        assert "Sandbox requests per key: 42 per 30 seconds." in limits
        assert document["ttl"] == {"default_seconds": 1800, "min_seconds": 300, "max_seconds": 7200}
        assert document["quotas"] == [
            {
                "name": "organization_active",
                "meaning": "unexpired, unrevoked credentials per organization and client network",
                "limit": 3,
                "window_seconds": None,
            },
            {
                "name": "organization_issued",
                "meaning": "credentials issued per organization and client network",
                "limit": 7,
                "window_seconds": 1800,
            },
        ]
        assert document["rates"]["per_credential"] == {"limit": 42, "window_seconds": 30}
        assert listed_aliases(text) == {
            "everything_homes": ["homes:read", "homes:write", "utility:read"]
        }

    async def test_the_example_meets_the_policy_s_requirements(self, make_app: AppFactory) -> None:
        async with client_for(make_app(policy=custom_policy())) as client:
            text = await llms_txt(client)
            body = example_body(text)
            answer = (await client.post("/v1/agent-credentials", json=body)).json()

        assert "`project`" in sections(text)["Request a key"]
        assert "project" in body
        # The seed's TTL of 86400 s is over this policy's maximum of 7200 s.
        assert body["requested_ttl_seconds"] == 7200
        assert answer["outcome"] == "issued", answer

    async def test_each_app_answers_its_own_policy(self, make_app: AppFactory) -> None:
        async with client_for(make_app()) as shipped:
            shipped_text = await llms_txt(shipped)
        async with client_for(make_app(policy=custom_policy())) as custom:
            custom_text = await llms_txt(custom)

        assert "at most 604800 seconds" in shipped_text
        assert "at most 7200 seconds" in custom_text


class TestCheapAndBounded:
    async def test_the_documents_are_built_once_per_app(
        self, make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        builds: list[object] = []
        build = documents.build_documents

        def counting(app: Any) -> documents.DiscoveryDocuments:
            builds.append(app)
            return build(app)

        monkeypatch.setattr(documents, "build_documents", counting)
        async with client_for(make_app()) as client:
            first = await client.get(LLMS)
            for path in (LLMS, WELL_KNOWN, "/docs/md/getLlmsTxt.md", "/docs/md/nothing.md"):
                await client.get(path)
            again = await client.get(LLMS)

        assert len(builds) == 1
        assert first.content == again.content

    async def test_an_unknown_page_is_404_in_the_envelope(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/docs/md/noSuchOperation.md")

        envelope = assert_envelope(response, status=404, code="NOT_FOUND")
        assert "noSuchOperation" in envelope["message"]

    async def test_a_long_unknown_name_is_not_echoed_whole(self, client: httpx.AsyncClient) -> None:
        name = "x" * 5000
        response = await client.get(f"/docs/md/{name}.md")

        envelope = assert_envelope(response, status=404, code="NOT_FOUND")
        assert name not in envelope["message"]
        assert len(envelope["message"]) < 200


class TestWellKnown:
    async def test_it_states_how_to_ask_for_a_key(self, client: httpx.AsyncClient) -> None:
        document = await well_known(client)
        openapi = (await client.get("/openapi.json")).json()

        issuance = document["issuance"]
        assert (issuance["method"], issuance["path"]) == ("POST", "/v1/agent-credentials")
        assert issuance["authentication"] == "none"
        schema = resolve_pointer(openapi, issuance["request_schema"])
        assert schema["title"] == "CreateAgentCredentialRequestDto"
        # The API's four, then the shipped policy's user_email.
        assert issuance["required_fields"] == [
            "organization_name",
            "user_name",
            "assignment",
            "requested_scopes",
            "user_email",
        ]
        assert issuance["outcomes"] == [
            "issued",
            "needs_more_info",
            "rate_limited",
            "production_denied",
        ]
        assert document["ttl"] == {
            "default_seconds": 86400,
            "min_seconds": 1,
            "max_seconds": 604800,
        }
        assert document["authentication"]["header"] == "x-ws-api-key"

    async def test_the_scope_catalog_is_the_policy_s(self, client: httpx.AsyncClient) -> None:
        document = await well_known(client)
        openapi = (await client.get("/openapi.json")).json()
        operation_ids = {
            operation["operationId"]
            for operations in openapi["paths"].values()
            for operation in operations.values()
        }

        assert {scope["name"]: scope["description"] for scope in document["scopes"]} == (
            SHIPPED_SCOPES
        )
        assert {alias["name"]: alias["scopes"] for alias in document["aliases"]} == (
            SHIPPED_ALIASES
        )
        for scope in document["scopes"]:
            assert scope["operations"], scope["name"]
            assert set(scope["operations"]) <= operation_ids, scope["name"]

    async def test_the_quotas_are_the_policy_s(self, client: httpx.AsyncClient) -> None:
        document = await well_known(client)

        # default_policy.toml [quotas.*]: 60/h, 10/h, 50 active, 10/h.
        assert [
            (quota["name"], quota["limit"], quota["window_seconds"]) for quota in document["quotas"]
        ] == [
            ("address_decisions", 60, 3600),
            ("email_issued", 10, 3600),
            ("organization_active", 50, None),
            ("organization_issued", 10, 3600),
        ]

    async def test_its_key_pattern_matches_an_issued_key(self, client: httpx.AsyncClient) -> None:
        document = await well_known(client)
        body = example_body(await llms_txt(client))

        issued = (await client.post("/v1/agent-credentials", json=body)).json()

        pattern = document["authentication"]["key_pattern"]
        assert re.fullmatch(pattern, issued["credential"])
        assert not re.fullmatch(pattern, issued["credential"][:-1])
        assert issued["credential"].startswith(document["authentication"]["key_prefix"])

    async def test_its_revocation_template_revokes_the_key(self, client: httpx.AsyncClient) -> None:
        document = await well_known(client)
        issued = (
            await client.post("/v1/agent-credentials", json=example_body(await llms_txt(client)))
        ).json()
        headers = {document["authentication"]["header"]: issued["credential"]}

        revocation = document["revocation"]
        path = revocation["path_template"].replace("{credentialId}", issued["credential_id"])
        response = await client.request(revocation["method"], path, headers=headers)

        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "revoked"
        refused = await client.get(document["authentication"]["self_path"], headers=headers)
        assert_envelope(refused, status=401, code="AUTH_REVOKED_CREDENTIAL")

    async def test_it_names_the_mcp_endpoint_when_one_is_mounted(
        self, make_app: AppFactory
    ) -> None:
        app = make_app()
        # The MCP server is another feature's; this branch may or may not have it.
        mounted = any(
            str(getattr(route, "path", "")).rstrip("/") in {"/mcp"}
            or str(getattr(route, "path", "")).startswith("/mcp/")
            for route in app.routes
        )
        async with client_for(app) as client:
            document = await well_known(client)

        expected = {"endpoint": "/mcp", "transport": "streamable-http"} if mounted else None
        assert document["mcp"] == expected
