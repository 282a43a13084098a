"""The one way tools reach the HTTP API: (method, path, body, key) in, (status, JSON) out.

In the server, through an in-process ASGI transport to the same app (no socket, the caller's
address kept); for ``agentkeys mcp``, over real HTTP to ``--url``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from starlette.types import ASGIApp

API_KEY_HEADER = "x-ws-api-key"
FORWARDED_FOR = "x-forwarded-for"
# Long enough for the battery's linear program; an MCP client sets its own, shorter, patience.
TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True, kw_only=True)
class ApiAnswer:
    status: int
    body: Any  # the decoded JSON, or None when the answer had no JSON body


@dataclass(frozen=True, kw_only=True)
class Origin:
    """Where the MCP request came from, so the API counts its per-network limits against the
    agent's network rather than against the server's own address."""

    peer: tuple[str, int] | None
    forwarded_for: Sequence[str] = ()


class Api(Protocol):
    async def call(
        self,
        *,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        key: str | None,
        origin: Origin | None = None,
    ) -> ApiAnswer:
        """Send one request; the API's answer, whatever its status."""
        ...


def _headers(key: str | None, origin: Origin | None) -> list[tuple[str, str]]:
    headers = [(API_KEY_HEADER, key)] if key is not None else []
    if origin is not None:
        headers.extend((FORWARDED_FOR, line) for line in origin.forwarded_for)
    return headers


def _answer(response: httpx.Response) -> ApiAnswer:
    try:
        body = response.json() if response.content else None
    except ValueError:
        body = None
    return ApiAnswer(status=response.status_code, body=body)


class InProcessApi:
    """The same app, called in process: one transport per call, carrying the caller's address."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def call(
        self,
        *,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        key: str | None,
        origin: Origin | None = None,
    ) -> ApiAnswer:
        peer = origin.peer if origin is not None and origin.peer is not None else ("127.0.0.1", 0)
        transport = httpx.ASGITransport(app=self._app, client=peer)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://agentkeys.mcp", timeout=TIMEOUT_SECONDS
        ) as http:
            response = await http.request(method, path, json=body, headers=_headers(key, origin))
        return _answer(response)


class RemoteApi:
    """A running server at ``base_url``, over HTTP (``agentkeys mcp --url``)."""

    def __init__(self, base_url: str, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"), timeout=TIMEOUT_SECONDS, transport=transport
        )

    async def call(
        self,
        *,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        key: str | None,
        origin: Origin | None = None,
    ) -> ApiAnswer:
        response = await self._http.request(method, path, json=body, headers=_headers(key, origin))
        return _answer(response)

    async def aclose(self) -> None:
        await self._http.aclose()
