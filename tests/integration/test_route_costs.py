"""``[request_rate.route_costs]`` through HTTP: ``/v1/calculate/impact`` shares its scope with the
cheap bill routes, so it is priced by its path. The shipped policy counts it 10 when it
generates the typical load or a solar profile; one billing only what it was sent counts its
scope's 1, and a refused one (400) one, as every priced route (``test_refused_costs``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from agentkeys.credentials.policy import IssuingPolicy
from agentkeys.credentials.policy_file import load_policy
from agentkeys.credentials.scopes import Scope
from agentkeys.ratelimit.base import RequestRate
from tests.integration.test_impact import (
    IMPACT,
    MARCH,
    SAN_FRANCISCO,
    days_of,
    duke_home,
    home_impact,
    plan_body,
)
from tests.integration.test_request_rate import remaining
from tests.support.app import AppFactory, client_for
from tests.support.factories import key_with

SOLAR = plan_body(usage=days_of(31, 0.5), solarCapacityKw=5)
TYPICAL_HOME = plan_body(useDefaultUsage=True, modifiedUsage=days_of(31, 0.25))
SENT = plan_body(usage=days_of(31, 0.5), modifiedUsage=days_of(31, 0.25))


def priced_policy(*, limit: int, per_network: int | None = None, **routes: int) -> IssuingPolicy:
    """The shipped policy (``/v1/calculate/impact`` = 10) with ``limit`` requests a minute per
    credential, and ``routes`` (``home_impact=3``) added to its route costs."""
    policy = load_policy()
    costs = policy.request_costs
    assert costs.route_costs == {IMPACT: 10}
    if "home_impact" in routes:
        costs = replace(
            costs,
            route_costs={
                **costs.route_costs,
                "/v1/homes/{id}/calculate/impact": routes["home_impact"],
            },
        )
    if per_network is not None:
        costs = replace(costs, per_network=RequestRate(per_network, timedelta(seconds=60)))
    return replace(
        policy, request_rate=RequestRate(limit, timedelta(seconds=60)), request_costs=costs
    )


def refused_bodies() -> list[dict[str, Any]]:
    return [
        # Solar and modifiedUsage together: the service refuses it before any work.
        {**SOLAR, "modifiedUsage": days_of(31, 0.25)},
        # A ZIP code the plan's utility does not serve.
        {**SOLAR, "zipcode": SAN_FRANCISCO},
        # A bad body: refused by validation, after the guard.
        {**SOLAR, "solarCapacityKw": -1},
    ]


async def test_generated_profiles_cost_the_route_price_sent_loads_and_refusals_one(
    make_app: AppFactory,
) -> None:
    async with client_for(make_app(policy=priced_policy(limit=40))) as client:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        refused = [
            await client.post(IMPACT, json=body, headers=headers) for body in refused_bodies()
        ]
        solar = await client.post(IMPACT, json=SOLAR, headers=headers)
        typical = await client.post(IMPACT, json=TYPICAL_HOME, headers=headers)
        sent = await client.post(IMPACT, json=SENT, headers=headers)

    assert [response.status_code for response in refused] == [400, 400, 400]
    # 40 - 1 for each refusal.
    assert [remaining(response) for response in refused] == [39, 38, 37]
    assert solar.status_code == 200, solar.text
    assert solar.json()["assumptions"]["modified"] == "baseline-with-solar"
    assert remaining(solar) == 27  # 37 - 10: one at once, nine once it answered
    assert typical.status_code == 200, typical.text
    assert remaining(typical) == 17  # 27 - 10: the typical load is generated too
    assert sent.status_code == 200, sent.text
    assert remaining(sent) == 16  # 17 - 1: only what was sent, billed


async def test_the_cheap_routes_sharing_the_scope_still_count_one(make_app: AppFactory) -> None:
    async with client_for(make_app(policy=priced_policy(limit=30, home_impact=3))) as client:
        home, headers = await duke_home(client)  # the home's creation: 1
        body = {**MARCH, "usage": days_of(31, 0.5), "modifiedUsage": days_of(31, 0.25)}
        impact = await client.post(home_impact(home), json=body, headers=headers)
        bill = await client.post(
            f"/v1/homes/{home}/bill/period",
            json={**MARCH, "usage": days_of(31, 0.5)},
            headers=headers,
        )

    assert impact.status_code == 200, impact.text
    assert remaining(impact) == 26  # 30 - 1 - 3: the home route's own cost, from the policy
    assert bill.status_code == 200, bill.text
    assert remaining(bill) == 25  # 26 - 1: bill_impact:read itself costs nothing more


async def test_an_impact_the_rate_cannot_afford_is_refused_before_any_work(
    make_app: AppFactory,
) -> None:
    async with client_for(make_app(policy=priced_policy(limit=13))) as client:
        headers = await key_with(client, Scope.BILL_IMPACT_READ)
        solar = await client.post(IMPACT, json=SOLAR, headers=headers)
        refused = await client.post(IMPACT, json=SOLAR, headers=headers)
        sent = await client.post(IMPACT, json=SENT, headers=headers)

    assert solar.status_code == 200, solar.text
    assert remaining(solar) == 3  # 13 - 10
    assert refused.status_code == 429
    assert "this route counts as 10 requests" in refused.json()["message"]
    # The guard keeps room for the route's full price before the body is read: with 2 left
    # (the refusal counted one), even a request that would have cost one is refused.
    assert sent.status_code == 429


async def test_the_networks_rate_is_charged_the_route_price_too(make_app: AppFactory) -> None:
    policy = priced_policy(limit=600, per_network=15)
    async with client_for(make_app(policy=policy), client_address="198.51.100.78") as client:
        first = await key_with(client, Scope.BILL_IMPACT_READ)
        second = await key_with(client, Scope.BILL_IMPACT_READ, organization="Other Energy Co")
        solar = await client.post(IMPACT, json=SOLAR, headers=first)
        refused = await client.post(IMPACT, json=SOLAR, headers=second)

    assert solar.status_code == 200, solar.text
    # 10 of the network's 15 spent by the first key; the second key's one leaves 4 < 9.
    assert refused.status_code == 429
    assert "over all its keys; this route counts as 10 requests" in refused.json()["message"]
