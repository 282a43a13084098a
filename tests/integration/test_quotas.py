"""Quotas beyond the organization's: per e-mail, active credentials, proxies, concurrency."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

import pytest

from agentkeys.clock import FrozenClock
from agentkeys.credentials.policy import IssuingPolicy, Quota, QuotaKind
from agentkeys.credentials.policy_file import load_policy
from tests.support.app import START, AppFactory, client_for
from tests.support.factories import issue_credential, key_header, request_credential

# Quotas are counted under the database's locks.
pytestmark = pytest.mark.both_backends

DEFAULT = load_policy()


def with_quotas(**quotas: Quota) -> IssuingPolicy:
    return replace(DEFAULT, quotas={QuotaKind(kind): quota for kind, quota in quotas.items()})


class TestEmailQuota:
    async def test_one_address_gets_no_more_than_its_quota_across_organizations(
        self, make_app: AppFactory
    ) -> None:
        app = make_app(policy=with_quotas(email_issued=Quota(2, timedelta(hours=1))))
        async with client_for(app) as client:
            await issue_credential(client, organization_name="One")
            await issue_credential(
                client, organization_name="Two", user_email="DEVELOPER@Example.COM"
            )

            limited = (await request_credential(client, organization_name="Three")).json()
            other = await issue_credential(client, user_email="someone.else@example.com")

        assert limited["outcome"] == "rate_limited"
        assert limited["retry_after_seconds"] == 3600
        assert other["outcome"] == "issued"


class TestActiveCredentialCap:
    async def test_cap_counts_unexpired_unrevoked_credentials(self, make_app: AppFactory) -> None:
        app = make_app(policy=with_quotas(organization_active=Quota(2)))
        async with client_for(app) as client:
            first = await issue_credential(client, requested_ttl_seconds=600)
            await issue_credential(client, requested_ttl_seconds=900)

            limited = (await request_credential(client)).json()
            await client.post(first["revocation_path"], headers=key_header(first["credential"]))
            after_revocation = await issue_credential(client)

        assert limited["outcome"] == "rate_limited"
        # The sooner of the two expiries frees a place.
        assert limited["retry_after_seconds"] == 600
        assert after_revocation["outcome"] == "issued"

    async def test_expiry_frees_a_place_at_the_announced_second(
        self, make_app: AppFactory, clock: FrozenClock
    ) -> None:
        app = make_app(policy=with_quotas(organization_active=Quota(1)))
        async with client_for(app) as client:
            await issue_credential(client, requested_ttl_seconds=120)
            clock.advance(timedelta(seconds=30))

            wait = (await request_credential(client)).json()["retry_after_seconds"]
            clock.advance(timedelta(seconds=wait - 1))
            still = (await request_credential(client)).json()["outcome"]
            clock.advance(timedelta(seconds=1))

            await issue_credential(client)

        assert wait == 90
        assert still == "rate_limited"


class TestTrustedProxies:
    async def test_forwarded_address_counts_only_behind_a_trusted_proxy(
        self, make_app: AppFactory
    ) -> None:
        policy = with_quotas(address_decisions=Quota(1, timedelta(hours=1)))
        app = make_app(policy=policy, trusted_proxies="10.0.0.0/8")
        async with client_for(app, client_address="10.0.0.2") as proxy:
            first = await request_credential(proxy, headers_for="198.51.100.1")
            second = await request_credential(proxy, headers_for="198.51.100.2")
            third = await request_credential(proxy, headers_for="198.51.100.1")
        async with client_for(app, client_address="203.0.113.9") as direct:
            spoof_one = await request_credential(direct, headers_for="192.0.2.1")
            spoof_two = await request_credential(direct, headers_for="192.0.2.2")

        assert [r.json()["outcome"] for r in (first, second, third)] == [
            "issued",
            "issued",
            "rate_limited",
        ]
        # An untrusted peer's X-Forwarded-For is ignored: both count against 203.0.113.9.
        assert [r.json()["outcome"] for r in (spoof_one, spoof_two)] == ["issued", "rate_limited"]


class TestConcurrency:
    async def test_fifty_simultaneous_requests_never_issue_more_than_the_quota(
        self, make_app: AppFactory
    ) -> None:
        app = make_app(policy=with_quotas(organization_issued=Quota(10, timedelta(hours=1))))
        async with client_for(app) as client:
            responses = await asyncio.gather(
                *(request_credential(client, user_email=f"dev{n}@example.com") for n in range(50))
            )

        outcomes = [response.json()["outcome"] for response in responses]
        assert all(response.status_code == 200 for response in responses)
        assert outcomes.count("issued") == 10
        assert outcomes.count("rate_limited") == 40

    async def test_each_network_gets_exactly_its_quota_when_all_ask_at_once(
        self, make_app: AppFactory
    ) -> None:
        # Quotas count per organization and client network: each network's count is exact even
        # while the other network's decisions for the same organization run alongside.
        app = make_app(policy=with_quotas(organization_issued=Quota(10, timedelta(hours=1))))
        async with (
            client_for(app, client_address="198.51.100.1") as one,
            client_for(app, client_address="2001:db8:5::1") as two,
        ):
            responses = await asyncio.gather(
                *(
                    request_credential(client, user_email=f"dev{n}@example.com")
                    for n in range(25)
                    for client in (one, two)
                )
            )

        outcomes = [response.json()["outcome"] for response in responses]
        assert outcomes[0::2].count("issued") == 10
        assert outcomes[1::2].count("issued") == 10
        assert outcomes.count("rate_limited") == 30

    async def test_simultaneous_requests_at_the_edge_of_the_active_cap(
        self, make_app: AppFactory, clock: FrozenClock
    ) -> None:
        app = make_app(policy=with_quotas(organization_active=Quota(3)))
        async with client_for(app) as client:
            await issue_credential(client)
            clock.set(START + timedelta(minutes=1))
            responses = await asyncio.gather(*(request_credential(client) for _ in range(50)))

        outcomes = [response.json()["outcome"] for response in responses]
        assert outcomes.count("issued") == 2
        assert outcomes.count("rate_limited") == 48
