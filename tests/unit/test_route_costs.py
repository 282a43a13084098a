"""Route costs (``[request_rate.route_costs]``): a route sharing its scope with cheap routes is
priced by its path template. Only ``CostedRoute`` members can be priced, each declared by its
own route's guard; a file naming another path is refused at its line, a policy object or a
guard that disagrees with the routes stops ``create_app``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from fastapi import APIRouter, Depends

from agentkeys.api.app import ROUTERS, create_app
from agentkeys.api.deps import CurrentCredential, costed_route_problems, require_scopes
from agentkeys.config import Settings
from agentkeys.credentials.policy import RequestCosts
from agentkeys.credentials.policy_file import (
    PolicyError,
    default_policy_text,
    describe,
    load_policy,
    parse_policy,
)
from agentkeys.credentials.scopes import CostedRoute, Scope
from tests.support.policies import relaxed_policy_file

ZIP_IMPACT_COST = '"/v1/calculate/impact" = 10'


def edited(old: str, new: str) -> str:
    text = default_policy_text()
    assert old in text, old
    return text.replace(old, new, 1)


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(fragment))


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="p.toml")
    return caught.value.lines


class TestCostOf:
    def test_a_request_costs_the_highest_of_its_scopes_and_its_route(self) -> None:
        costs = RequestCosts(
            scope_costs={"battery:estimate": 10, "bill_impact:read": 2},
            route_costs={"/v1/calculate/impact": 5},
        )

        assert costs.cost_of(["bill_impact:read"], route="/v1/calculate/impact") == 5
        assert (
            costs.cost_of(["bill_impact:read", "battery:estimate"], route="/v1/calculate/impact")
            == 10
        )
        # The same scope on a route without a cost of its own: the scope's 2.
        assert costs.cost_of(["bill_impact:read"]) == 2
        assert costs.cost_of(["bill_impact:read"], route="/v1/homes/{id}/calculate/impact") == 2

    def test_a_route_without_scopes_or_costs_counts_one(self) -> None:
        assert RequestCosts().cost_of([], route="/v1/calculate/impact") == 1


class TestPolicyFile:
    def test_the_default_prices_the_zip_impact_above_its_scope_and_the_home_impact_not(
        self,
    ) -> None:
        costs = load_policy().request_costs

        assert costs.cost_of([Scope.BILL_IMPACT_READ], route=CostedRoute.IMPACT) == 10
        assert costs.cost_of([Scope.BILL_IMPACT_READ], route=CostedRoute.HOME_IMPACT) == 1
        assert costs.cost_of([Scope.BILL_IMPACT_READ]) == 1  # the bill routes

    def test_a_route_cost_is_read_from_the_file(self) -> None:
        text = edited(
            ZIP_IMPACT_COST, f'{ZIP_IMPACT_COST}\n"/v1/homes/{{id}}/calculate/impact" = 3'
        )

        costs = parse_policy(text, source="p.toml").request_costs

        assert costs.cost_of([Scope.BILL_IMPACT_READ], route=CostedRoute.HOME_IMPACT) == 3

    def test_an_absent_table_leaves_every_route_at_its_scopes_cost(self) -> None:
        text = edited(ZIP_IMPACT_COST, "")

        costs = parse_policy(text, source="p.toml").request_costs

        assert costs.cost_of([Scope.BILL_IMPACT_READ], route=CostedRoute.IMPACT) == 1

    @pytest.mark.parametrize(
        "route",
        ["/v1/calculate/impacts", "/v1/homes/bill/period", "/v1/homes/{home}/calculate/impact"],
    )
    def test_a_path_that_is_no_costed_route_is_refused_naming_its_line(self, route: str) -> None:
        text = edited(ZIP_IMPACT_COST, f'"{route}" = 10')

        line = line_of(text, f'"{route}"')

        (problem,) = problems(text)

        assert problem.startswith(
            f"p.toml:{line}: request_rate.route_costs.{route}: "
            f"'{route}' is not a route with a cost of its own; one of: "
            "/v1/calculate/impact, /v1/homes/{id}/calculate/impact"
        ), problem

    @pytest.mark.parametrize("cost", ["0", "-1", '"ten"'])
    def test_a_cost_must_be_a_positive_whole_number(self, cost: str) -> None:
        text = edited(ZIP_IMPACT_COST, f'"/v1/calculate/impact" = {cost}')

        line = line_of(text, '"/v1/calculate/impact"')

        (problem,) = problems(text)

        assert problem.startswith(
            f"p.toml:{line}: request_rate.route_costs./v1/calculate/impact:"
        ), problem

    def test_the_summary_names_the_route_its_cost_and_when_it_applies(self) -> None:
        assert (
            "  a request to /v1/calculate/impact counts 10, when it generates the typical load "
            "or a solar profile" in describe(load_policy())
        )

    def test_the_relaxed_policy_file_keeps_the_route_cost(self, tmp_path: Path) -> None:
        """``policy show-default`` with the limits raised still passes ``policy check``; the
        route cost is not a limit and stays."""
        relaxed = load_policy(relaxed_policy_file(tmp_path))

        assert relaxed.request_costs.route_costs == {"/v1/calculate/impact": 10}


def settings(tmp_path: Path) -> Settings:
    return Settings(
        mode="development",
        database_url=f"sqlite:///{tmp_path / 'never.db'}",
    )


class TestRoutes:
    def test_every_costed_route_is_declared_by_its_own_routes_guard(self) -> None:
        assert costed_route_problems(ROUTERS) == []

    def test_a_guard_pricing_another_routes_path_is_named(self) -> None:
        router = APIRouter()
        guard = require_scopes(Scope.BILL_IMPACT_READ, route=CostedRoute.IMPACT)

        @router.post("/v1/elsewhere", dependencies=[Depends(guard)])
        async def elsewhere(_credential: CurrentCredential) -> None:
            return None

        assert costed_route_problems([router]) == [
            "the guard of /v1/elsewhere prices '/v1/calculate/impact', another route's path",
            "no route's guard declares '/v1/homes/{id}/calculate/impact', a CostedRoute",
        ]

    def test_a_policy_object_pricing_an_unknown_path_stops_the_app(self, tmp_path: Path) -> None:
        policy = load_policy()
        costs = dataclasses.replace(policy.request_costs, route_costs={"/v1/calculate/impacts": 10})

        with pytest.raises(PolicyError) as caught:
            create_app(settings(tmp_path), policy=dataclasses.replace(policy, request_costs=costs))

        (line,) = caught.value.lines
        assert line == (
            "<policy>:0: request_rate.route_costs: '/v1/calculate/impacts' is not a route with "
            "a cost of its own; one of: /v1/calculate/impact, /v1/homes/{id}/calculate/impact"
        )
        assert not (tmp_path / "never.db").exists()
