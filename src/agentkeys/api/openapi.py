"""The OpenAPI description: the error answers every route documents, and the touch-ups that make
the generated description true to the wire."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from agentkeys.api.deps import API_KEY_HEADER
from agentkeys.api.errors import ApiErrorEnvelopeDto

API_KEY_SCHEME = "WattShiftApiKey"
ADMIN_KEY_SCHEME = "AdminKey"

_DESCRIPTIONS = {
    400: "VALIDATION_FAILED: the body or a parameter is invalid; field_errors names each field "
    "(or the request is not valid HTTP/1.1, and the connection is closed).",
    401: "AUTH_MISSING_API_KEY, AUTH_INVALID_API_KEY, AUTH_EXPIRED_CREDENTIAL or "
    "AUTH_REVOKED_CREDENTIAL.",
    403: "AUTH_INSUFFICIENT_SCOPE: the credential lacks the scope this route needs.",
    404: "NOT_FOUND: no such route, or no such resource owned by this credential.",
    405: "The method is not allowed on this path; see the Allow header.",
    408: "VALIDATION_FAILED: the request was not received in time; the connection is closed.",
    413: "VALIDATION_FAILED: the body is larger than the server accepts.",
    415: "VALIDATION_FAILED: the body is not application/json.",
    431: "VALIDATION_FAILED: the request head (request line and headers) is larger than the "
    "server accepts; the connection is closed.",
    429: "RATE_LIMITED: too many requests; retry after retry_after_seconds.",
    500: "INTERNAL_ERROR: quote the request_id.",
    503: "SERVICE_UNAVAILABLE: a backing service is down; retry.",
}

COMMON = (405, 408, 413, 415, 431, 500, 503)


@dataclass(frozen=True, slots=True)
class TransportLimits:
    """This server's limits on requests (settings), written into the description."""

    max_body_bytes: int
    max_header_bytes: int
    header_timeout_seconds: float
    body_timeout_seconds: float

    def described(self) -> dict[str, str]:
        """The error answers whose description names a limit, with this server's figure."""
        return {
            "408": f"VALIDATION_FAILED: the request head was not in within "
            f"{self.header_timeout_seconds:g} s, or the body within "
            f"{self.body_timeout_seconds:g} s of the head; the connection is closed.",
            "413": f"VALIDATION_FAILED: the body is larger than {self.max_body_bytes} bytes "
            "(by Content-Length, or while it streams).",
            "431": f"VALIDATION_FAILED: the request head (request line and headers) is larger "
            f"than {self.max_header_bytes} bytes; the connection is closed.",
        }

    def paragraph(self) -> str:
        return (
            "\n\nLimits on every request (this server's settings): a body of at most "
            f"{self.max_body_bytes} bytes (else 413), a head of at most {self.max_header_bytes} "
            f"bytes (else 431), the head within {self.header_timeout_seconds:g} s and the body "
            f"within {self.body_timeout_seconds:g} s of it (else 408). Bodies are JSON (else "
            "415). A request that is not valid HTTP/1.1 answers 400. All in the envelope."
        )


def error_responses(
    *statuses: int, descriptions: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` argument of a route that can answer with the given error statuses;
    ``descriptions`` replaces the usual text of some (what a 403 means on this route)."""
    described = {**_DESCRIPTIONS, **(descriptions or {})}
    return {
        status: {"model": ApiErrorEnvelopeDto, "description": described[status]}
        for status in sorted({*statuses, *COMMON})
    }


def describe_openapi(
    app: FastAPI, components: Mapping[str, dict[str, Any]], limits: TransportLimits
) -> None:
    """Make the generated OpenAPI true to the wire: our 400 envelope replaces FastAPI's 422, and
    bodies parsed after the guards (not FastAPI parameters) get their schemas, given by the
    feature that declares them as ``components``."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    responses = operation.get("responses", {})
                    responses.pop("422", None)
                    for status, description in limits.described().items():
                        if status in responses:
                            responses[status]["description"] = description
                    # Every route that can refuse a key (documents 401) needs one; a route
                    # declaring its own (the admin API's bearer key) keeps it.
                    if "401" in responses and "security" not in operation:
                        operation["security"] = [{API_KEY_SCHEME: []}]
            schema.setdefault("components", {}).setdefault("securitySchemes", {})[
                API_KEY_SCHEME
            ] = {
                "type": "apiKey",
                "in": "header",
                "name": API_KEY_HEADER,
                "description": "An agent credential (wsk_agent_…) from POST /v1/agent-credentials.",
            }
            schema["components"]["securitySchemes"][ADMIN_KEY_SCHEME] = {
                "type": "http",
                "scheme": "bearer",
                "description": "An operator's admin key (wsk_admin_…), created with "
                "`agentkeys admin create-key`, sent as `Authorization: Bearer <key>`.",
            }
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            schemas.update(components)
            info = schema.setdefault("info", {})
            info["description"] = info.get("description", "") + limits.paragraph()
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override hook
