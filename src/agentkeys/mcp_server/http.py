"""``/mcp``: the MCP server over streamable HTTP, mounted in the API's own app.

An agent key in ``x-ws-api-key`` or ``Authorization: Bearer`` is checked by the SDK's bearer
backend through our ``TokenVerifier``; no key is fine (request_credential needs none, and any
other tool answers the API's 401), but a key that fails the check is refused at once with the
API's own 401 envelope for it. The session manager must run in the app's lifespan (``run``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from anyio import ClosedResourceError
from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser, BearerAuthBackend
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.datastructures import Headers
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from agentkeys.credentials.verifier import CredentialVerifier
from agentkeys.errors import DomainError, ErrorCode
from agentkeys.ids import new_request_id
from agentkeys.mcp_server.api import API_KEY_HEADER, Api, InProcessApi
from agentkeys.mcp_server.server import build_server
from agentkeys.mcp_server.tools import TOOLS_BY_NAME

MCP_PATH = "/mcp"
UNAUTHORIZED = 401
SERVICE_UNAVAILABLE = 503


def _not_a_closed_stream(record: logging.LogRecord) -> bool:
    """mcp 1.30 logs, as an error with its traceback, the closing of a session's notification
    stream when the client ends the session (DELETE): every normal goodbye. That one only is
    dropped; any other error of the SDK's is still logged."""
    closed = record.exc_info is not None and isinstance(record.exc_info[1], ClosedResourceError)
    return not (closed and record.getMessage() == "Error in standalone SSE writer")


logging.getLogger("mcp.server.streamable_http").addFilter(_not_a_closed_stream)


@dataclass(frozen=True, kw_only=True)
class VerifiedKey:
    credential_id: str
    scopes: tuple[str, ...]


# The app's own check of a key (its verifier: digest, cache, expiry, revocation), None if refused.
KeyCheck = Callable[[str], Awaitable[VerifiedKey | None]]


def key_check(verifier: CredentialVerifier) -> KeyCheck:
    """The API's own verifier as the MCP endpoint's check: no rate is charged for it (the tool
    calls are charged by the API), and any refusal is left for the API to word."""

    async def check(key: str) -> VerifiedKey | None:
        try:
            credential = await verifier.authenticate(key)
        except DomainError:
            return None
        return VerifiedKey(credential_id=credential.id, scopes=credential.scopes)

    return check


class AgentKeyVerifier(TokenVerifier):
    """The SDK's token-verifier hook, answered by the app's own key check."""

    def __init__(self, check: KeyCheck) -> None:
        self._check = check

    async def verify_token(self, token: str) -> AccessToken | None:
        verified = await self._check(token)
        if verified is None:
            return None
        # No expires_at: the SDK would compare it with the wall clock, the API with its own
        # clock; the API refuses an expired key on the next tool call anyway.
        return AccessToken(
            token=token, client_id=verified.credential_id, scopes=list(verified.scopes)
        )


def _bearer(headers: Headers) -> str | None:
    # One Authorization line by now (KeyHeaderAsBearer joined them); read whole all the same.
    authorization = ", ".join(headers.getlist("authorization")) or None
    if authorization is not None and authorization[:7].lower() == "bearer ":
        return authorization[7:]
    return ", ".join(headers.getlist(API_KEY_HEADER)) or None


class KeyHeaderAsBearer:
    """``x-ws-api-key: K`` read as ``Authorization: Bearer K``, so one backend reads both."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            # Every header read whole: a key sent on two lines is one value no key matches (the
            # verifier refuses it), never the first line's key with the second ignored.
            keys = headers.getlist(API_KEY_HEADER)
            authorizations = headers.getlist("authorization")
            if not authorizations and keys:
                authorizations = [f"Bearer {', '.join(keys)}"]
            if authorizations:
                others = [(n, v) for n, v in scope["headers"] if n.lower() != b"authorization"]
                joined = ", ".join(authorizations).encode("latin-1")
                scope = {**scope, "headers": [*others, (b"authorization", joined)]}
        await self.app(scope, receive, send)


class RefuseFailedKey:
    """A presented key the verifier refused: the API's own 401 for it (invalid, expired or
    revoked), never an anonymous session."""

    def __init__(self, app: ASGIApp, api: Api) -> None:
        self.app = app
        self._api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not isinstance(scope.get("user"), AuthenticatedUser):
            presented = _bearer(Headers(scope=scope))
            if presented is not None:
                answer = await self._api.call(
                    method="GET", path=TOOLS_BY_NAME["whoami"].path, body=None, key=presented
                )
                status = answer.status if answer.status >= UNAUTHORIZED else UNAUTHORIZED
                response = JSONResponse(
                    answer.body, status_code=status, headers={"WWW-Authenticate": "Bearer"}
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class McpEndpoint:
    """The ASGI app served at ``/mcp``, and ``run``, the session manager's life, which the app's
    lifespan holds."""

    def __init__(self, *, api: Api, check: KeyCheck) -> None:
        self._server = build_server(api)
        self._sessions: StreamableHTTPSessionManager | None = None
        self._app = KeyHeaderAsBearer(
            AuthenticationMiddleware(
                RefuseFailedKey(AuthContextMiddleware(self._handle), api),
                backend=BearerAuthBackend(AgentKeyVerifier(check)),
            )
        )

    @classmethod
    def in_process(cls, app: ASGIApp, verifier: CredentialVerifier) -> McpEndpoint:
        """Tools calling ``app`` itself, in process; keys checked by the app's verifier."""
        return cls(api=InProcessApi(app), check=key_check(verifier))

    @asynccontextmanager
    async def run(self) -> AsyncIterator[None]:
        """The MCP sessions live while this is entered; each run has a manager of its own (the
        SDK's runs once). It is held by a task of its own: the manager's task group must be left
        by the task that entered it, and a lifespan may be entered and left by two."""
        # JSON answers rather than an SSE stream per call: the tools send no notifications,
        # and plain JSON passes every proxy.
        sessions = StreamableHTTPSessionManager(app=self._server, json_response=True)
        running, stop = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with sessions.run():
                self._sessions = sessions
                running.set()
                await stop.wait()

        holder = asyncio.create_task(hold(), name="mcp-sessions")
        started = asyncio.create_task(running.wait())
        await asyncio.wait({holder, started}, return_when=asyncio.FIRST_COMPLETED)
        if not running.is_set():
            started.cancel()
            await holder  # raises why the manager could not start
        try:
            yield
        finally:
            self._sessions = None
            stop.set()
            await holder

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._sessions is None:
            # Only between the app's start and its lifespan, or after its end.
            response = JSONResponse(
                {
                    "request_id": new_request_id(),
                    "error_code": ErrorCode.SERVICE_UNAVAILABLE,
                    "message": "The MCP endpoint is not running.",
                    "recovery_action": "Retry in a few seconds.",
                },
                status_code=SERVICE_UNAVAILABLE,
            )
            await response(scope, receive, send)
            return
        await self._sessions.handle_request(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)
