"""An expensive route (a scope priced above 1 in ``[request_rate.scope_costs]``) costs its full
price only when it answers a success: a refused request (400, 404) did none of the work and
costs one request, in the credential's rate and in its network's. Both backends."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from agentkeys.credentials.policy_file import load_policy
from agentkeys.ratelimit.base import RequestRate
from tests.integration.test_battery_api import DOCUMENTED_BODY, home_with_plan, route
from tests.integration.test_request_rate import remaining
from tests.support.app import AppFactory, client_for

NO_SUCH_HOME = "ws_home_" + "0" * 32
ONE_MONTH = {**DOCUMENTED_BODY, "months": [1]}


def priced_policy(*, limit: int, per_network: int | None = None) -> Any:
    policy = load_policy()
    costs = policy.request_costs
    assert costs.cost_of(["battery:estimate"]) == 10
    if per_network is not None:
        costs = replace(costs, per_network=RequestRate(per_network, timedelta(seconds=60)))
    return replace(
        policy, request_rate=RequestRate(limit, timedelta(seconds=60)), request_costs=costs
    )


async def test_refused_estimates_cost_one_request_and_a_computed_one_its_price(
    make_app: AppFactory,
) -> None:
    async with client_for(make_app(policy=priced_policy(limit=25))) as client:
        headers, home = await home_with_plan(client)  # the home's creation: 1
        refused = [
            await client.post(route(NO_SUCH_HOME), headers=headers, json=ONE_MONTH),
            await client.post(route(home), headers=headers, json={**ONE_MONTH, "days": 0}),
            await client.post(route(home), headers=headers, json={**ONE_MONTH, "months": [13]}),
            await client.post(route(NO_SUCH_HOME), headers=headers, json={"days": "x"}),
        ]
        computed = await client.post(route(home), headers=headers, json=ONE_MONTH)
        after = await client.post(route(home), headers=headers, json=ONE_MONTH)

    assert [response.status_code for response in refused] == [404, 400, 400, 400]
    assert [remaining(response) for response in refused] == [23, 22, 21, 20]
    assert computed.status_code == 200, computed.text
    assert remaining(computed) == 10  # one at once, the other nine once it answered
    # 10 remain, and a second estimate fits exactly; the header says what is left.
    assert after.status_code == 200, after.text
    assert remaining(after) == 0


async def test_an_estimate_the_rate_cannot_afford_is_refused_before_any_work(
    make_app: AppFactory,
) -> None:
    async with client_for(make_app(policy=priced_policy(limit=13))) as client:
        headers, home = await home_with_plan(client)
        computed = await client.post(route(home), headers=headers, json=ONE_MONTH)
        refused = await client.post(route(home), headers=headers, json=ONE_MONTH)
        cheap = await client.post(f"/v1/homes/{home}/get", headers=headers)

    assert computed.status_code == 200, computed.text
    assert refused.status_code == 429
    assert "counts as 10 requests" in refused.json()["message"]
    assert cheap.status_code == 200  # one request still fits


async def test_refused_estimates_leave_the_networks_rate_intact(make_app: AppFactory) -> None:
    policy = priced_policy(limit=600, per_network=25)
    async with client_for(make_app(policy=policy), client_address="198.51.100.77") as client:
        headers, home = await home_with_plan(client)
        statuses = [
            (await client.post(route(NO_SUCH_HOME), headers=headers, json=ONE_MONTH)).status_code
            for _ in range(8)
        ]
        computed = await client.post(route(home), headers=headers, json=ONE_MONTH)

    assert statuses == [404] * 8
    # 1 (home) + 8 refused + 10 = 19 of the network's 25; at 10 a refusal would have spent it.
    assert computed.status_code == 200, computed.text


async def test_a_refused_request_on_any_priced_route_costs_one(make_app: AppFactory) -> None:
    """The class: the rule is the guard's, for every scope priced above 1, not the battery's."""
    policy = priced_policy(limit=20)
    policy = replace(
        policy,
        request_costs=replace(policy.request_costs, scope_costs={"homes:read": 5}),
    )
    async with client_for(make_app(policy=policy)) as client:
        headers, _ = await home_with_plan(client)  # 1
        missing = [
            await client.post(f"/v1/homes/{NO_SUCH_HOME}/get", headers=headers) for _ in range(5)
        ]
        listed = await client.post("/v1/homes/list", headers=headers)

    assert [response.status_code for response in missing] == [404] * 5
    assert [remaining(response) for response in missing] == [18, 17, 16, 15, 14]
    assert listed.status_code == 200
    assert remaining(listed) == 9
