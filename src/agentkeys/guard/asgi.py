"""Pure ASGI: ``GuardMiddleware`` guards every HTTP request of any ASGI application (Starlette,
FastAPI, ...), and ``RateLimitHeaders`` writes the RateLimit fields for the FastAPI dependency.

An admitted request reaches the application with its ``AgentIdentity`` in the scope's state
(``identity_of(scope)``, or ``request.state.agentkeys_identity`` in Starlette), and its answer
carries ``RateLimit-Policy``/``RateLimit``. A refused one is answered by the middleware in
agentkeys' error envelope and never reaches the application.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

from agentkeys.guard.core import Guard
from agentkeys.guard.identity import AgentIdentity, RateLimitState
from agentkeys.guard.responses import (
    rate_limit_headers,
    refusal_body,
    refusal_headers,
    request_id_of,
)
from agentkeys.guard.verdict import Refusal

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The scope's state keys: who the request's key belongs to, and the rate after it.
IDENTITY_STATE = "agentkeys_identity"
RATE_STATE = "agentkeys_rate"


def identity_of(scope: Scope) -> AgentIdentity | None:
    """The identity the guard admitted this request with (``None``: not guarded)."""
    identity = scope.get("state", {}).get(IDENTITY_STATE)
    return identity if isinstance(identity, AgentIdentity) else None


async def send_refusal(refusal: Refusal, scope: Scope, send: Send) -> None:
    """Answer ``refusal`` in agentkeys' error envelope, with its headers."""
    request_id = request_id_of(scope)
    body = refusal_body(refusal, request_id)
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status,
            "headers": refusal_headers(refusal, request_id, body_length=len(body)),
        }
    )
    await send({"type": "http.response.body", "body": body})


def with_rate_headers(scope: Scope, send: Send) -> Send:
    """``send``, adding the RateLimit fields of the rate the guard left in the scope's state."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            rate = scope.get("state", {}).get(RATE_STATE)
            if isinstance(rate, RateLimitState):
                headers = list(message.get("headers", []))
                headers.extend(rate_limit_headers(rate))
                message["headers"] = headers
        await send(message)

    return sending


class GuardMiddleware:
    """Every HTTP request needs an agent key that agentkeys admits: for ``scopes`` when given,
    else for its method and path by agentkeys' upstream route table. ``exempt_paths`` (exact
    paths, e.g. ``/healthz``) pass unguarded. Starts the guard with the application's lifespan
    and closes it at shutdown."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        guard: Guard,
        scopes: tuple[str, ...] = (),
        exempt_paths: Collection[str] = (),
    ) -> None:
        self.app = app
        self.guard = guard
        self.scopes = tuple(scopes)
        self.exempt_paths = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._with_guard_lifespan(receive), send)
            return
        if scope["type"] != "http" or scope["path"] in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        verdict = await self.guard.check(
            scope["headers"],
            scopes=self.scopes,
            method=scope["method"],
            path=scope["path"],
            client_address=client[0] if client else None,
        )
        if isinstance(verdict, Refusal):
            await send_refusal(verdict, scope, send)
            return
        state = scope.setdefault("state", {})
        state[IDENTITY_STATE] = verdict.identity
        state[RATE_STATE] = verdict.rate
        await self.app(scope, receive, with_rate_headers(scope, send))

    def _with_guard_lifespan(self, receive: Receive) -> Receive:
        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.guard.start()
            elif message["type"] == "lifespan.shutdown":
                await self.guard.close()
            return message

        return receiving


class RateLimitHeaders:
    """Writes the RateLimit fields of a request the FastAPI dependency admitted (``install_guard``
    adds it). Pure ASGI, so it costs one wrapped ``send``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, with_rate_headers(scope, send))
