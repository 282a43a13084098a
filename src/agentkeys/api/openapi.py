"""The OpenAPI description: the error answers every route documents, the scope each route
requires (read from its guard) with the policy's scope catalog, and the touch-ups that make the
generated description true to the wire."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from agentkeys.api.deps import API_KEY_HEADER, GUARD_SCOPES
from agentkeys.api.errors import ApiErrorEnvelopeDto
from agentkeys.credentials.policy import ScopeCatalog

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
    409: "CONFLICT: a request with this Idempotency-Key is still running; retry after "
    "Retry-After seconds to get its answer.",
    422: "VALIDATION_FAILED: this Idempotency-Key was already used with another body or path "
    "(field_errors names Idempotency-Key).",
    503: "SERVICE_UNAVAILABLE: a backing service is down; retry.",
}

COMMON = (405, 408, 413, 415, 431, 500, 503)

_REQUEST_ID = "ws_request_123456789"
# One example envelope per error code a status answers (``error_responses`` attaches them).
_ERROR_EXAMPLES: dict[int, dict[str, dict[str, Any]]] = {
    400: {
        "VALIDATION_FAILED": {
            "message": "The request is invalid: 1 field(s) failed validation.",
            "recovery_action": "Fix the fields named in field_errors and retry.",
            "field_errors": [{"field": "zipcode", "message": "zipcode is invalid"}],
        }
    },
    401: {
        "AUTH_MISSING_API_KEY": {
            "message": "Missing x-ws-api-key header.",
            "recovery_action": "Provide the x-ws-api-key header.",
        },
        "AUTH_INVALID_API_KEY": {
            "message": "The x-ws-api-key header is not a valid key.",
            "recovery_action": "Send the key exactly as issued, or request a new one.",
        },
        "AUTH_EXPIRED_CREDENTIAL": {
            "message": "This credential has expired.",
            "recovery_action": "Request a new credential: POST /v1/agent-credentials.",
        },
        "AUTH_REVOKED_CREDENTIAL": {
            "message": "This credential was revoked.",
            "recovery_action": "Request a new credential: POST /v1/agent-credentials.",
        },
    },
    403: {
        "AUTH_INSUFFICIENT_SCOPE": {
            "message": "This credential lacks the scope 'homes:write' needed for this route.",
            "recovery_action": "Request a credential with the scope homes:write.",
        },
        "FORBIDDEN": {
            "message": "This admin key has the role viewer, which may not revoke.",
            "recovery_action": "Use an admin key of the role admin.",
        },
    },
    404: {"NOT_FOUND": {"message": "No home ws_home_123456789 of this credential."}},
    405: {"METHOD_NOT_ALLOWED": {"message": "Method GET is not allowed here; allowed: POST."}},
    408: {"VALIDATION_FAILED": {"message": "The request was not received in time."}},
    413: {"VALIDATION_FAILED": {"message": "The body is larger than the server accepts."}},
    415: {"VALIDATION_FAILED": {"message": "The body must be application/json."}},
    431: {"VALIDATION_FAILED": {"message": "The request head is too large."}},
    429: {
        "RATE_LIMITED": {
            "message": "This credential may make 600 requests per 60 seconds.",
            "recovery_action": "Retry after retry_after_seconds (also the Retry-After header).",
            "retry_after_seconds": 12,
        }
    },
    500: {
        "INTERNAL_ERROR": {
            "message": "An internal error occurred.",
            "recovery_action": "Retry; if it persists, send the request_id to /v1/feedback.",
        }
    },
    409: {
        "CONFLICT": {
            "message": "A request with this Idempotency-Key is still running.",
            "recovery_action": "Retry after Retry-After seconds: its answer is then replayed.",
            "retry_after_seconds": 1,
        }
    },
    422: {
        "VALIDATION_FAILED": {
            "message": "This Idempotency-Key was used with another request.",
            "recovery_action": "Send a new Idempotency-Key for a different request.",
            "field_errors": [
                {
                    "field": "Idempotency-Key",
                    "message": "Already used with another body or path on this route.",
                }
            ],
        }
    },
    503: {
        "SERVICE_UNAVAILABLE": {
            "message": "The service's database is unavailable.",
            "recovery_action": "Retry in a few seconds.",
            "retry_after_seconds": 5,
        }
    },
}


def error_examples(status: int, description: str) -> dict[str, dict[str, Any]]:
    """The ``examples`` of an error answer: one envelope per code its description names (every
    code of the status when it names none)."""
    known = _ERROR_EXAMPLES[status]
    named = [code for code in known if code in description] or list(known)
    return {
        code: {
            "summary": code,
            "value": {"request_id": _REQUEST_ID, "error_code": code, **known[code]},
        }
        for code in named
    }


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
        status: {
            "model": ApiErrorEnvelopeDto,
            "description": described[status],
            "content": {
                "application/json": {"examples": error_examples(status, described[status])}
            },
        }
        for status in sorted({*statuses, *COMMON})
    }


IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": '1-255 printable ASCII characters, bare or quoted (`"..."`). Retrying with '
    "the same key and body within 24 hours replays the first answer (with "
    "`Idempotent-Replayed: true`) instead of acting again. Use a fresh random value (a UUID) "
    "per operation.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 257},
}


def _header_names(operation: Mapping[str, Any]) -> set[str]:
    return {p["name"] for p in operation.get("parameters", []) if p.get("in") == "header"}


def idempotent_openapi(extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``openapi_extra`` of a route taking an Idempotency-Key: the header parameter, with
    ``extra`` (FastAPI concatenates the parameter lists)."""
    return {**(extra or {}), "parameters": [IDEMPOTENCY_KEY_PARAMETER]}


def guard_scopes(dependant: Dependant) -> tuple[str, ...] | None:
    """The scopes the route's key guard (``require_scopes``) requires; None without a guard
    (no agent key, or a key checked otherwise: revocation, the admin API)."""
    guarded = GUARD_SCOPES.get(dependant.call)  # type: ignore[arg-type]
    found = None if guarded is None else tuple(str(scope) for scope in guarded)
    for sub in dependant.dependencies:
        inner = guard_scopes(sub)
        if inner is not None:
            found = (*(found or ()), *inner)
    return found


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """The routes, those of included routers too (``include_router`` nests them)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        nested = getattr(route, "original_router", None)
        if nested is not None:
            yield from api_routes(nested.routes)


def sparse_answers(app: FastAPI) -> set[tuple[str, str]]:
    """``(path, method)`` of the operations whose answers omit null fields."""
    return {
        (route.path_format, method.lower())
        for route in api_routes(app.routes)
        if route.include_in_schema and route.response_model_exclude_none
        for method in route.methods or ()
    }


def route_scopes(app: FastAPI) -> dict[tuple[str, str], tuple[str, ...] | None]:
    """``(path, method)`` of each documented operation to the scopes its guard requires."""
    return {
        (route.path_format, method.lower()): guard_scopes(route.dependant)
        for route in api_routes(app.routes)
        if route.include_in_schema
        for method in route.methods or ()
    }


def _granted_by(scope: str, catalog: ScopeCatalog) -> str:
    aliases = [alias for alias, members in sorted(catalog.aliases.items()) if scope in members]
    return f"`{scope}`" + "".join(f" or `{alias}`" for alias in aliases)


def scope_paragraph(
    scopes: tuple[str, ...] | None, operation: Mapping[str, Any], catalog: ScopeCatalog
) -> str:
    """The sentence each operation's description ends with: the scope it needs, or why none."""
    if scopes:
        needed = ", ".join(_granted_by(scope, catalog) for scope in scopes)
        return f"**Required scope:** {needed} (an agent key in `{API_KEY_HEADER}`)."
    if scopes is not None:
        return f"**Required scope:** none: any valid agent key in `{API_KEY_HEADER}`."
    schemes = {name for requirement in operation.get("security", []) for name in requirement}
    if schemes == {ADMIN_KEY_SCHEME}:
        return "**Required scope:** none: an operator's admin key (no agent key is accepted)."
    if schemes:
        return (
            "**Required scope:** none: the credential's own key (any scope) or an operator's "
            "admin key."
        )
    return "**Required scope:** none: no key is needed."


def scope_catalog(
    catalog: ScopeCatalog, operations: Mapping[str, tuple[str, ...]]
) -> dict[str, dict[str, Any]]:
    """``info.x-scopes``: every name a credential request may ask for (scopes and aliases) with
    its description and the operationIds it unlocks."""
    unlocks: dict[str, list[str]] = {}
    for operation_id, scopes in operations.items():
        for scope in scopes:
            unlocks.setdefault(scope, []).append(operation_id)
    described: dict[str, dict[str, Any]] = {
        name: {"description": text, "operations": sorted(unlocks.get(name, []))}
        for name, text in catalog.scopes.items()
    }
    for alias, members in catalog.aliases.items():
        described[alias] = {
            "description": "Alias: every scope of " + ", ".join(members) + ".",
            "includes": list(members),
            "operations": sorted({op for m in members for op in unlocks.get(m, [])}),
        }
    return described


def scope_table(catalog: ScopeCatalog) -> str:
    """The catalog as Markdown, for the descriptions people read in /docs and /redoc."""
    rows = [f"| `{name}` | {text} |" for name, text in catalog.scopes.items()]
    rows += [
        f"| `{alias}` | Alias: " + ", ".join(f"`{m}`" for m in members) + ". |"
        for alias, members in catalog.aliases.items()
    ]
    return "| Scope | Unlocks |\n|---|---|\n" + "\n".join(rows)


def share_error_examples(schema: dict[str, Any]) -> None:
    """Each error example once, in ``components.examples``, referred to by every operation:
    written out per operation they would be a quarter of the document."""
    shared = schema.setdefault("components", {}).setdefault("examples", {})
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, answer in operation.get("responses", {}).items():
                if not status.startswith(("4", "5")):
                    continue
                examples = answer.get("content", {}).get("application/json", {}).get("examples")
                for code, example in (examples or {}).items():
                    name = f"{code}_{status}"
                    if shared.setdefault(name, example) == example:
                        examples[code] = {"$ref": f"#/components/examples/{name}"}


def _refs(node: Any) -> set[str]:
    """The component names a part of the document refers to."""
    if isinstance(node, dict):
        found = set()
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                found.add(value.rsplit("/", 1)[-1])
            else:
                found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


def _closure(names: set[str], schemas: Mapping[str, Any]) -> set[str]:
    reached, todo = set(), set(names)
    while todo:
        name = todo.pop()
        if name not in reached and name in schemas:
            reached.add(name)
            todo |= _refs(schemas[name])
    return reached


def require_written_fields(schema: dict[str, Any], sparse: set[tuple[str, str]]) -> None:
    """Every field of a success answer is written (null included), except on the operations in
    ``sparse`` (``response_model_exclude_none``): a schema reached only from those answers gets
    every property ``required``, so generated clients need not treat them as optional. A schema
    also used in a request keeps its own ``required`` (a request may omit defaults)."""
    schemas = schema.get("components", {}).get("schemas", {})
    inputs: set[str] = set()
    written: set[str] = set()
    omitting: set[str] = set()
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            inputs |= _refs(operation.get("requestBody", {}))
            inputs |= _refs(operation.get("parameters", []))
            successes = {
                status: answer
                for status, answer in operation.get("responses", {}).items()
                if status.startswith("2")
            }
            (omitting if (path, method) in sparse else written).update(_refs(successes))
    always = _closure(written, schemas) - _closure(inputs, schemas) - _closure(omitting, schemas)
    for name in always:
        properties = schemas[name].get("properties")
        if properties:
            schemas[name]["required"] = list(properties)


def describe_openapi(
    app: FastAPI,
    components: Mapping[str, dict[str, Any]],
    limits: TransportLimits,
    *,
    catalog: ScopeCatalog,
) -> None:
    """Make the generated OpenAPI true to the wire: our 400 envelope replaces FastAPI's 422, and
    bodies parsed after the guards (not FastAPI parameters) get their schemas, given by the
    feature that declares them as ``components``. Each operation states the scope it requires
    (``x-required-scopes`` and its description, both read from its guard), and the policy's
    scope catalog is ``info.x-scopes`` and a table in the API key scheme's description."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            required = route_scopes(app)
            unlocking: dict[str, tuple[str, ...]] = {}
            for path, operations in schema.get("paths", {}).items():
                for method, operation in operations.items():
                    responses = operation.get("responses", {})
                    # FastAPI's own 422 only: a route taking an Idempotency-Key answers 422
                    # (in our envelope) for a key reused with another body.
                    if "Idempotency-Key" not in _header_names(operation):
                        responses.pop("422", None)
                    for status, description in limits.described().items():
                        if status in responses:
                            responses[status]["description"] = description
                    # Every route that can refuse a key (documents 401) needs one; a route
                    # declaring its own (the admin API's bearer key) keeps it.
                    if "401" in responses and "security" not in operation:
                        operation["security"] = [{API_KEY_SCHEME: []}]
                    scopes = required.get((path, method))
                    operation["x-required-scopes"] = list(scopes or ())
                    unlocking[operation["operationId"]] = scopes or ()
                    sentence = scope_paragraph(scopes, operation, catalog)
                    described = operation.get("description")
                    operation["description"] = (
                        f"{described}\n\n{sentence}" if described else sentence
                    )
            schema.setdefault("components", {}).setdefault("securitySchemes", {})[
                API_KEY_SCHEME
            ] = {
                "type": "apiKey",
                "in": "header",
                "name": API_KEY_HEADER,
                "description": "An agent credential (wsk_agent_…) from POST /v1/agent-credentials "
                "(operationId `requestAgentSandboxCredential`). It holds the scopes it was "
                "granted; each operation names the one it requires (`x-required-scopes`).\n\n"
                + scope_table(catalog),
            }
            schema["components"]["securitySchemes"][ADMIN_KEY_SCHEME] = {
                "type": "http",
                "scheme": "bearer",
                "description": "An operator's admin key (wsk_admin_…), created with "
                "`agentkeys admin create-key`, sent as `Authorization: Bearer <key>`. Its role: "
                "`admin` (read, revoke, verify keys), `viewer` (read), or `verify` (only "
                "`/v1/keys/verify` and `/oauth/introspect`, for gateways and services).",
            }
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            schemas.update(components)
            require_written_fields(schema, sparse_answers(app))
            share_error_examples(schema)
            info = schema.setdefault("info", {})
            info["description"] = (
                info.get("description", "")
                + limits.paragraph()
                + "\n\n**Scopes.** Each operation names the scope it requires (in its "
                "description and as `x-required-scopes`); `info.x-scopes` lists every scope and "
                "alias a credential request may ask for, with the operationIds it unlocks.\n\n"
                + scope_table(catalog)
            )
            info["x-scopes"] = scope_catalog(catalog, unlocking)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override hook
