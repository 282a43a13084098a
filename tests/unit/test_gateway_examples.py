"""The Traefik and Envoy examples (``examples/gateways``), which no test runs a real gateway
for: they parse as YAML, and say what the nginx example proves end to end: the agent key never
goes upstream, whichever header carried it, and the identity upstream is agentkeys' alone."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentkeys.config import Settings
from tests.support.app import TEST_SECRET

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "gateways"
IDENTITY = {"X-Agentkeys-Credential-Id", "X-Agentkeys-Scopes", "X-Agentkeys-Expires-At"}


def load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text())
    return loaded


def lower(names: list[str]) -> set[str]:
    return {name.lower() for name in names}


class TestTraefik:
    def test_the_key_is_dropped_after_forward_auth_whichever_header_carried_it(self) -> None:
        http = load("traefik.yml")["http"]
        chain = http["routers"]["api"]["middlewares"]
        forward = http["middlewares"][chain[0]]
        dropped = http["middlewares"][chain[1]]["headers"]["customRequestHeaders"]

        assert "forwardAuth" in forward
        # Traefik removes a custom request header set to "".
        assert {name.lower(): value for name, value in dropped.items()} == {
            "x-ws-api-key": "",
            "authorization": "",
        }
        # Both still reach agentkeys, which reads the key from either.
        assert {"x-ws-api-key", "authorization"} <= lower(
            forward["forwardAuth"]["authRequestHeaders"]
        )

    def test_the_identity_upstream_is_agentkeys_answer_and_the_client_names_no_request(
        self,
    ) -> None:
        forward = load("traefik.yml")["http"]["middlewares"]["agentkeys"]["forwardAuth"]

        # authResponseHeaders replaces any copy the client sent under these names.
        assert set(forward["authResponseHeaders"]) == IDENTITY
        assert forward["trustForwardHeader"] is False


def envoy_parts() -> tuple[dict[str, Any], dict[str, Any]]:
    listener = load("envoy.yaml")["static_resources"]["listeners"][0]
    manager = listener["filter_chains"][0]["filters"][0]["typed_config"]
    route = manager["route_config"]["virtual_hosts"][0]["routes"][0]
    ext_authz = next(
        f["typed_config"]
        for f in manager["http_filters"]
        if f["name"] == "envoy.filters.http.ext_authz"
    )
    return route, ext_authz


def patterns(section: dict[str, Any], name: str) -> set[str]:
    return {pattern["exact"] for pattern in section[name]["patterns"]}


class TestEnvoy:
    def test_the_route_removes_the_key_whichever_header_carried_it(self) -> None:
        route, ext_authz = envoy_parts()

        assert lower(route["request_headers_to_remove"]) == {"x-ws-api-key", "authorization"}
        asked = patterns(ext_authz["http_service"]["authorization_request"], "allowed_headers")
        assert {"x-ws-api-key", "authorization"} <= asked
        # A client's X-Forwarded-Method/-Uri never reach agentkeys.
        assert not {"x-forwarded-method", "x-forwarded-uri"} & asked

    def test_the_identity_upstream_is_agentkeys_answer_and_an_outage_refuses(self) -> None:
        _, ext_authz = envoy_parts()

        answer = ext_authz["http_service"]["authorization_response"]
        assert patterns(answer, "allowed_upstream_headers") == {name.lower() for name in IDENTITY}
        assert ext_authz["failure_mode_allow"] is False


def upstream_block(configuration: str, name: str) -> str:
    found = re.search(r"upstream\s+" + name + r"\s*\{(?P<body>[^}]*)\}", configuration)
    assert found is not None, f"no upstream {name}"
    return found["body"]


def readme_nginx() -> str:
    readme = (EXAMPLES.parents[1] / "README.md").read_text()
    blocks: list[str] = re.findall(r"```nginx\n(.*?)```", readme, flags=re.DOTALL)
    return next(block for block in blocks if "upstream agentkeys" in block)


class TestNginxIdleConnections:
    """nginx keeps connections to agentkeys open between requests; agentkeys closes one idle for
    ``AGENTKEYS_KEEPALIVE_TIMEOUT_SECONDS``. A request nginx sends on one at the moment agentkeys
    closes it is reset: a 502 (nginx retries no POST). So nginx must close them first."""

    @pytest.mark.parametrize("source", ["example", "readme"])
    def test_nginx_closes_idle_connections_to_agentkeys_before_agentkeys_does(
        self, source: str
    ) -> None:
        configuration = (
            (EXAMPLES / "nginx.conf").read_text() if source == "example" else readme_nginx()
        )
        block = upstream_block(configuration, "agentkeys")
        timeout = re.search(r"keepalive_timeout\s+(\d+)s;", block)

        assert "keepalive " in block  # connections are kept
        assert timeout is not None, block
        assert int(timeout[1]) < Settings(secret=TEST_SECRET).keepalive_timeout_seconds

    def test_the_readme_shows_the_example_as_it_is(self) -> None:
        assert readme_nginx().strip() in (EXAMPLES / "nginx.conf").read_text()
