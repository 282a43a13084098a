"""Quotas per client network: nobody elsewhere can spend a name's quota; spellings and IPv6 too.

Threat: a stranger who knows an organization's name (or an e-mail) asks for keys in its name
until the quota is spent, locking the real owner out. Quotas count per (name, client network);
the figure over every network only raises an alarm. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY

from agentkeys.clock import FrozenClock
from agentkeys.credentials.policy import (
    NetworkPrefixes,
    Quota,
    RefusedLedger,
)
from agentkeys.credentials.policy_file import load_policy
from tests.support.app import AppFactory, client_for
from tests.support.databases import DatabaseProbe
from tests.support.factories import issue_credential, request_credential
from tests.support.policies import with_quotas

# Quotas per client network are counted in the database.
pytestmark = pytest.mark.both_backends

DEFAULT = load_policy()
HOUR = timedelta(hours=1)
HOME, STRANGER = "198.51.100.10", "203.0.113.99"


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def outcome(client: Any, **overrides: Any) -> str:
    response = await request_credential(client, **overrides)
    assert response.status_code == 200, response.text
    result: str = response.json()["outcome"]
    return result


async def ledger(db: DatabaseProbe) -> list[dict[str, Any]]:
    rows = await db.rows("SELECT * FROM credential_requests ORDER BY created_at, id")
    for row in rows:
        for column in ("request", "details"):
            if isinstance(row[column], str):
                row[column] = json.loads(row[column])
    return rows


class TestNoStrangerCanSpendAQuota:
    async def test_a_stranger_cannot_lock_out_an_organization(
        self, make_app: AppFactory, db: DatabaseProbe
    ) -> None:
        app = make_app(policy=DEFAULT)
        alarms_before = metric("agentkeys_quota_alarms_total", quota="organization_issued")
        async with client_for(app, client_address=STRANGER) as stranger:
            for n in range(10):
                await issue_credential(
                    stranger, organization_name="Quota Org A", user_email=f"s{n}@evil.example"
                )
            stranger_more = await outcome(
                stranger, organization_name="Quota Org A", user_email="s99@evil.example"
            )
        async with client_for(app, client_address=HOME) as owner:
            owners = await outcome(
                owner, organization_name="QUOTA ORG A", user_email="owner@example.com"
            )

        assert stranger_more == "rate_limited"
        assert owners == "issued"
        # The figure over every network reached the limit: an alarm, in metrics and the ledger.
        assert metric("agentkeys_quota_alarms_total", quota="organization_issued") > alarms_before
        [owners_row] = [r for r in await ledger(db) if r["client_network"] == f"{HOME}/32"]
        assert owners_row["outcome"] == "issued"
        assert "organization_issued" in owners_row["details"]["alarms"]

    async def test_a_stranger_cannot_lock_out_an_email(self, make_app: AppFactory) -> None:
        app = make_app(policy=with_quotas(email_issued=Quota(2, HOUR)))
        async with client_for(app, client_address=STRANGER) as stranger:
            for n in range(2):
                await issue_credential(
                    stranger, organization_name=f"Org {n}", user_email="victim@example.com"
                )
            stranger_more = await outcome(stranger, user_email="Victim+x@Example.com")
        async with client_for(app, client_address=HOME) as owner:
            owners = await outcome(owner, user_email="victim@example.com")

        assert stranger_more == "rate_limited"
        assert owners == "issued"

    async def test_a_stranger_cannot_fill_the_active_cap(
        self, make_app: AppFactory, db: DatabaseProbe
    ) -> None:
        app = make_app(policy=with_quotas(organization_active=Quota(2)))
        async with client_for(app, client_address=STRANGER) as stranger:
            for n in range(2):
                await issue_credential(stranger, user_email=f"s{n}@example.com")
            stranger_more = await outcome(stranger)
        async with client_for(app, client_address=HOME) as owner:
            owners = await outcome(owner)

        assert stranger_more == "rate_limited"
        assert owners == "issued"
        [owners_row] = [r for r in await ledger(db) if r["client_network"] == f"{HOME}/32"]
        assert "organization_active" in owners_row["details"]["alarms"]

    async def test_no_alarm_below_the_threshold(
        self, make_app: AppFactory, db: DatabaseProbe, clock: FrozenClock
    ) -> None:
        app = make_app(policy=with_quotas(organization_issued=Quota(10, HOUR, alarm_at=3)))
        async with client_for(app, client_address=HOME) as owner:
            for _ in range(4):
                await issue_credential(owner)
                clock.advance(timedelta(seconds=1))

        details = [row["details"] for row in await ledger(db)]
        assert ["alarms" in d for d in details] == [False, False, False, True]


SPELLINGS = [
    "EXAMPLE ENERGY CO",
    "Exa\u200bmple Energy Co",
    "Example\u00a0Energy\u3000Co",
    "\ufeffExample Energy Co.",
    "\uff25xample Energy Co,",  # full-width E
    "Exampl\u0435 \u0415nergy Co",  # Cyrillic e and E
    "Exa\u0301mple Energy Co",  # combining acute accent
    "Example Ene\u00adrgy Co",  # soft hyphen
    "Example\u202e Energy Co",  # right-to-left override
    "Example\u2800Energy Co",  # braille pattern blank
    "Example Energy Co\ufffc",  # object replacement character
    "Example \U0001d159Energy Co",  # musical symbol null notehead
    "\u1d07xample \u1d07nergy \u1d04\u1d0f",  # small capitals E, E, C, O
]


class TestSpellingsAreOneIdentity:
    @pytest.mark.parametrize("spelling", SPELLINGS)
    async def test_no_spelling_of_the_name_gets_a_new_quota(
        self, make_app: AppFactory, db: DatabaseProbe, spelling: str
    ) -> None:
        app = make_app(policy=with_quotas(organization_issued=Quota(1, HOUR)))
        async with client_for(app) as client:
            await issue_credential(client, user_email="one@example.com")
            again = await outcome(client, organization_name=spelling, user_email="two@example.com")

        assert again == "rate_limited"
        first, second = sorted(await ledger(db), key=lambda row: row["outcome"])
        # The name is kept as given; only the key is normalised.
        assert (first["outcome"], second["outcome"]) == ("issued", "rate_limited")
        assert second["organization_name"] == spelling
        assert second["organization_key"] == first["organization_key"] == "example energy co"

    @pytest.mark.parametrize(
        "email",
        [
            "developer+2@example.com",
            "\uff44eveloper@example.com",  # full-width d
            "DEVELOPER@EXAMPLE.COM",
            "developer@\u00e9xample.com".replace("\u00e9", "e\u0301"),  # combining accent
            "DEVELOPER+tag@Example.Com",
        ],
    )
    async def test_no_spelling_of_the_email_gets_a_new_quota(
        self, make_app: AppFactory, email: str
    ) -> None:
        app = make_app(policy=with_quotas(email_issued=Quota(1, HOUR)))
        async with client_for(app) as client:
            await issue_credential(client, organization_name="One")
            again = await outcome(client, organization_name="Two", user_email=email)

        assert again == "rate_limited"

    async def test_punycode_and_unicode_domains_are_one(self, make_app: AppFactory) -> None:
        app = make_app(policy=with_quotas(email_issued=Quota(1, HOUR)))
        async with client_for(app) as client:
            await issue_credential(client, organization_name="One", user_email="a@b\u00fccher.de")
            again = await outcome(client, organization_name="Two", user_email="a@xn--bcher-kva.de")

        assert again == "rate_limited"

    async def test_gmail_dots_and_googlemail_are_one_mailbox(self, make_app: AppFactory) -> None:
        app = make_app(policy=with_quotas(email_issued=Quota(1, HOUR)))
        async with client_for(app) as client:
            await issue_credential(client, organization_name="One", user_email="dev@gmail.com")
            again = await outcome(client, organization_name="Two", user_email="d.ev@googlemail.com")

        assert again == "rate_limited"


class TestNetworks:
    async def test_an_ipv6_slash_64_is_one_client(self, make_app: AppFactory) -> None:
        app = make_app(policy=with_quotas(address_decisions=Quota(1, HOUR)))
        async with client_for(app, client_address="2001:db8:1:2::1") as first:
            one = await outcome(first)
        async with client_for(app, client_address="2001:db8:1:2:ffff::9") as same_64:
            two = await outcome(same_64, user_email="other@example.com")
        async with client_for(app, client_address="2001:db8:1:3::1") as next_64:
            three = await outcome(next_64, user_email="third@example.com")

        assert [one, two, three] == ["issued", "rate_limited", "issued"]

    async def test_prefix_lengths_are_policy(self, make_app: AppFactory, db: DatabaseProbe) -> None:
        policy = replace(
            with_quotas(address_decisions=Quota(1, HOUR)),
            networks=NetworkPrefixes(ipv4=24, ipv6=128),
        )
        app = make_app(policy=policy)
        async with client_for(app, client_address="198.51.100.1") as first:
            one = await outcome(first)
        async with client_for(app, client_address="198.51.100.200") as same_24:
            two = await outcome(same_24, user_email="other@example.com")
        async with client_for(app, client_address="2001:db8::1") as v6:
            three = await outcome(v6, user_email="a@example.com")
        async with client_for(app, client_address="2001:db8::2") as v6_other:
            four = await outcome(v6_other, user_email="b@example.com")

        assert [one, two, three, four] == ["issued", "rate_limited", "issued", "issued"]
        networks = sorted(row["client_network"] for row in await ledger(db))
        assert networks == [
            "198.51.100.0/24",
            "198.51.100.0/24",
            "2001:db8::1/128",
            "2001:db8::2/128",
        ]

    async def test_ipv4_mapped_ipv6_is_its_ipv4_network(
        self, make_app: AppFactory, db: DatabaseProbe
    ) -> None:
        app = make_app(policy=DEFAULT)
        async with client_for(app, client_address="::ffff:198.51.100.7") as client:
            await issue_credential(client)

        assert (await ledger(db))[0]["client_network"] == "198.51.100.7/32"


class TestForwardedForLines:
    async def test_every_line_is_read_and_the_proxys_own_line_wins(
        self, make_app: AppFactory, db: DatabaseProbe
    ) -> None:
        app = make_app(policy=DEFAULT, trusted_proxies="10.0.0.0/8")
        async with client_for(app, client_address="10.0.0.2") as proxy:
            # The client sent its own line first; the proxy appended the address it saw.
            response = await proxy.post(
                "/v1/agent-credentials",
                json=(await _seed()),
                headers=[
                    ("x-forwarded-for", "192.0.2.1"),
                    ("x-forwarded-for", "198.51.100.77"),
                ],
            )

        assert response.status_code == 200
        row = (await ledger(db))[0]
        assert row["client_address"] == "198.51.100.77"


async def _seed() -> dict[str, Any]:
    from tests.support.factories import credential_request  # noqa: PLC0415 - keeps the helper local

    return credential_request()


BIG_ASSIGNMENT = "Prototype bill impact calculations " + "\U0001f600" * 3900


class TestRefusedDecisionsAreStoredCompactly:
    async def test_a_refusal_keeps_identity_and_digest_not_the_body(
        self, make_app: AppFactory, db: DatabaseProbe
    ) -> None:
        app = make_app(policy=with_quotas(address_decisions=Quota(1, HOUR)))
        async with client_for(app) as client:
            await issue_credential(client)
            refused = await outcome(client, assignment=BIG_ASSIGNMENT)

        assert refused == "rate_limited"
        issued_row, refused_row = sorted(await ledger(db), key=lambda row: row["outcome"])
        assert "assignment" in issued_row["request"]
        stored = refused_row["request"]
        assert "assignment" not in stored
        assert stored["organization_name"] == "Example Energy Co"
        assert len(stored["sha256"]) == 64
        assert stored["bytes"] > 15_000
        assert len(json.dumps(stored)) < 1_000

    async def test_each_network_has_a_budget_of_stored_refusals(
        self, make_app: AppFactory, db: DatabaseProbe
    ) -> None:
        policy = replace(
            with_quotas(address_decisions=Quota(1, HOUR)),
            refused_ledger=RefusedLedger(limit=2, window=HOUR),
        )
        before = metric("agentkeys_unrecorded_decisions_total", outcome="rate_limited")
        app = make_app(policy=policy)
        async with client_for(app) as client:
            await issue_credential(client)
            refusals = [await request_credential(client) for _ in range(5)]
        async with client_for(app, client_address=HOME) as elsewhere:
            await issue_credential(elsewhere, user_email="else@example.com")
            await request_credential(elsewhere, user_email="else@example.com")

        # Every refusal is still answered as one, with its own id.
        assert [r.json()["outcome"] for r in refusals] == ["rate_limited"] * 5
        assert len({r.json()["credential_request_id"] for r in refusals}) == 5
        outcomes = [(row["client_network"], row["outcome"]) for row in await ledger(db)]
        mine = sorted(o for network, o in outcomes if network == "203.0.113.7/32")
        theirs = sorted(o for network, o in outcomes if network == f"{HOME}/32")
        assert mine == ["issued", "rate_limited", "rate_limited"]
        # Another network's budget is its own.
        assert theirs == ["issued", "rate_limited"]
        unrecorded = metric("agentkeys_unrecorded_decisions_total", outcome="rate_limited")
        assert unrecorded - before == 3
