"""``/metrics`` through HTTP: who may read it, what each counter counts, and that no label ever
carries a value a client chose (an organization, an e-mail, a key, a raw path, a method)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agentkeys.clock import FrozenClock
from agentkeys.config import Settings
from agentkeys.credentials.identity import AdminRole
from agentkeys.credentials.policy import Outcome, QuotaKind
from agentkeys.metrics import METHODS, VERIFICATION_RESULTS
from tests.support.admin import create_admin_key, revoke_admin_key
from tests.support.app import TEST_SECRET, AppFactory, client_for
from tests.support.assertions import assert_envelope
from tests.support.factories import issue_credential, key_header, request_credential
from tests.support.policies import with_request_rate

METRICS = "/metrics"
SELF = "/v1/agent-credentials/self"
OUTSIDE = "203.0.113.7"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of the exposition, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient) -> Samples:
    answer = await client.get(METRICS)
    assert answer.status_code == 200, answer.text
    return parse(answer.text)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class TestAccess:
    @pytest.mark.parametrize("address", ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"])
    async def test_loopback_reads_without_a_key(self, make_app: AppFactory, address: str) -> None:
        async with client_for(make_app(), client_address=address) as client:
            answer = await client.get(METRICS)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/plain")
        assert "agentkeys_verifications_total" in answer.text

    async def test_anyone_else_is_asked_for_an_admin_key_in_the_envelope(
        self, make_app: AppFactory
    ) -> None:
        async with client_for(make_app(), client_address=OUTSIDE) as client:
            answer = await client.get(METRICS)
        body = assert_envelope(answer, status=401, code="AUTH_MISSING_API_KEY")
        assert "AGENTKEYS_METRICS_ALLOW" in body["message"]
        assert "agentkeys_" not in answer.text

    async def test_an_allowed_network_reads_and_its_neighbour_does_not(
        self, make_app: AppFactory
    ) -> None:
        app = make_app(metrics_allow="203.0.113.0/28, 2001:db8::/64")
        async with client_for(app, client_address=OUTSIDE) as client:
            assert (await client.get(METRICS)).status_code == 200
        async with client_for(app, client_address="2001:db8::5") as client:
            assert (await client.get(METRICS)).status_code == 200
        async with client_for(app, client_address="203.0.113.77") as client:
            assert_envelope(await client.get(METRICS), status=401, code="AUTH_MISSING_API_KEY")

    async def test_a_proxy_on_loopback_does_not_make_its_clients_loopback(
        self, make_app: AppFactory
    ) -> None:
        app = make_app(trusted_proxies="127.0.0.1")
        async with client_for(app, client_address="127.0.0.1") as client:
            forwarded = await client.get(METRICS, headers={"X-Forwarded-For": OUTSIDE})
            direct = await client.get(METRICS)
        assert_envelope(forwarded, status=401, code="AUTH_MISSING_API_KEY")
        assert direct.status_code == 200

    async def test_a_client_cannot_claim_loopback_in_x_forwarded_for(
        self, make_app: AppFactory
    ) -> None:
        # Its peer is no trusted proxy: the header is not believed.
        async with client_for(make_app(), client_address=OUTSIDE) as client:
            answer = await client.get(METRICS, headers={"X-Forwarded-For": "127.0.0.1"})
        assert_envelope(answer, status=401, code="AUTH_MISSING_API_KEY")

    @pytest.mark.parametrize("role", [AdminRole.ADMIN, AdminRole.VIEWER])
    async def test_an_admin_key_reads_from_anywhere(
        self, make_app: AppFactory, settings: Settings, role: AdminRole
    ) -> None:
        _, key = await create_admin_key(settings, f"ops-{role}", role)
        async with client_for(make_app(), client_address=OUTSIDE) as client:
            answer = await client.get(METRICS, headers=bearer(key))
        assert answer.status_code == 200, answer.text
        assert "agentkeys_verifications_total" in answer.text

    async def test_a_revoked_or_wrong_admin_key_is_401(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        key_id, key = await create_admin_key(settings, "gone")
        await revoke_admin_key(settings, key_id)
        async with client_for(make_app(), client_address=OUTSIDE) as client:
            revoked = await client.get(METRICS, headers=bearer(key))
            malformed = await client.get(METRICS, headers=bearer("wsk_admin_nope"))
            other_scheme = await client.get(METRICS, headers={"Authorization": "Basic eDp5"})
        assert_envelope(revoked, status=401, code="AUTH_REVOKED_CREDENTIAL")
        assert_envelope(malformed, status=401, code="AUTH_INVALID_API_KEY")
        assert_envelope(other_scheme, status=401, code="AUTH_INVALID_API_KEY")

    async def test_an_agent_key_is_403_in_either_header(self, make_app: AppFactory) -> None:
        app = make_app()
        async with client_for(app, client_address=OUTSIDE) as client:
            agent_key = (await issue_credential(client))["credential"]
            as_bearer = await client.get(METRICS, headers=bearer(agent_key))
            as_api_key = await client.get(METRICS, headers=key_header(agent_key))
        assert_envelope(as_bearer, status=403, code="FORBIDDEN")
        assert_envelope(as_api_key, status=403, code="FORBIDDEN")


class TestSettings:
    def test_a_bad_allowed_network_stops_serve_in_one_line(self, tmp_path: Path) -> None:
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AGENTKEYS_")},
            "AGENTKEYS_MODE": "production",
            "AGENTKEYS_SECRET": TEST_SECRET,
            "AGENTKEYS_DATABASE_URL": f"sqlite:///{tmp_path / 'agentkeys.db'}",
            "AGENTKEYS_METRICS_ALLOW": "10.0.0.0/8,intranet",
        }
        result = subprocess.run(
            [str(Path(sys.executable).with_name("agentkeys")), "serve", "--port", "0"],
            env=environment,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("configuration error: AGENTKEYS_METRICS_ALLOW: "), line
        assert "'intranet'" in line

    @pytest.mark.parametrize("seconds", [0, 0.05, -1, 301])
    def test_a_flush_interval_out_of_range_is_refused(self, seconds: float) -> None:
        with pytest.raises(ValueError, match="last_used_flush_seconds"):
            Settings(mode="development", last_used_flush_seconds=seconds)


class TestCounts:
    async def test_each_verification_result_is_counted_once(
        self, make_app: AppFactory, clock: FrozenClock
    ) -> None:
        app = make_app(policy=with_request_rate(1))
        async with client_for(app, client_address="127.0.0.1") as client:
            before = await scrape(client)
            ok_key = key_header((await issue_credential(client))["credential"])
            scoped_key = key_header(
                (await issue_credential(client, user_email="b@example.com"))["credential"]
            )
            revoked = await issue_credential(client, user_email="c@example.com")
            await client.post(revoked["revocation_path"], headers=key_header(revoked["credential"]))

            assert (await client.get(SELF, headers=ok_key)).status_code == 200
            assert (await client.get(SELF, headers=ok_key)).status_code == 429
            assert (await client.get(SELF)).status_code == 401
            assert (await client.get(SELF, headers=key_header("wsk_agent_nope"))).status_code == 401
            revoked_answer = await client.get(SELF, headers=key_header(revoked["credential"]))
            assert revoked_answer.status_code == 401
            utility = await client.post(
                "/v1/utility/get", headers=scoped_key, json={"zipcode": "94107"}
            )
            assert_envelope(utility, status=403, code="AUTH_INSUFFICIENT_SCOPE")
            clock.advance(timedelta(days=8))
            assert_envelope(
                await client.get(SELF, headers=scoped_key),
                status=401,
                code="AUTH_EXPIRED_CREDENTIAL",
            )
            after = await scrape(client)

        name = "agentkeys_verifications_total"
        counted = {
            result: value(after, name, result=result) - value(before, name, result=result)
            for result in VERIFICATION_RESULTS
        }
        assert counted == dict.fromkeys(VERIFICATION_RESULTS, 1.0)

    async def test_decisions_are_counted_by_outcome(self, make_app: AppFactory) -> None:
        async with client_for(make_app(), client_address="127.0.0.1") as client:
            before = await scrape(client)
            await issue_credential(client)
            await request_credential(client, requested_scopes=["no-such-scope"])
            await request_credential(client, requested_environment="production")
            after = await scrape(client)

        name = "agentkeys_decisions_total"
        for outcome, expected in [
            (Outcome.ISSUED, 1),
            (Outcome.NEEDS_MORE_INFO, 1),
            (Outcome.PRODUCTION_DENIED, 1),
            (Outcome.RATE_LIMITED, 0),
        ]:
            counted = value(after, name, outcome=outcome) - value(before, name, outcome=outcome)
            assert counted == expected, outcome

    async def test_revocations_are_counted_by_actor_never_by_admin_name(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        admin_name = f"ops-{uuid.uuid4().hex[:8]}"
        _, admin_key = await create_admin_key(settings, admin_name)
        async with client_for(make_app(), client_address="127.0.0.1") as client:
            before = await scrape(client)
            own = await issue_credential(client)
            await client.post(own["revocation_path"], headers=key_header(own["credential"]))
            # Again: idempotent, nothing more is revoked, nothing more is counted.
            await client.post(own["revocation_path"], headers=key_header(own["credential"]))
            other = await issue_credential(client, user_email="b@example.com")
            answer = await client.post(
                f"/v1/admin/credentials/{other['credential_id']}/revoke",
                headers=bearer(admin_key),
                json={"reason": "incident"},
            )
            assert answer.status_code == 200, answer.text
            text = (await client.get(METRICS)).text

        after = parse(text)
        name = "agentkeys_revocations_total"
        assert value(after, name, by="self") - value(before, name, by="self") == 1
        assert value(after, name, by="admin") - value(before, name, by="admin") == 1
        assert admin_name not in text

    @pytest.mark.both_backends  # a count in the database
    async def test_the_active_gauge_counts_unexpired_unrevoked_credentials(
        self, make_app: AppFactory, clock: FrozenClock
    ) -> None:
        async with client_for(make_app(), client_address="127.0.0.1") as client:
            short = await issue_credential(client, requested_ttl_seconds=3600)
            await issue_credential(client, user_email="b@example.com")
            revoked = await issue_credential(client, user_email="c@example.com")
            await client.post(revoked["revocation_path"], headers=key_header(revoked["credential"]))
            assert short["expires_at"]
            assert value(await scrape(client), "agentkeys_active_credentials") == 2
            clock.advance(timedelta(hours=2))
            assert value(await scrape(client), "agentkeys_active_credentials") == 1

    async def test_key_cache_hits_and_misses_are_counted(self, make_app: AppFactory) -> None:
        async with client_for(make_app(), client_address="127.0.0.1") as client:
            headers = key_header((await issue_credential(client))["credential"])
            before = await scrape(client)
            await client.get(SELF, headers=headers)
            await client.get(SELF, headers=headers)
            after = await scrape(client)

        def delta(name: str) -> float:
            return value(after, name, cache="agent") - value(before, name, cache="agent")

        assert delta("agentkeys_key_cache_misses_total") >= 1
        assert delta("agentkeys_key_cache_hits_total") >= 1
        assert (
            delta("agentkeys_key_cache_hits_total") + delta("agentkeys_key_cache_misses_total") == 2
        )

    async def test_durations_are_labelled_by_route_template_method_and_status_class(
        self, make_app: AppFactory
    ) -> None:
        async with client_for(make_app(), client_address="127.0.0.1") as client:
            before = await scrape(client)
            issued = await issue_credential(client)
            await client.post(issued["revocation_path"], headers=key_header(issued["credential"]))
            await client.get(f"/v1/nowhere/{issued['credential_id']}")
            await client.head("/healthz")
            await client.request("BREW", "/healthz")
            await client.get("/openapi.json")  # FastAPI's own page: a plain Starlette route
            after = await scrape(client)

        name = "agentkeys_http_request_duration_seconds_count"
        expected = [
            ("/v1/agent-credentials", "POST", "2xx"),
            ("/v1/agent-credentials/{credentialId}/revoke", "POST", "2xx"),
            ("unmatched", "GET", "4xx"),
            ("/healthz", "HEAD", "2xx"),
            ("/healthz", "other", "4xx"),
            ("/openapi.json", "GET", "2xx"),
        ]
        for route, method, status in expected:
            labels = {"route": route, "method": method, "status": status}
            assert value(after, name, **labels) - value(before, name, **labels) == 1, labels


class TestLabelsAreBounded:
    async def test_no_label_carries_what_a_client_sent(self, make_app: AppFactory) -> None:
        marker = uuid.uuid4().hex
        organization = f"Org {marker}"
        email = f"dev-{marker}@example.com"
        app = make_app()
        async with client_for(app, client_address="127.0.0.1") as client:
            issued = await issue_credential(
                client, organization_name=organization, user_email=email
            )
            key = issued["credential"]
            await client.get(SELF, headers=key_header(key))
            await client.get(f"/v1/{marker}/{key}")
            await client.request(f"M{marker[:8].upper()}", f"/v1/agent-credentials/{marker}")
            await client.get(SELF, headers=key_header(f"wsk_agent_{marker}"))
            await client.post(
                f"/v1/agent-credentials/{marker}/revoke", headers=key_header(key), json={}
            )
            await client.post(issued["revocation_path"], headers=key_header(key))
            await request_credential(client, organization_name=organization, user_email=email)
            text = (await client.get(METRICS)).text

        for secret in (marker, marker[:8].upper(), key, issued["credential_id"], email):
            assert secret not in text, secret
        # Templates without convertors, as the router formats them (`{credentialId}`).
        routes = {getattr(route, "path_format", "") for route in app.routes} | {"unmatched"}
        allowed = {
            "route": routes,
            "method": METHODS | {"other"},
            "status": {"1xx", "2xx", "3xx", "4xx", "5xx", "other"},
            "outcome": {outcome.value for outcome in Outcome},
            "result": set(VERIFICATION_RESULTS),
            "by": {"self", "admin", "leak", "other"},
            "cache": {"agent", "admin"},
            "backend": {"redis", "database"},
            "quota": {kind.value for kind in QuotaKind},
        }
        word = re.compile(r"[a-z_]{1,40}")
        for family in text_string_to_metric_families(text):
            if not family.name.startswith("agentkeys_"):
                continue
            for sample in family.samples:
                for label, found in sample.labels.items():
                    if label == "le":
                        float(found)
                    elif label == "operation":
                        assert word.fullmatch(found), (sample.name, label, found)
                    else:
                        assert label in allowed, (sample.name, label)
                        assert found in allowed[label], (sample.name, label, found)
