"""The guard's answers on the wire, as agentkeys writes its own: the error envelope, the request
id, ``Retry-After``, ``WWW-Authenticate``, and the IETF RateLimit fields. Pure (raw ASGI headers).
"""

from __future__ import annotations

import json
from collections.abc import MutableMapping
from typing import Any

from agentkeys.guard.identity import RateLimitState
from agentkeys.guard.verdict import Refusal
from agentkeys.ids import new_request_id

RawHeaders = list[tuple[bytes, bytes]]
# The name of the rate in the RateLimit fields: agentkeys' per-credential rate.
RATE_NAME = "credential"


def rate_limit_headers(rate: RateLimitState) -> RawHeaders:
    """``RateLimit-Policy`` and ``RateLimit`` (draft-ietf-httpapi-ratelimit-headers) for the
    credential's rate; the policy's ``w`` when agentkeys' verification said the window."""
    window = f";w={rate.window_seconds}" if rate.window_seconds is not None else ""
    return [
        (b"ratelimit-policy", f'"{RATE_NAME}";q={rate.limit}{window}'.encode()),
        (b"ratelimit", f'"{RATE_NAME}";r={rate.remaining};t={rate.reset_seconds}'.encode()),
    ]


def request_id_of(scope: MutableMapping[str, Any]) -> str:
    """The request's id: the one a request-id middleware left in the scope's state (agentkeys'
    own convention), else a new ``ws_request_…``, kept for the rest of the request."""
    state = scope.setdefault("state", {})
    request_id = state.get("request_id")
    if not isinstance(request_id, str):
        request_id = new_request_id()
        state["request_id"] = request_id
    return request_id


def refusal_body(refusal: Refusal, request_id: str) -> bytes:
    envelope: dict[str, Any] = {
        "request_id": request_id,
        "error_code": str(refusal.code),
        "message": refusal.message,
    }
    if refusal.recovery_action is not None:
        envelope["recovery_action"] = refusal.recovery_action
    if refusal.retry_after_seconds is not None:
        envelope["retry_after_seconds"] = refusal.retry_after_seconds
    # Written as agentkeys' own answers are (Starlette's JSONResponse): compact, UTF-8.
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def refusal_headers(refusal: Refusal, request_id: str, *, body_length: int) -> RawHeaders:
    headers: RawHeaders = [
        (b"content-type", b"application/json"),
        (b"content-length", str(body_length).encode()),
        (b"x-request-id", request_id.encode()),
    ]
    if refusal.retry_after_seconds is not None:
        headers.append((b"retry-after", str(refusal.retry_after_seconds).encode()))
    headers.extend((name.encode(), value.encode()) for name, value in refusal.headers)
    if refusal.rate is not None:
        headers.extend(rate_limit_headers(refusal.rate))
    return headers
