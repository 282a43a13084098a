"""The FastAPI side: ``guard.require(...)`` as a dependency returning the ``AgentIdentity``, and
``install_guard(app)``, which answers its refusals in agentkeys' envelope and writes the
RateLimit fields of admitted requests. The only module of the guard that imports FastAPI.

    guard = Guard("https://keys.example.com", verify_key=os.environ["AGENTKEYS_VERIFY_KEY"])
    app = FastAPI(lifespan=guard.lifespan)
    install_guard(app)
    MeterReader = Annotated[AgentIdentity, Depends(guard.require("meters:read"))]
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response, Security
from fastapi.security import APIKeyHeader

from agentkeys.guard.asgi import IDENTITY_STATE, RATE_STATE, RateLimitHeaders
from agentkeys.guard.identity import AgentIdentity
from agentkeys.guard.responses import refusal_body, refusal_headers, request_id_of
from agentkeys.guard.verdict import Refusal

if TYPE_CHECKING:
    from agentkeys.guard.core import Guard

IdentityDependency = Callable[..., Coroutine[Any, Any, AgentIdentity]]
# Declared for the OpenAPI description only (the service's /docs shows the key it needs); the
# guard reads the headers itself, ``Authorization: Bearer`` included.
AGENT_KEY_SCHEME = APIKeyHeader(
    name="x-ws-api-key",
    scheme_name="AgentKey",
    description="An agentkeys agent credential (wsk_agent_...), or send it as "
    "'Authorization: Bearer <key>'.",
    auto_error=False,
)


class GuardRefused(Exception):
    """Raised by the dependency for a refused request; ``install_guard``'s handler answers it."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.code)
        self.refusal = refusal


def identity_dependency(guard: Guard, scopes: tuple[str, ...]) -> IdentityDependency:
    """The dependency ``Guard.require`` hands out (one per set of scopes)."""

    async def agent_identity(
        request: Request,
        _declared: str | None = Security(AGENT_KEY_SCHEME),
    ) -> AgentIdentity:
        verdict = await guard.check(
            request.scope["headers"],
            scopes=scopes,
            method=request.method,
            path=request.url.path,
            client_address=request.client.host if request.client else None,
        )
        if isinstance(verdict, Refusal):
            raise GuardRefused(verdict)
        state = request.scope.setdefault("state", {})
        state[IDENTITY_STATE] = verdict.identity
        state[RATE_STATE] = verdict.rate
        return verdict.identity

    agent_identity.__name__ = "require_" + ("_".join(scopes) or "route").replace(":", "_")
    return agent_identity


async def _answer_refusal(request: Request, error: Exception) -> Response:
    assert isinstance(error, GuardRefused)  # noqa: S101 - registered for it only
    request_id = request_id_of(request.scope)
    body = refusal_body(error.refusal, request_id)
    response = Response(content=body, status_code=error.refusal.status)
    # The raw list: names as written, no second Content-Length.
    response.raw_headers = refusal_headers(error.refusal, request_id, body_length=len(body))
    return response


def install_guard(app: FastAPI) -> None:
    """Once per application using ``guard.require``: refusals in agentkeys' error envelope, and
    the RateLimit fields on every admitted request's answer."""
    app.add_exception_handler(GuardRefused, _answer_refusal)
    app.add_middleware(RateLimitHeaders)
