"""How many SQL statements one decision sends, per backend: an upper bound equal to what the
issuance path achieves, so that a statement added to it fails here (ARCHITECTURE.md, "Issuing":
the quota counts in one query, the ledger row and the credential in one round trip where the
backend allows it).

Counted with ``before_cursor_execute``: SQLite's ``BEGIN IMMEDIATE`` is one; a commit is not
(neither backend sends it as a statement). Each decision comes from an organization and e-mail of
its own, after a warm-up request (the first opens the pool).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest

from agentkeys.credentials.policy import Quota, QuotaKind
from agentkeys.credentials.policy_file import load_policy
from tests.support.admin import create_admin_key
from tests.support.app import AppFactory, client_for
from tests.support.factories import request_credential
from tests.support.statements import counted_statements

pytestmark = pytest.mark.both_backends

# SQLite: BEGIN IMMEDIATE, the counts, the ledger row, the credential. PostgreSQL: one
# statement reading the alarms and webhook endpoints, then taking the advisory locks, counting
# the network's quotas and writing the ledger row and the credential (agentkeys_record_decision).
ISSUED = {"sqlite": 4, "postgresql": 1}
# A decision that issues nothing writes the ledger row alone.
DENIED = {"sqlite": 3, "postgresql": 1}
# A full quota adds the one look-up its truthful retry_after_seconds needs; on PostgreSQL the
# refusal is decided under the locks, after that one statement found the quota full: the
# advisory locks, the counts, that look-up, the ledger row.
REFUSED = {"sqlite": 4, "postgresql": 5}
# With an enabled webhook endpoint: its look-up and the event's message row; on PostgreSQL the
# one statement finds the endpoint and writes nothing, and the decision is made under the locks
# (advisory locks, counts, rows, the event's look-up and row).
ISSUED_WITH_WEBHOOK = {"sqlite": 6, "postgresql": 5}


async def decide(client: httpx.AsyncClient, number: int, **overrides: Any) -> tuple[str, list[str]]:
    """One decision's outcome and the statements it sent."""
    body = {
        "organization_name": f"Statement Counting Co {number}",
        "user_email": f"dev{number}@example.com",
        **overrides,
    }
    with counted_statements() as statements:
        response = await request_credential(client, **body)
    assert response.status_code == 200, response.text
    outcome: str = response.json()["outcome"]
    return outcome, statements


class TestStatementsPerDecision:
    async def test_an_issued_decision(self, make_app: AppFactory, backend: str) -> None:
        async with client_for(make_app()) as client:
            await request_credential(client)
            outcome, statements = await decide(client, 1)

        assert outcome == "issued"
        assert len(statements) <= ISSUED[backend], statements

    async def test_a_denied_decision(self, make_app: AppFactory, backend: str) -> None:
        async with client_for(make_app()) as client:
            await request_credential(client)
            outcome, statements = await decide(client, 1, requested_environment="production")

        assert outcome == "production_denied"
        assert len(statements) <= DENIED[backend], statements

    async def test_a_decision_refused_by_a_full_quota(
        self, make_app: AppFactory, backend: str
    ) -> None:
        default = load_policy()
        policy = replace(
            default,
            quotas={**default.quotas, QuotaKind.EMAIL_ISSUED: Quota(1, timedelta(hours=1))},
        )
        async with client_for(make_app(policy=policy)) as client:
            await request_credential(client)
            first, _ = await decide(client, 1)
            outcome, statements = await decide(client, 2, user_email="dev1@example.com")

        assert (first, outcome) == ("issued", "rate_limited")
        assert len(statements) <= REFUSED[backend], statements

    async def test_an_issued_decision_with_a_webhook_endpoint(
        self, make_app: AppFactory, backend: str, settings: Any
    ) -> None:
        admin = {"Authorization": f"Bearer {(await create_admin_key(settings, 'ops'))[1]}"}
        app = make_app(webhooks_allow_private=True, webhooks_deliver=False)
        async with client_for(app) as client:
            created = await client.post(
                "/v1/admin/webhooks",
                json={"url": "http://127.0.0.1:9/hook", "events": ["credential.issued"]},
                headers=admin,
            )
            assert created.status_code == 201, created.text
            await request_credential(client)
            outcome, statements = await decide(client, 1)

        assert outcome == "issued"
        assert len(statements) <= ISSUED_WITH_WEBHOOK[backend], statements
        assert any("INSERT INTO webhook_messages" in statement for statement in statements)
