"""Every route and dependency is async: none of them costs a hop through the threadpool."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from agentkeys.api import app as app_module
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


class TestSharedRoutes:
    """``create_app`` mounts the routers' own routes rather than ``include_router``'s copies:
    the app must not differ in anything a client or the document can see."""

    @staticmethod
    def both_ways(monkeypatch: pytest.MonkeyPatch) -> tuple[FastAPI, FastAPI]:
        settings = Settings(mode=Mode.DEVELOPMENT, database_url="sqlite+aiosqlite://")
        shared = create_app(settings)

        def include(app: FastAPI, routers: tuple[APIRouter, ...]) -> None:
            for router in routers:
                app.include_router(router)

        monkeypatch.setattr(app_module, "mount_routers", include)
        return shared, create_app(settings)

    def test_the_routes_are_those_include_router_gives(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        shared, included = self.both_ways(monkeypatch)

        def described(app: FastAPI) -> list[tuple[object, ...]]:
            return [
                (
                    route.path,
                    sorted(route.methods or ()),
                    route.name,
                    route.tags,
                    route.status_code,
                    route.response_model,
                    type(route).__name__,
                    [getattr(call, "__qualname__", call) for call in calls(route.dependant)],
                )
                for route in api_routes(app.routes)
            ]

        assert described(shared) == described(included)
        assert len(described(shared)) > 20

    def test_the_openapi_document_is_the_same(self, monkeypatch: pytest.MonkeyPatch) -> None:
        shared, included = self.both_ways(monkeypatch)

        assert shared.openapi() == included.openapi()

    def test_two_apps_share_the_routes_and_nothing_else(self) -> None:
        settings = Settings(mode=Mode.DEVELOPMENT, database_url="sqlite+aiosqlite://")
        first, second = create_app(settings), create_app(settings)

        assert list(api_routes(first.routes)) == list(api_routes(second.routes))
        assert first.state.context is not second.state.context
