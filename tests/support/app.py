"""The app under test: its secret, the instant its clock starts at, and an HTTP client on it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
from fastapi import FastAPI

TEST_SECRET = "test-server-secret-0123456789-abcdefghijklmnop"
START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)

AppFactory = Callable[..., FastAPI]


class client_for:  # noqa: N801 - reads as a function at the call site
    """``async with client_for(app) as http``: an HTTP client on the app, lifespan included."""

    def __init__(self, app: FastAPI, *, client_address: str = "203.0.113.7") -> None:
        self._app = app
        self._client_address = client_address
        self._lifespan = app.router.lifespan_context(app)
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> httpx.AsyncClient:
        await self._lifespan.__aenter__()
        transport = httpx.ASGITransport(app=self._app, client=(self._client_address, 50000))
        self._http = httpx.AsyncClient(transport=transport, base_url="http://agentkeys.test")
        return self._http

    async def __aexit__(self, *exc: object) -> None:
        assert self._http is not None
        await self._http.aclose()
        await self._lifespan.__aexit__(None, None, None)
