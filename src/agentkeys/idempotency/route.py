"""``IdempotentRoute``: the route class of the routes taking an ``Idempotency-Key`` header.

Without the header a request goes straight to the route (one header look-up more). With it,
the request claims its key before the route runs (dependencies, guards and quotas included):
a replay, a mismatch or a request still running never reaches the route, so quotas count once.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from typing import Any, TypeVar

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Message

from agentkeys.api.context import app_context, request_id_of
from agentkeys.api.deps import (
    API_KEY_HEADER,
    AUTHORIZATION_HEADER,
    JsonBodyRoute,
    network_of_request,
)
from agentkeys.api.errors import error_response
from agentkeys.errors import DomainError, ErrorCode, FieldError
from agentkeys.idempotency.keys import (
    HEADER,
    REPLAYED_HEADERS,
    StoredAnswer,
    caller_digest,
    parse_key,
)
from agentkeys.idempotency.service import (
    Claimed,
    IdempotencyService,
    InProgress,
    Mismatch,
    Replay,
)

REPLAYED = "Idempotent-Replayed"
# Answers that say the work was not even tried (the request rate): a retry must be able to run.
NOT_STORED = frozenset({429})
# Errors whose answer is the client's to keep: the app's own handlers turn them into answers.
_ANSWERED_ERRORS = (DomainError, RequestValidationError, StarletteHTTPException)

# Where FastAPI (0.12x+) keeps the exit stack of a request's ``scope="function"`` dependencies.
FUNCTION_STACK = "fastapi_function_astack"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])
# The endpoints taking the header (``@idempotent``); every other route of a router whose
# route class is ``IdempotentRoute`` is left exactly as ``JsonBodyRoute`` builds it.
IDEMPOTENT_ENDPOINTS: set[Callable[..., Any]] = set()


def idempotent(endpoint: EndpointT) -> EndpointT:
    """Mark a route's endpoint (under its ``@router.post``) as taking an Idempotency-Key."""
    IDEMPOTENT_ENDPOINTS.add(endpoint)
    return endpoint


class IdempotentRoute(JsonBodyRoute):
    """The route class of a router with routes marked ``@idempotent``."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if self.endpoint not in IDEMPOTENT_ENDPOINTS:
            return handler
        route = f"{','.join(sorted(self.methods or ()))} {self.path_format}"

        async def handle(request: Request) -> Response:
            values = request.headers.getlist(HEADER)
            if not values:
                return await handler(request)
            return await _idempotently(request, handler, route=route, key=parse_key(values))

        return handle


def idempotency_service(request: Request) -> IdempotencyService:
    service: IdempotencyService = request.app.state.idempotency
    return service


def caller_of(request: Request) -> str:
    """The key(s) presented (as an HMAC digest: one key is one credential), or, without any,
    the client network: the unit every per-address quota counts."""
    presented = request.headers.getlist(API_KEY_HEADER) + request.headers.getlist(
        AUTHORIZATION_HEADER
    )
    if presented:
        return caller_digest(app_context(request).server_secret, "\n".join(presented))
    return "net:" + network_of_request(request)


async def _idempotently(request: Request, handler: Handler, *, route: str, key: str) -> Response:
    body = await request.body()
    service = idempotency_service(request)
    # The path is part of what must match: one key cannot revoke two credentials.
    outcome = await service.begin(
        caller=caller_of(request),
        route=route,
        key=key,
        body=request.url.path.encode() + b"\x00" + body,
    )
    if isinstance(outcome, Replay):
        answer = outcome.answer
        return Response(
            answer.body, status_code=answer.status, headers={**answer.headers, REPLAYED: "true"}
        )
    if isinstance(outcome, Mismatch):
        return error_response(
            request_id_of(request),
            status=422,
            code=ErrorCode.VALIDATION_FAILED,
            message=f"This {HEADER} was used with another request.",
            recovery_action=f"Send a new {HEADER} for a different request.",
            field_errors=[
                FieldError(HEADER, "Already used with another body or path on this route.")
            ],
        )
    if isinstance(outcome, InProgress):
        return error_response(
            request_id_of(request),
            status=409,
            code=ErrorCode.CONFLICT,
            message=f"A request with this {HEADER} is still running.",
            recovery_action="Retry after Retry-After seconds: its answer is then replayed.",
            retry_after_seconds=outcome.retry_after_seconds,
        )
    return await _run_first(request, handler, service=service, claim=outcome, body=body)


async def _run_first(
    request: Request,
    handler: Handler,
    *,
    service: IdempotencyService,
    claim: Claimed,
    body: bytes,
) -> Response:
    try:
        response = await _committed(request, handler, body)
    except _ANSWERED_ERRORS as error:
        response = await _answer_of(request, error)
    except BaseException:
        await service.abandon(claim)
        raise
    content = getattr(response, "body", None)
    if not isinstance(content, bytes) or response.status_code in NOT_STORED:
        await service.abandon(claim)
        return response
    headers = {name: value for name, value in response.headers.items() if name in REPLAYED_HEADERS}
    await service.finish(
        claim, StoredAnswer(status=response.status_code, headers=headers, body=content)
    )
    return response


async def _committed(request: Request, handler: Handler, body: bytes) -> Response:
    """The route's answer once its unit of work has committed (or rolled back and raised).

    FastAPI closes the ``scope="function"`` dependencies (the session that commits) only after
    the route handler returns, which here would be after the answer is stored: an answer could
    be kept whose commit then failed, and on SQLite the stored answer would wait on the route's
    own write lock. So the route runs with an exit stack of our own, closed before we go on.
    """
    previous = request.scope.get(FUNCTION_STACK)
    async with AsyncExitStack() as stack:
        request.scope[FUNCTION_STACK] = stack
        try:
            return await handler(Request(request.scope, _replaying(body, request)))
        finally:
            request.scope[FUNCTION_STACK] = previous


async def _answer_of(request: Request, error: Exception) -> Response:
    """The answer the app's own error handler gives ``error`` (the nearest registered type)."""
    handlers = request.app.exception_handlers
    for kind in type(error).__mro__:
        if kind in handlers:
            answer: Response = await handlers[kind](request, error)
            return answer
    raise error


def _replaying(body: bytes, request: Request) -> Callable[[], Coroutine[Any, Any, Message]]:
    """A receive that hands the route the body already read, then the client's own events."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await request.receive()

    return receive
