"""Pure ASGI middleware: a request id for every response, and transport limits on bodies.

Transport checks (body size, content type) run before routing and authentication: an
oversized or non-JSON body is refused without reading it or touching the database. A body
that does not arrive in whole within ``body_timeout_seconds`` of the request's head is
refused with 408 and the connection closed (the head's own deadline is ``api/protocol.py``'s).
A client that goes away before its body is in is logged as one access line, status 499 "client
closed request" (nginx's convention), never as an error: nothing was decided, and whatever the
request had begun is rolled back with its unit of work.
"""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentkeys.api import access_log
from agentkeys.api.access_log import CLIENT_CLOSED_REQUEST
from agentkeys.api.context import DEFERRED_CHARGE, request_id_of
from agentkeys.api.errors import TRANSPORT_RECOVERY, error_response
from agentkeys.errors import ErrorCode, echo
from agentkeys.ids import new_request_id
from agentkeys.logs import current_request_id
from agentkeys.ratelimit.base import RateDecision

logger = logging.getLogger(__name__)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes the limit; FastAPI lets it through."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"The request body exceeds {limit} bytes.")


class BodyTimedOut(HTTPException):
    """Raised from ``receive`` when the body is not in by its deadline; FastAPI lets it through
    (any other exception while reading a body becomes its 400), and ``body_timed_out`` answers."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            status_code=408, detail=f"The request body was not received within {seconds:g} s."
        )


class ClientClosedRequest(HTTPException):
    """Raised from ``receive`` when the client disconnects before its body is in whole.

    An ``HTTPException``, so FastAPI lets it through while reading a declared body (any other
    exception there becomes its 400) and ``client_closed_request`` ends the request.
    """

    def __init__(self) -> None:
        super().__init__(status_code=CLIENT_CLOSED_REQUEST, detail="client closed request")


async def client_closed_request(request: Request, error: Exception) -> Response:
    # The client is gone: the server drops whatever is sent now, but the access log records the
    # request once, as 499.
    return Response(status_code=CLIENT_CLOSED_REQUEST)


async def body_timed_out(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, BodyTimedOut)  # noqa: S101 - registered for it only
    # Connection: close makes uvicorn drop the connection, and with it the rest of the body.
    return error_response(
        request_id_of(request),
        status=408,
        code=ErrorCode.VALIDATION_FAILED,
        message=str(error.detail),
        recovery_action="Send the whole body at once, promptly.",
        headers={"Connection": "close"},
    )


def rate_limit_headers(decision: RateDecision, name: str) -> list[tuple[bytes, bytes]]:
    """IETF RateLimit fields (draft-ietf-httpapi-ratelimit-headers): the policy and its state,
    under the rate's name (``credential``, ``network``, ``revocation``, ``failed-revocation``)."""
    policy = f'"{name}";q={decision.limit};w={decision.window_seconds}'
    state = f'"{name}";r={decision.remaining};t={decision.reset_seconds}'
    return [(b"ratelimit-policy", policy.encode()), (b"ratelimit", state.encode())]


def is_json_content_type(value: str) -> bool:
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        body_timeout_seconds: float,
        form_path_prefixes: tuple[str, ...] = (),
        unread_body_prefix: str | None = None,
        form_paths: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_seconds = body_timeout_seconds
        # Paths whose routes read HTML forms (the operator console): urlencoded bodies allowed.
        self.form_path_prefixes = form_path_prefixes
        # Routes under this path never read a body: none is judged (forward auth, whose
        # gateway may pass on the original request's Content-Type and Content-Length).
        self.unread_body_prefix = unread_body_prefix
        # Paths whose body is form-encoded (RFC 7662 introspection); their route checks it.
        self.form_paths = form_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        # Every line logged while serving the request carries its id (``logs``).
        logged_as = current_request_id.set(request_id)
        try:
            await self._serve(scope, receive, send, request_id)
        finally:
            current_request_id.reset(logged_as)

    async def _serve(self, scope: Scope, receive: Receive, send: Send, request_id: str) -> None:
        started = time.perf_counter()
        response_started = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                # Raw header tuples (lower-case names), cheaper than a MutableHeaders view.
                headers: list[tuple[bytes, bytes]] = message.setdefault("headers", [])
                if not any(name == b"x-request-id" for name, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                # An expensive route's full cost is charged only for a success (api.deps).
                charge = scope["state"].pop(DEFERRED_CHARGE, None)
                if charge is not None and message["status"] < 400:
                    await charge()
                decision = scope["state"].get("rate_decision")
                if decision is not None:
                    headers.extend(
                        rate_limit_headers(decision, scope["state"].get("rate_name", "credential"))
                    )
                log_access(message["status"])
            await send(message)

        def log_access(status: int) -> None:
            access_log.log_access(
                scope,
                status=status,
                request_id=request_id,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )

        refusal = self._transport_refusal(scope)
        if refusal is not None:
            status, message = refusal
            response = error_response(
                request_id,
                status=status,
                code=ErrorCode.VALIDATION_FAILED,
                message=message,
                recovery_action=TRANSPORT_RECOVERY,
            )
            await response(scope, receive, send_with_request_id)
            return
        try:
            await self.app(scope, self._limited(receive), send_with_request_id)
        except ClientDisconnect:
            # Starlette's own word for a disconnect (a body read past our receive): the same 499.
            if not response_started:
                log_access(CLIENT_CLOSED_REQUEST)
        except Exception:
            if response_started:
                raise
            # Answered here, inside the request's context: the envelope carries the request id,
            # the access log has the line, and the connection stays usable for the client.
            logger.exception("unhandled error", extra={"request_id": request_id})
            response = error_response(
                request_id,
                status=500,
                code=ErrorCode.INTERNAL_ERROR,
                message="An internal error occurred.",
                recovery_action="Retry later; quote the request_id if it persists.",
            )
            await response(scope, receive, send_with_request_id)

    def _transport_refusal(self, scope: Scope) -> tuple[int, str] | None:
        if scope["method"] not in BODY_METHODS:
            return None
        path: str = scope["path"]
        if self.unread_body_prefix is not None and path.startswith(self.unread_body_prefix):
            return None
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            return 413, f"The request body exceeds {self.max_body_bytes} bytes."
        has_body = (length is not None and length != "0") or "transfer-encoding" in headers
        content_type = headers.get("content-type")
        if (
            has_body
            and content_type is not None
            and not is_json_content_type(content_type)
            and path not in self.form_paths
        ):
            if self._takes_forms(scope, content_type):
                return None
            shown = echo(content_type)
            return 415, f"Content-Type {shown!r} is not supported; send application/json."
        return None

    def _takes_forms(self, scope: Scope, content_type: str) -> bool:
        media_type = content_type.split(";", 1)[0].strip().lower()
        path: str = scope["path"]
        return media_type == FORM_MEDIA_TYPE and path.startswith(self.form_path_prefixes)

    def _limited(self, receive: Receive) -> Receive:
        received = 0
        limit = self.max_body_bytes
        timeout = self.body_timeout_seconds
        deadline = asyncio.get_running_loop().time() + timeout
        body_complete = False

        async def receive_within_limits() -> Message:
            nonlocal received, body_complete
            if body_complete:  # later calls wait for a disconnect: no deadline on those
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyTimedOut(timeout) from None
            if message["type"] == "http.disconnect":
                raise ClientClosedRequest
            if not message.get("more_body", False):
                body_complete = True
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        return receive_within_limits
