"""A refusal's wait is the truthful one: the issuance rate never shortens a quota's longer wait."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from agentkeys.credentials.policy import IssuingPolicy, Quota, QuotaKind
from agentkeys.credentials.policy_file import load_policy
from agentkeys.ratelimit.base import RequestRate
from tests.support.app import AppFactory, client_for
from tests.support.factories import request_credential

# The wait is read from stored decisions: both backends.
pytestmark = pytest.mark.both_backends

HOUR = timedelta(hours=1)


def policy(*, rate: int, decisions: int) -> IssuingPolicy:
    default = load_policy()
    return replace(
        default,
        quotas={**default.quotas, QuotaKind.ADDRESS_DECISIONS: Quota(decisions, HOUR)},
        request_costs=replace(
            default.request_costs,
            issuance_per_network=RequestRate(rate, timedelta(seconds=60)),
        ),
    )


class TestIssuanceRateOverAFullQuota:
    async def test_the_answer_waits_for_the_quota_not_the_rate(self, make_app: AppFactory) -> None:
        app = make_app(policy=policy(rate=2, decisions=2))
        async with client_for(app) as client:
            decided = [await request_credential(client) for _ in range(2)]
            refused = await request_credential(client)  # over the rate and the quota

        assert [answer.json()["outcome"] for answer in decided] == ["issued", "issued"]
        body = refused.json()
        assert body["outcome"] == "rate_limited"
        # The quota frees an hour after the first decision (the clock is frozen): not the rate's
        # minute.
        assert body["retry_after_seconds"] == int(HOUR.total_seconds())
        assert refused.headers["retry-after"] == str(body["retry_after_seconds"])
        assert str(body["retry_after_seconds"]) in body["next_steps"]

    async def test_without_a_full_quota_the_rate_s_wait_stands(self, make_app: AppFactory) -> None:
        app = make_app(policy=policy(rate=2, decisions=50))
        async with client_for(app) as client:
            for _ in range(2):
                await request_credential(client)
            refused = await request_credential(client)

        body = refused.json()
        assert body["outcome"] == "rate_limited"
        assert 1 <= body["retry_after_seconds"] <= 60
