"""Every route and dependency is async: none of them costs a hop through the threadpool."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from agentkeys.api.app import create_app
from agentkeys.config import Mode, Settings


def calls(dependant: Dependant) -> Iterator[Any]:
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from calls(sub)


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """The app's routes, including those of included routers (FastAPI nests them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from api_routes(nested.routes)


def is_async(call: Any) -> bool:
    target = call if inspect.isfunction(call) else getattr(call, "__call__", call)  # noqa: B004
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


class TestWiring:
    def test_no_route_or_dependency_runs_in_the_threadpool(self) -> None:
        app = create_app(Settings(mode=Mode.DEVELOPMENT, database_url="sqlite+aiosqlite://"))
        routes = list(api_routes(app.routes))

        sync_calls = {
            f"{route.path}: {getattr(call, '__name__', call)}"
            for route in routes
            for call in calls(route.dependant)
            if not is_async(call)
        }

        assert {route.path for route in routes} >= {"/v1/agent-credentials", "/v1/feedback"}
        assert sync_calls == set()
