"""The access log: one line per request, written when its answer starts (or when its client
leaves first), with the route's template, the status, the time taken and who the request
authenticated as. Never a key: the path is redacted, and only ids are named."""

from __future__ import annotations

import logging
from typing import Any, Final

from starlette.types import Scope

from agentkeys.api.context import AUTHENTICATED_ADMIN_KEY, AUTHENTICATED_CREDENTIAL, AppContext
from agentkeys.client_address import client_address
from agentkeys.redaction import redact

access_logger = logging.getLogger("agentkeys.access")
# The route of a request no route answered: an unknown path, or a request refused at the
# transport (413, 415) before routing. A template always starts with "/", so never a real one.
UNMATCHED_ROUTE: Final = "unmatched"
# nginx's status for a request whose client closed the connection before the answer: never
# sent (there is no one to send it to), only logged.
CLIENT_CLOSED_REQUEST: Final = 499


def route_template(scope: Scope) -> str:
    """The template of the route that answered (``/v1/agent-credentials/{credentialId}/revoke``,
    without a parameter's convertor), as Starlette's router records it; ``unmatched`` if none
    did. A 405 names the route whose path matched. FastAPI's own pages (``/openapi.json``,
    ``/docs``) are plain Starlette routes, which record only their endpoint: found by it."""
    route = scope.get("route")
    endpoint = scope.get("endpoint")
    if route is None and endpoint is not None:
        routes = getattr(scope.get("router"), "routes", ())
        route = next((r for r in routes if getattr(r, "endpoint", None) is endpoint), None)
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else UNMATCHED_ROUTE


def client_address_of(scope: Scope) -> str:
    """The client's address as the routes see it: the socket peer, or X-Forwarded-For from a
    trusted proxy (``client_address``)."""
    peer = scope.get("client")
    context = getattr(getattr(scope.get("app"), "state", None), "context", None)
    trusted = context.trusted_proxies if isinstance(context, AppContext) else ()
    forwarded = [
        value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name == b"x-forwarded-for"
    ]
    return client_address(peer[0] if peer else None, forwarded, trusted=trusted)


def log_access(scope: Scope, *, status: int, request_id: str, duration_ms: float) -> None:
    """One access line. Text: ``GET /v1/… 200 request_id=… route=… duration_ms=…``; JSON: the
    event ``request`` with ``method``, ``path``, ``status`` and the fields below."""
    if not access_logger.isEnabledFor(logging.INFO):  # the hot path pays nothing for it
        return
    state: dict[str, Any] = scope.get("state", {})
    fields: dict[str, object] = {
        "event": "request",
        "request_id": request_id,
        "route": route_template(scope),
        "duration_ms": duration_ms,
        "credential_id": state.get(AUTHENTICATED_CREDENTIAL),
        "client_address": client_address_of(scope),
    }
    admin_key_id = state.get(AUTHENTICATED_ADMIN_KEY)
    if admin_key_id is not None:
        fields["admin_key_id"] = admin_key_id
    if status == CLIENT_CLOSED_REQUEST:
        fields["reason"] = "client closed request"
    # The path only (a query string could carry anything), and never a key, even one a client
    # put in the path.
    access_logger.info(
        "%(method)s %(path)s %(status)s",
        {"method": scope["method"], "path": redact(scope["path"]), "status": status},
        extra=fields,
    )
