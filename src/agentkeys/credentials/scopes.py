"""The scopes a credential may hold: a closed set, one member per permission some route requires;
and the routes a policy may price on their own.

The issuing policy's ``[scopes]`` catalog must list exactly these (``policy_file`` and
``create_app`` refuse one that lacks a member or names anything else), so a policy can never
make a route unreachable. Pure: no I/O, no web framework.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    UTILITY_READ = "utility:read"
    HOMES_READ = "homes:read"
    HOMES_WRITE = "homes:write"
    PRICE_SIGNAL_READ = "price_signal:read"
    BILL_IMPACT_READ = "bill_impact:read"
    BATTERY_ESTIMATE = "battery:estimate"
    FEEDBACK_WRITE = "feedback:write"


class CostedRoute(StrEnum):
    """Routes whose request cost a policy may set on its own (``[request_rate.route_costs]``),
    by path template as FastAPI declares it: they share a scope with cheap routes, so a scope
    cost cannot price them. Each is declared by its route's guard (``require_scopes(...,
    route=...)``); ``create_app`` refuses a member no route declares, or a guard declaring a
    path that is not its route's, so this set and the routes cannot drift apart."""

    # May generate a year of typical load and clear-sky solar for the ZIP code's location.
    IMPACT = "/v1/calculate/impact"
    HOME_IMPACT = "/v1/homes/{id}/calculate/impact"


# When a route's cost is charged in full; otherwise the request counts as its scopes price it.
# The route says which (``api.deps.settle_route_cost``); one that never says is charged in full.
ROUTE_COST_CHARGED: dict[str, str] = {
    CostedRoute.IMPACT: "when it generates the typical load or a solar profile",
    CostedRoute.HOME_IMPACT: "always",
}
