"""The Traefik and Envoy examples (``examples/gateways``), which no test runs a real gateway
for: they parse as YAML, and say what the nginx example proves end to end: the agent key never
goes upstream, whichever header carried it, and the identity upstream is agentkeys' alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

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
