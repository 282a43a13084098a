"""Proof with a real gateway: nginx (``examples/gateways/nginx.conf``, the README's configuration)
with ``auth_request`` to a real agentkeys server process, in front of a small upstream app.

Skipped when nginx is not installed; fails under ``AGENTKEYS_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.factories import credential_request
from tests.support.gateways import (
    echo_upstream,
    render_nginx_example,
    require_nginx,
    running_nginx,
)
from tests.support.policies import gateway_policy_text
from tests.support.servers import free_port, running_server

# Requests each key may make per minute through the gateway.
RATE = 4


@dataclass(frozen=True)
class Gateway:
    """nginx's address, and agentkeys' own (to issue and revoke keys)."""

    url: str
    agentkeys: str
    agentkeys_log: Path

    def issue(self, *scopes: str) -> dict[str, Any]:
        organization = "Gateway " + "-".join(scopes)
        answer: dict[str, Any] = httpx.post(
            f"{self.agentkeys}/v1/agent-credentials",
            json=credential_request(
                requested_scopes=list(scopes),
                organization_name=organization,
                user_email=f"dev-{len(scopes)}-{free_port()}@example.com",
            ),
        ).json()
        assert answer["outcome"] == "issued", answer
        return answer

    def request(self, method: str, path: str, key: str | None, **options: Any) -> httpx.Response:
        headers = dict(options.pop("headers", {}))
        if key is not None:
            headers["x-ws-api-key"] = key
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **options)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    nginx = require_nginx()
    directory = tmp_path_factory.mktemp("gateway")
    policy = directory / "gateway.toml"
    policy.write_text(gateway_policy_text(request_limit=RATE))
    with (
        running_server(
            database_url=f"sqlite+aiosqlite:///{directory / 'agentkeys.db'}",
            log_path=directory / "agentkeys.log",
            # nginx's address is trusted for X-Forwarded-For, as the configuration asks.
            extra_env={"AGENTKEYS_POLICY": str(policy), "AGENTKEYS_TRUSTED_PROXIES": "127.0.0.1"},
        ) as agentkeys,
        echo_upstream(directory) as api_port,
    ):
        agentkeys_port = int(agentkeys.base_url.rsplit(":", 1)[1])
        listen = free_port()
        config = render_nginx_example(
            agentkeys_port=agentkeys_port, api_port=api_port, listen_port=listen
        )
        with running_nginx(nginx, directory, config, listen):
            yield Gateway(
                url=f"http://127.0.0.1:{listen}",
                agentkeys=agentkeys.base_url,
                agentkeys_log=agentkeys.log_path,
            )


def reached_upstream(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    seen: dict[str, Any] = response.json()
    assert seen["served_by"] == "echo-upstream"
    return seen


def refused(response: httpx.Response, *, status: int, reason: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["x-agentkeys-reason"] == reason
    assert response.headers["x-request-id"].startswith("ws_request_")
    body: dict[str, Any] = response.json()
    assert "served_by" not in body
    assert body["error_code"] == reason
    assert body["request_id"] == response.headers["x-request-id"]
    return body


class TestNginxAuthRequest:
    def test_a_key_with_the_right_scope_reaches_the_upstream_with_its_identity(
        self, gateway: Gateway
    ) -> None:
        issued = gateway.issue("meters:read")

        response = gateway.request("GET", "/v2/meters/42?detail=1", issued["credential"])

        seen = reached_upstream(response)
        assert seen["method"] == "GET"
        assert seen["path"] == "/v2/meters/42?detail=1"
        assert seen["headers"]["x-agentkeys-credential-id"] == issued["credential_id"]
        assert seen["headers"]["x-agentkeys-scopes"] == "meters:read"
        assert seen["headers"]["x-agentkeys-expires-at"] == issued["expires_at"]
        # The agent key is agentkeys' business, never passed upstream.
        assert "x-ws-api-key" not in seen["headers"]
        assert response.headers["ratelimit-policy"] == f'"credential";q={RATE};w=60'
        assert response.headers["ratelimit"].startswith(f'"credential";r={RATE - 1};')

    @pytest.mark.parametrize("sent_as", ["x-ws-api-key", "bearer"])
    def test_the_upstream_never_receives_the_agent_key_whichever_way_it_was_sent(
        self, gateway: Gateway, sent_as: str
    ) -> None:
        issued = gateway.issue("meters:read")
        key = issued["credential"]
        headers = {"Authorization": f"Bearer {key}"}
        if sent_as == "x-ws-api-key":
            # The key in its own header, and an Authorization of the client's besides.
            headers = {"x-ws-api-key": key, "Authorization": "Basic dXNlcjpwYXNz"}

        response = gateway.request("GET", "/v2/meters/42", None, headers=headers)

        seen = reached_upstream(response)
        assert seen["headers"]["x-agentkeys-credential-id"] == issued["credential_id"]
        assert "x-ws-api-key" not in seen["headers"]
        assert "authorization" not in seen["headers"]
        assert key not in json.dumps(seen)

    def test_a_body_reaches_the_upstream_and_its_method_is_judged(self, gateway: Gateway) -> None:
        writer = gateway.issue("meters:write")

        response = gateway.request(
            "POST", "/v2/meters/42/readings", writer["credential"], json={"kwh": 1.5}
        )

        seen = reached_upstream(response)
        assert seen["method"] == "POST"
        assert seen["body_bytes"] == len(b'{"kwh":1.5}')
        assert seen["headers"]["x-agentkeys-credential-id"] == writer["credential_id"]

    def test_a_wrong_scope_gets_403_with_its_reason(self, gateway: Gateway) -> None:
        reader = gateway.issue("meters:read")

        response = gateway.request("PUT", "/v2/meters/42", reader["credential"], json={})

        refused(response, status=403, reason="AUTH_INSUFFICIENT_SCOPE")

    def test_a_request_no_upstream_route_maps_gets_403(self, gateway: Gateway) -> None:
        reader = gateway.issue("meters:read")

        response = gateway.request("GET", "/v3/elsewhere", reader["credential"])

        refused(response, status=403, reason="AUTH_INSUFFICIENT_SCOPE")

    def test_no_key_gets_401_with_a_challenge(self, gateway: Gateway) -> None:
        response = gateway.request("GET", "/v2/meters/42", None)

        refused(response, status=401, reason="AUTH_MISSING_API_KEY")
        assert response.headers["www-authenticate"] == 'Bearer realm="agentkeys"'

    def test_a_revoked_key_is_refused_at_once(self, gateway: Gateway) -> None:
        issued = gateway.issue("meters:read")
        key = issued["credential"]
        reached_upstream(gateway.request("GET", "/v2/meters/1", key))

        revoked = httpx.post(
            gateway.agentkeys + issued["revocation_path"], headers={"x-ws-api-key": key}
        )
        assert revoked.status_code == 200, revoked.text
        response = gateway.request("GET", "/v2/meters/1", key)

        refused(response, status=401, reason="AUTH_REVOKED_CREDENTIAL")
        assert 'error="invalid_token"' in response.headers["www-authenticate"]

    def test_over_the_limit_gets_403_rate_limited_with_retry_after(self, gateway: Gateway) -> None:
        key = gateway.issue("meters:read")["credential"]
        for _ in range(RATE):
            reached_upstream(gateway.request("GET", "/v2/meters/1", key))

        response = gateway.request("GET", "/v2/meters/1", key)

        body = refused(response, status=403, reason="RATE_LIMITED")
        assert body["error_code"] == "RATE_LIMITED"
        assert int(response.headers["retry-after"]) > 0
        assert response.headers["ratelimit"].startswith('"credential";r=0;')

    def test_a_client_cannot_forge_the_identity_nor_the_original_request(
        self, gateway: Gateway
    ) -> None:
        public = gateway.issue("utility:read")
        forged = {
            "X-Agentkeys-Credential-Id": "ws_agent_cred_forged",
            "X-Agentkeys-Scopes": "meters:write",
            # agentkeys reads these first: nginx must drop a client's own.
            "X-Forwarded-Method": "GET",
            "X-Forwarded-Uri": "/v2/public/anything",
        }

        elsewhere = gateway.request("DELETE", "/v2/meters/1", public["credential"], headers=forged)
        allowed = gateway.request("GET", "/v2/public/x", public["credential"], headers=forged)

        refused(elsewhere, status=403, reason="AUTH_INSUFFICIENT_SCOPE")
        seen = reached_upstream(allowed)
        assert seen["headers"]["x-agentkeys-credential-id"] == public["credential_id"]
        assert seen["headers"]["x-agentkeys-scopes"] == "utility:read"

    def test_agentkeys_counts_the_address_nginx_saw_never_one_the_client_claims(
        self, gateway: Gateway
    ) -> None:
        issued = gateway.issue("meters:read")

        reached_upstream(
            gateway.request(
                "GET",
                "/v2/meters/7",
                issued["credential"],
                headers={"X-Forwarded-For": "203.0.113.9"},
            )
        )

        lines = [
            json.loads(line)
            for line in gateway.agentkeys_log.read_text().splitlines()
            if line.startswith("{") and '"/v1/auth/forward"' in line
        ]
        mine = [line for line in lines if line.get("credential_id") == issued["credential_id"]]
        assert [line["client_address"] for line in mine] == ["127.0.0.1"]


@pytest.fixture(scope="module")
def gateway_without_agentkeys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same configuration, its agentkeys address a closed port: agentkeys is down."""
    nginx = require_nginx()
    directory = tmp_path_factory.mktemp("gateway-down")
    with echo_upstream(directory) as api_port:
        listen = free_port()
        config = render_nginx_example(
            agentkeys_port=free_port(), api_port=api_port, listen_port=listen
        )
        with running_nginx(nginx, directory, config, listen):
            yield f"http://127.0.0.1:{listen}"


class TestNginxWithAgentkeysDown:
    def test_the_client_gets_a_json_503_envelope_never_nginxs_error_page(
        self, gateway_without_agentkeys: str
    ) -> None:
        response = httpx.get(
            gateway_without_agentkeys + "/v2/meters/42",
            headers={"x-ws-api-key": "wsk_agent_" + "0" * 49},
            timeout=30,
        )

        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.headers["retry-after"] == "5"
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert "served_by" not in body
        assert body["error_code"] == "SERVICE_UNAVAILABLE"
        assert body["retry_after_seconds"] == 5
        assert body["request_id"] == response.headers["x-request-id"]
        assert body["message"]
        assert set(body) <= {
            "request_id",
            "error_code",
            "message",
            "recovery_action",
            "retry_after_seconds",
        }
