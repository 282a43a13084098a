"""Races on the credential ledger, on both backends, through the in-process app.

Fifty simultaneous issuance requests at the edge of each quota, and fifty simultaneous
revocations (of one credential, and of fifty different ones), must leave the ledger consistent:
every credential has exactly one ``issued`` decision and every ``issued`` decision exactly one
credential; no quota is exceeded; every revocation answers 200 ``revoked``; the first
revocation's time and reason are the ones kept; nothing answers 500 or 503.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from agentkeys.clock import FrozenClock
from agentkeys.credentials.policy import (
    IssuingPolicy,
    Quota,
    QuotaKind,
)
from tests.support.app import AppFactory, client_for
from tests.support.assertions import as_instant
from tests.support.databases import DatabaseProbe
from tests.support.factories import issue_credential, key_header, request_credential
from tests.support.policies import relaxed_policy

# 50-way races under each backend's locks.
pytestmark = pytest.mark.both_backends

SIMULTANEOUS = 50
HOUR = timedelta(hours=1)
SELF = "/v1/agent-credentials/self"
SERVICE_LOGGER = "agentkeys.credentials.service"


async def assert_ledger_consistent(db: DatabaseProbe) -> None:
    """Each credential has one ``issued`` decision, and each ``issued`` decision one credential."""
    credentials = await db.rows(
        "SELECT c.id, r.id AS decision, r.outcome FROM credentials c "
        "LEFT JOIN credential_requests r ON r.id = c.credential_request_id"
    )
    half_written = [row for row in credentials if row["decision"] is None]
    assert not half_written, f"credentials without their decision: {half_written}"
    wrong = [row for row in credentials if row["outcome"] != "issued"]
    assert not wrong, f"credentials minted for a decision other than issued: {wrong}"

    decisions = await db.rows(
        "SELECT r.id, r.outcome, COUNT(c.id) AS minted FROM credential_requests r "
        "LEFT JOIN credentials c ON c.credential_request_id = r.id GROUP BY r.id, r.outcome"
    )
    for row in decisions:
        expected = 1 if row["outcome"] == "issued" else 0
        assert row["minted"] == expected, f"decision {row} minted {row['minted']} credentials"


async def assert_answers_match_ledger(db: DatabaseProbe, answers: list[dict[str, Any]]) -> None:
    """Each decision the clients were told of is recorded with that outcome (and its credential)."""
    recorded = {
        row["id"]: row
        for row in await db.rows(
            "SELECT r.id, r.outcome, c.id AS credential_id FROM credential_requests r "
            "LEFT JOIN credentials c ON c.credential_request_id = r.id"
        )
    }
    for answer in answers:
        row = recorded.get(answer["credential_request_id"])
        assert row is not None, f"decision told but not recorded: {answer}"
        assert row["outcome"] == answer["outcome"], (row, answer)
        assert row["credential_id"] == answer.get("credential_id"), (row, answer)


def decided(responses: list[httpx.Response]) -> list[dict[str, Any]]:
    """The bodies of issuance answers, each checked to be a 200 (never a 500 or a 503)."""
    statuses = sorted({response.status_code for response in responses})
    assert statuses == [200], [r.text for r in responses if r.status_code != 200][:3]
    return [response.json() for response in responses]


def revocation_records(caplog: pytest.LogCaptureFixture, credential_id: str) -> int:
    """How many times the service wrote a revocation of this credential (it logs each one)."""
    return sum(
        1
        for record in caplog.records
        if record.name == SERVICE_LOGGER
        and record.getMessage() == "credential revoked"
        and getattr(record, "credential_id", None) == credential_id
    )


@dataclass(frozen=True)
class Edge:
    """One quota set to ``limit``, ``before`` of it used up, then a burst of fifty requests."""

    kind: QuotaKind
    limit: int
    before: int

    def policy(self) -> IssuingPolicy:
        window = None if self.kind is QuotaKind.ORGANIZATION_ACTIVE else HOUR
        return relaxed_policy(**{self.kind.value: Quota(self.limit, window)})

    def overrides(self, n: int, *, burst: bool) -> dict[str, Any]:
        """Request fields: the quota's key shared by every request, everything else distinct."""
        tag = f"{'burst' if burst else 'before'}-{n}"
        shared_org = self.kind in {QuotaKind.ORGANIZATION_ISSUED, QuotaKind.ORGANIZATION_ACTIVE}
        return {
            "organization_name": "Edge Energy Co" if shared_org else f"Org {tag}",
            "user_email": (
                "Edge.Dev@Example.com"
                if self.kind is QuotaKind.EMAIL_ISSUED
                else f"{tag}@example.com"
            ),
        }


EDGES = [
    pytest.param(Edge(QuotaKind.ORGANIZATION_ISSUED, limit=10, before=7), id="organization"),
    pytest.param(Edge(QuotaKind.EMAIL_ISSUED, limit=10, before=7), id="email"),
    pytest.param(Edge(QuotaKind.ADDRESS_DECISIONS, limit=10, before=7), id="address"),
    pytest.param(Edge(QuotaKind.ORGANIZATION_ACTIVE, limit=10, before=9), id="active"),
]


class TestSimultaneousIssuance:
    @pytest.mark.parametrize("edge", EDGES)
    async def test_fifty_at_a_quota_edge_issue_exactly_what_is_left(
        self, make_app: AppFactory, db: DatabaseProbe, clock: FrozenClock, edge: Edge
    ) -> None:
        async with client_for(make_app(policy=edge.policy())) as client:
            for n in range(edge.before):
                await issue_credential(client, **edge.overrides(n, burst=False))
            clock.advance(timedelta(minutes=1))
            responses = await asyncio.gather(
                *(
                    request_credential(client, **edge.overrides(n, burst=True))
                    for n in range(SIMULTANEOUS)
                )
            )
            answers = decided(list(responses))
            issued = [answer for answer in answers if answer["outcome"] == "issued"]
            verified = await asyncio.gather(
                *(client.get(SELF, headers=key_header(a["credential"])) for a in issued)
            )

        outcomes = sorted({answer["outcome"] for answer in answers})
        assert outcomes == ["issued", "rate_limited"], outcomes
        assert len(issued) == edge.limit - edge.before
        assert len({answer["credential_id"] for answer in issued}) == len(issued)
        assert len({answer["credential"] for answer in issued}) == len(issued)
        assert [response.status_code for response in verified] == [200] * len(issued)
        stored = await db.rows("SELECT COUNT(*) AS n FROM credentials")
        assert stored[0]["n"] == edge.limit
        decisions = await db.rows(
            "SELECT COUNT(*) AS n FROM credential_requests WHERE outcome != 'rate_limited'"
        )
        assert decisions[0]["n"] == edge.limit
        await assert_ledger_consistent(db)
        await assert_answers_match_ledger(db, answers)

    async def test_issuance_and_revocations_racing_at_the_active_cap(
        self, make_app: AppFactory, db: DatabaseProbe, clock: FrozenClock
    ) -> None:
        """Revocations free places while simultaneous requests take them: never above the cap."""
        cap = 10
        app = make_app(policy=relaxed_policy(organization_active=Quota(cap)))
        async with client_for(app) as client:
            held = [
                await issue_credential(client, user_email=f"held{n}@example.com")
                for n in range(cap)
            ]
            clock.advance(timedelta(minutes=1))
            revocations = [
                client.post(h["revocation_path"], headers=key_header(h["credential"]))
                for h in held[:5]
            ]
            requests = [
                request_credential(client, user_email=f"racer{n}@example.com")
                for n in range(SIMULTANEOUS - len(revocations))
            ]
            responses = await asyncio.gather(*revocations, *requests)

        revoked, asked = responses[: len(revocations)], responses[len(revocations) :]
        assert [response.status_code for response in revoked] == [200] * len(revocations)
        answers = decided(list(asked))
        issued = sum(1 for answer in answers if answer["outcome"] == "issued")
        assert issued <= len(revocations)
        active = await db.rows("SELECT COUNT(*) AS n FROM credentials WHERE revoked_at IS NULL")
        assert active[0]["n"] == cap - len(revocations) + issued
        assert active[0]["n"] <= cap
        await assert_ledger_consistent(db)
        await assert_answers_match_ledger(db, answers)


class TestSimultaneousRevocation:
    async def test_fifty_revocations_of_one_credential_keep_the_first(
        self,
        make_app: AppFactory,
        db: DatabaseProbe,
        clock: FrozenClock,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        async with client_for(make_app(policy=relaxed_policy())) as client:
            issued = await issue_credential(client)
            headers = key_header(issued["credential"])
            clock.advance(timedelta(minutes=1))
            revoked_at = clock.now()
            reasons = [f"reason {n}" for n in range(SIMULTANEOUS)]
            with caplog.at_level(logging.INFO, logger=SERVICE_LOGGER):
                responses = await asyncio.gather(
                    *(
                        client.post(issued["revocation_path"], headers=headers, json={"reason": r})
                        for r in reasons
                    )
                )
                writes = revocation_records(caplog, issued["credential_id"])
            row_after_burst = (
                await db.rows(
                    "SELECT * FROM credentials WHERE id = :id", id=issued["credential_id"]
                )
            )[0]

            clock.advance(timedelta(minutes=1))
            retried = await client.post(
                issued["revocation_path"], headers=headers, json={"reason": "later"}
            )
            refused = await client.get(SELF, headers=headers)

        statuses = [response.status_code for response in responses]
        assert statuses == [200] * SIMULTANEOUS, [r.text for r in responses if r.status_code != 200]
        for response in responses:
            assert response.json()["outcome"] == "revoked"
            assert response.json()["credential_id"] == issued["credential_id"]
        assert as_instant(row_after_burst["revoked_at"]) == revoked_at
        assert row_after_burst["revocation_reason"] in reasons
        # Set once: one revocation took effect; the others found it revoked and changed nothing.
        # (Several writes mean later revocations overwrote the first one's reason.)
        assert writes == 1, (
            f"the revocation was written {writes} times: each write after the first replaced the "
            f"first revocation's reason (kept: {row_after_burst['revocation_reason']!r})"
        )
        assert retried.status_code == 200
        assert retried.json()["outcome"] == "revoked"
        row = (
            await db.rows("SELECT * FROM credentials WHERE id = :id", id=issued["credential_id"])
        )[0]
        assert as_instant(row["revoked_at"]) == revoked_at
        assert row["revocation_reason"] == row_after_burst["revocation_reason"]
        assert refused.json()["error_code"] == "AUTH_REVOKED_CREDENTIAL"
        await assert_ledger_consistent(db)

    async def test_fifty_revocations_of_different_credentials(
        self, make_app: AppFactory, db: DatabaseProbe, clock: FrozenClock
    ) -> None:
        async with client_for(make_app(policy=relaxed_policy())) as client:
            issuance = await asyncio.gather(
                *(
                    request_credential(client, user_email=f"dev{n}@example.com")
                    for n in range(SIMULTANEOUS)
                )
            )
            credentials = decided(list(issuance))
            assert [c["outcome"] for c in credentials] == ["issued"] * SIMULTANEOUS
            clock.advance(timedelta(minutes=1))
            revoked_at = clock.now()
            first = await asyncio.gather(
                *(
                    client.post(
                        c["revocation_path"],
                        headers=key_header(c["credential"]),
                        json={"reason": f"done with {c['credential_id']}"},
                    )
                    for c in credentials
                )
            )
            clock.advance(timedelta(minutes=1))
            again = await asyncio.gather(
                *(
                    client.post(
                        c["revocation_path"],
                        headers=key_header(c["credential"]),
                        json={"reason": "retried"},
                    )
                    for c in credentials
                )
            )
            refused = await asyncio.gather(
                *(client.get(SELF, headers=key_header(c["credential"])) for c in credentials)
            )

        for credential, response in zip(credentials, [*first], strict=True):
            assert response.status_code == 200, response.text
            assert response.json()["outcome"] == "revoked"
            assert response.json()["credential_id"] == credential["credential_id"]
        for response in again:
            assert response.status_code == 200, response.text
            assert response.json()["outcome"] == "revoked"
        for response in refused:
            assert response.json()["error_code"] == "AUTH_REVOKED_CREDENTIAL", response.text
        rows = {row["id"]: row for row in await db.rows("SELECT * FROM credentials")}
        assert len(rows) == SIMULTANEOUS
        for credential in credentials:
            row = rows[credential["credential_id"]]
            assert as_instant(row["revoked_at"]) == revoked_at
            assert row["revocation_reason"] == f"done with {credential['credential_id']}"
        await assert_ledger_consistent(db)
        await assert_answers_match_ledger(db, credentials)
