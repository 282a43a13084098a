"""Dependencies every feature shares: the unit of work, the request id, the client address and
network, the key guard with its scopes, and bodies parsed after the guards."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_typed_return_annotation
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.types import ASGIApp, Message, Receive, Send
from starlette.types import Scope as AsgiScope

from agentkeys.api.context import (
    DEFERRED_CHARGE,
    ROUTE_COST_WAIVED,
    app_context,
    note_credential,
    request_id_of,
)
from agentkeys.api.errors import field_errors_from
from agentkeys.client_address import client_address as address_of
from agentkeys.client_address import network_of
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.credentials.keys import ADMIN_KEYS
from agentkeys.credentials.scopes import CostedRoute, Scope
from agentkeys.credentials.verifier import admin_key_refused, repeated_key_header
from agentkeys.db.engine import pop_after_commit
from agentkeys.errors import (
    DomainError,
    ErrorCode,
    FieldError,
    InsufficientScope,
    InvalidApiKey,
    ValidationFailed,
)
from agentkeys.metrics import VERIFIED
from agentkeys.ratelimit.base import RateDecision
from agentkeys.validation import decode_json

API_KEY_HEADER = "x-ws-api-key"
AUTHORIZATION_HEADER = "authorization"
BEARER_RECOVERY = "Send 'Authorization: Bearer wsk_admin_...' once, holding one admin key."


class JsonBodyRequest(Request):
    """A request whose JSON body is read by ``validation.decode_json``: an integer too long to
    convert is refused naming its field (400 ``VALIDATION_FAILED``), where the standard decoder
    failed the whole body ("There was an error parsing the body")."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = decode_json(await self.body())
        return self._json


class JsonBodyRoute(APIRoute):
    """The route class of every router (``APIRouter(route_class=JsonBodyRoute)``): FastAPI reads
    declared bodies through ``JsonBodyRequest``.

    A route taking nothing but key guards and the request, and answering a ``Response`` it built
    itself (``/v1/agent-credentials/self``: the hot path), is served without FastAPI's
    dependency resolution (``guarded_endpoint``): its guards, resolved once here, are awaited
    and the endpoint called directly. Its OpenAPI description is FastAPI's, unchanged.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        raw = RAW_HANDLERS.get(endpoint)
        fast = raw_endpoint(self, raw) if raw is not None else guarded_endpoint(self)
        if fast is not None:
            self.app = fast

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            return await handler(JsonBodyRequest(request.scope, request.receive))

        return handle


ModelT = TypeVar("ModelT", bound=BaseModel)


def guarded_endpoint(route: APIRoute) -> ASGIApp | None:
    """An ASGI app serving ``route`` without FastAPI's dependency resolution, or None when the
    route needs any of it.

    Only for a route whose endpoint is a coroutine taking key guards (``require_scopes``) and
    at most the ``Request``, and returning a ``Response`` (never a model to validate): then
    resolving its dependencies is awaiting each guard with the request, which is what this app
    does, in the order declared, with errors answered by the application's exception handlers
    as on every route (Starlette's ``wrap_app_handling_exceptions``, which its routes use). About
    15 µs less per request than the resolution it replaces. Should the route's overrides
    provider (where FastAPI's handler looks for ``dependency_overrides``) hold any, FastAPI's own
    handler serves the request instead.
    """
    dependant = route.dependant
    call = dependant.call
    if (
        call is None
        or not inspect.iscoroutinefunction(call)
        or not _answers_a_response(call)
        or dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
    ):
        return None
    guards: list[tuple[str, Guard]] = []
    for sub in dependant.dependencies:
        guard = sub.call
        if sub.name is None or guard not in GUARD_SCOPES or not _takes_the_request_only(sub):
            return None
        guards.append((sub.name, guard))
    if not guards:
        return None
    request_name = dependant.request_param_name
    standard = route.app
    overrides_provider = route.dependency_overrides_provider

    async def app(scope: AsgiScope, receive: Receive, send: Send) -> None:
        if overrides_provider is not None and getattr(
            overrides_provider, "dependency_overrides", None
        ):
            await standard(scope, receive, send)
            return
        request = Request(scope, receive, send)

        async def answer(scope: AsgiScope, receive: Receive, send: Send) -> None:
            values: dict[str, Any] = {}
            for name, guard in guards:
                values[name] = await guard(request)
            if request_name is not None:
                values[request_name] = request
            response: Response = await call(**values)
            await response(scope, receive, send)

        await wrap_app_handling_exceptions(answer, request)(scope, receive, send)

    return app


RawHandler = Callable[[Request], Coroutine[Any, Any, Response | None]]
# Endpoints whose requests a handler of their own may serve from the request alone (``served_raw``).
RAW_HANDLERS: dict[Callable[..., Any], RawHandler] = {}
EndpointT = TypeVar("EndpointT", bound=Callable[..., Any])


def served_raw(handler: RawHandler) -> Callable[[EndpointT], EndpointT]:
    """Let ``handler(request)`` answer the decorated endpoint's requests without FastAPI's
    parameter parsing and dependency resolution (forward auth: asked once per request of a
    whole upstream API). ``handler`` reads what it needs from the request itself and answers
    None for any request it leaves to FastAPI, such as a query it does not recognize exactly:
    FastAPI then parses it as declared (the endpoint's signature, which also describes the
    operation in OpenAPI), refusals included. Apply it under the route decorator."""

    def register(endpoint: EndpointT) -> EndpointT:
        RAW_HANDLERS[endpoint] = handler
        return endpoint

    return register


def raw_endpoint(route: APIRoute, handler: RawHandler) -> ASGIApp:
    """The ASGI app of a ``served_raw`` route: its handler first, FastAPI's for what it leaves."""
    standard = route.app

    async def app(scope: AsgiScope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)

        async def answer(scope: AsgiScope, receive: Receive, send: Send) -> None:
            response = await handler(request)
            if response is None:  # nothing was done: FastAPI's handler serves it whole
                await standard(scope, _replaying(request, receive), send)
            else:
                await response(scope, receive, send)

        await wrap_app_handling_exceptions(answer, request)(scope, receive, send)

    return app


def _replaying(request: Request, receive: Receive) -> Receive:
    """``receive`` giving FastAPI the body a raw handler already read (when it read one)."""
    body: bytes | None = getattr(request, "_body", None)  # Starlette's Request.body() cache
    if body is None:
        return receive
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _answers_a_response(call: Callable[..., Any]) -> bool:
    returned = get_typed_return_annotation(call)
    return isinstance(returned, type) and issubclass(returned, Response)


def _takes_the_request_only(dependant: Dependant) -> bool:
    return not (
        dependant.dependencies
        or dependant.path_params
        or dependant.query_params
        or dependant.header_params
        or dependant.cookie_params
        or dependant.body_params
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
    )


@asynccontextmanager
async def work_of(request: Request) -> AsyncIterator[AsyncSession]:
    """One session: committed when the block succeeds (then its after-commit callbacks run),
    rolled back otherwise. ``unit_of_work`` for a route FastAPI resolves; a raw handler's own."""
    async with app_context(request).session_factory() as session:
        try:
            yield session
        except BaseException:
            pop_after_commit(session)
            await session.rollback()
            raise
        if session.in_transaction():  # else nothing to commit (a decision in one statement)
            await session.commit()
        for callback in pop_after_commit(session):
            await callback()


async def unit_of_work(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: committed when the route succeeds, rolled back otherwise."""
    async with work_of(request) as session:
        yield session


# scope="function": the commit runs before the response is sent, so a failed commit can never
# be followed by a success answer (or a secret the database does not know).
SessionDep = Annotated[AsyncSession, Depends(unit_of_work, scope="function")]


async def request_id(request: Request) -> str:
    return request_id_of(request)


RequestIdDep = Annotated[str, Depends(request_id)]


def address_of_request(request: Request) -> str:
    return address_of(
        request.client.host if request.client is not None else None,
        # Every line of the header, in order: a client's own line must not hide the proxy's.
        request.headers.getlist("x-forwarded-for"),
        trusted=app_context(request).trusted_proxies,
    )


def network_of_request(request: Request) -> str:
    """The client network (CIDR), the unit of every per-address quota and rate."""
    prefixes = app_context(request).policy.networks
    return network_of(
        address_of_request(request), ipv4_prefix=prefixes.ipv4, ipv6_prefix=prefixes.ipv6
    )


async def client_address(request: Request) -> str:
    return address_of_request(request)


ClientAddressDep = Annotated[str, Depends(client_address)]


async def client_network(request: Request) -> str:
    return network_of_request(request)


ClientNetworkDep = Annotated[str, Depends(client_network)]


def presented_key_of(request: Request) -> str | None:
    """The raw ``x-ws-api-key`` header; the verifier decides between missing and invalid.

    Sent more than once, it is refused here: which copy would count is for no one to guess.
    """
    values = request.headers.getlist(API_KEY_HEADER)
    if len(values) > 1:
        raise repeated_key_header(len(values))
    return values[0] if values else None


def describe_rate(request: Request, name: str, decision: RateDecision) -> None:
    """The rate the answer's RateLimit headers describe (the middleware writes them): the last
    one set, so a refusal names the rate that refused."""
    request.scope["state"]["rate_decision"] = decision
    request.scope["state"]["rate_name"] = name


def bearer_token_of(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (an admin key), or None without the header.

    Sent more than once, or with another scheme or shape, it is refused (401), never guessed at.
    """
    values = request.headers.getlist(AUTHORIZATION_HEADER)
    if not values:
        return None
    if len(values) > 1:
        raise InvalidApiKey(
            f"The Authorization header was sent {len(values)} times; it must be sent once.",
            recovery_action=BEARER_RECOVERY,
        )
    scheme, _, token = values[0].partition(" ")
    if scheme.lower() != "bearer" or not token or token != token.strip() or " " in token:
        raise InvalidApiKey(
            "The Authorization header must be 'Bearer <admin key>'.",
            recovery_action=BEARER_RECOVERY,
        )
    return token


def agent_key_of(request: Request) -> str | None:
    """``x-ws-api-key`` for the sandbox guard; an admin key sent as a bearer token instead is
    named as such (401), not answered as a missing key."""
    presented = presented_key_of(request)
    if presented is None and any(
        # The scheme in any case, as ``bearer_token_of`` reads it.
        line[:7].lower() == "bearer " and ADMIN_KEYS.looks_like(line[7:])
        for line in request.headers.getlist(AUTHORIZATION_HEADER)
    ):
        raise admin_key_refused()
    return presented


Guard = Callable[[Request], Coroutine[Any, Any, AuthenticatedCredential]]
# The scopes each guard requires, so the application can list what its routes need.
GUARD_SCOPES: dict[Guard, tuple[Scope, ...]] = {}
# The route each guard prices on its own (``route=``), so the application can check it is the
# path of the route the guard is on.
GUARD_ROUTES: dict[Guard, CostedRoute] = {}


def require_scopes(*scopes: Scope, route: CostedRoute | None = None) -> Guard:
    """The key guard: a verified credential, within its request rate, holding every listed scope.

    One dependency (plus the header it reads) so the hot path costs one resolution: a cached
    key is answered without a database session. Use as
    ``Annotated[AuthenticatedCredential, Depends(require_scopes(Scope.HOMES_READ))]``. ``route``:
    the guarded route's own path template, for a route the policy may price on its own
    (``[request_rate.route_costs]``); declared here, so no request looks its route up.
    """

    async def guard(request: Request) -> AuthenticatedCredential:
        return await admit_key(request, agent_key_of(request), scopes, route=route)

    guard.__name__ = "require_" + ("_".join(s.replace(":", "_") for s in scopes) or "any_scope")
    GUARD_SCOPES[guard] = scopes
    if route is not None:
        GUARD_ROUTES[guard] = route
    return guard


async def admit_key(
    request: Request,
    presented: str | None,
    scopes: Sequence[str],
    *,
    route: CostedRoute | None = None,
    unroutable: str | None = None,
) -> AuthenticatedCredential:
    """Every use of an agent key, wherever it is presented (the sandbox routes' guard, forward
    auth, the verification API): the key verified, the request counted against the
    credential's rate (and its network's), then the scopes required; counted in
    ``agentkeys_verifications_total``. ``unroutable``: why no scope can be named for the request
    (an upstream request no route maps), refused as a scope the key lacks, after the key and
    the rate, like any other request."""
    try:
        credential = await _admit(request, presented, scopes, route=route, unroutable=unroutable)
    except DomainError as refusal:
        # agentkeys_verifications_total{result}: every refusal the guard makes is one of
        # these codes (a database outage is none: it is answered 503, not a verification).
        result = VERIFICATION_REFUSALS.get(refusal.code)
        if result is not None:
            result.inc()
        raise
    VERIFIED_OK.inc()
    return credential


async def _admit(
    request: Request,
    presented: str | None,
    scopes: Sequence[str],
    *,
    route: CostedRoute | None,
    unroutable: str | None,
) -> AuthenticatedCredential:
    context = app_context(request)
    # The OpenAPI security scheme is declared in api.app for every route documenting 401.
    credential = await context.verifier.authenticate(presented)
    note_credential(request, credential.id)
    # An expensive route (the battery's linear program) counts as several requests, but
    # only when it answers: every request counts one now, and the rest of its cost is
    # charged by the middleware if the answer is a success. A refused request (400, 404,
    # 429...) did none of the expensive work and costs one.
    costs = context.policy.request_costs
    cost = costs.cost_of(scopes, route=route)
    decision = await context.rate_limiter.hit(credential.id)
    # The middleware turns this into RateLimit headers on whatever the route answers.
    describe_rate(request, "credential", decision)
    if not decision.allowed or decision.remaining < cost - 1:
        raise decision.refusal(
            f"This credential may make {decision.limit} requests per "
            f"{decision.window_seconds} seconds{_priced(cost)}."
        )
    network = network_of_request(request)
    if context.network_rate_limiter is not None:
        # Many keys must not multiply the rate: one aggregate per client network.
        shared = await context.network_rate_limiter.hit(network)
        if not shared.allowed or shared.remaining < cost - 1:
            # A 429 describes the rate that refused it, not the credential's.
            describe_rate(request, "network", shared)
            raise shared.refusal(
                f"This client network ({network}) may make {shared.limit} requests per "
                f"{shared.window_seconds} seconds over all its keys{_priced(cost)}."
            )
    if unroutable is not None:
        raise InsufficientScope(
            unroutable, recovery_action="Ask the API's operator which requests keys may make."
        )
    credential.require(*scopes)
    if cost > 1:
        # Room was kept for the route's full cost; a route that did not do the work it
        # prices may waive it (``settle_route_cost``), leaving its scopes' cost.
        request.scope["state"][DEFERRED_CHARGE] = _charge_rest(
            request,
            credential.id,
            network,
            rest=cost - 1,
            rest_if_waived=costs.cost_of(scopes) - 1,
        )
    return credential


def settle_route_cost(request: Request, *, did_priced_work: bool) -> None:
    """Tell the guard whether this request did the work its route's own cost prices (e.g.
    generated a load or solar profile); when not, a success counts only as its scopes price it.
    A route that never calls this is charged its route cost in full: the safe side."""
    if not did_priced_work:
        request.scope["state"][ROUTE_COST_WAIVED] = True


VERIFIED_OK = VERIFIED["ok"]
VERIFICATION_REFUSALS = {
    ErrorCode.AUTH_MISSING_API_KEY: VERIFIED["missing"],
    ErrorCode.AUTH_INVALID_API_KEY: VERIFIED["invalid"],
    ErrorCode.AUTH_EXPIRED_CREDENTIAL: VERIFIED["expired"],
    ErrorCode.AUTH_REVOKED_CREDENTIAL: VERIFIED["revoked"],
    ErrorCode.AUTH_INSUFFICIENT_SCOPE: VERIFIED["insufficient_scope"],
    ErrorCode.RATE_LIMITED: VERIFIED["rate_limited"],
}


def _priced(cost: int) -> str:
    return f"; this route counts as {cost} requests" if cost > 1 else ""


def _charge_rest(
    request: Request, credential_id: str, network: str, *, rest: int, rest_if_waived: int
) -> Callable[[], Coroutine[Any, Any, None]]:
    async def charge() -> None:
        owed = rest_if_waived if request.scope["state"].get(ROUTE_COST_WAIVED) else rest
        if owed < 1:
            return
        context = app_context(request)
        # Room was checked by the guard; a concurrent request may have taken it since, and the
        # limiter then counts nothing: the overshoot is bounded by requests in flight.
        decision = await context.rate_limiter.hit(credential_id, cost=owed)
        if decision.allowed:
            describe_rate(request, "credential", decision)
        if context.network_rate_limiter is not None:
            await context.network_rate_limiter.hit(network, cost=owed)

    return charge


def required_scopes(routers: Iterable[APIRouter]) -> dict[Scope, list[str]]:
    """Every scope some route's guard requires, with the routes (``METHOD /path``) needing it."""
    found: dict[Scope, list[str]] = {}

    def walk(dependant: Dependant, route: str) -> None:
        for scope in GUARD_SCOPES.get(dependant.call, ()):  # type: ignore[arg-type]
            found.setdefault(scope, []).append(route)
        for sub in dependant.dependencies:
            walk(sub, route)

    for route in (route for router in routers for route in router.routes):
        if isinstance(route, APIRoute):
            for method in sorted(route.methods or ()):
                walk(route.dependant, f"{method} {route.path}")
    return found


def costed_route_problems(routers: Iterable[APIRouter]) -> list[str]:
    """Why the routes' guards and ``CostedRoute`` disagree: a guard pricing a path that is not
    its route's (its cost would price the wrong name), or a member no route's guard declares
    (a policy could set its cost and nothing would charge it)."""
    declared: set[CostedRoute] = set()
    problems: list[str] = []

    def walk(dependant: Dependant, path: str) -> None:
        priced = GUARD_ROUTES.get(dependant.call)  # type: ignore[arg-type]
        if priced is not None:
            declared.add(priced)
            if priced != path:
                problems.append(f"the guard of {path} prices '{priced}', another route's path")
        for sub in dependant.dependencies:
            walk(sub, path)

    for route in (route for router in routers for route in router.routes):
        if isinstance(route, APIRoute):
            walk(route.dependant, route.path)
    problems += [
        f"no route's guard declares '{missing}', a CostedRoute"
        for missing in sorted(set(CostedRoute) - declared)
    ]
    return problems


CurrentCredential = Annotated[AuthenticatedCredential, Depends(require_scopes())]


async def parse_json_body(
    request: Request, model: type[ModelT], *, optional: bool = False
) -> ModelT:
    """Parse a body after the guards have run (for routes whose checks must precede the body)."""
    raw = await request.body()
    if not raw.strip():
        if optional:
            return model()
        raise ValidationFailed([FieldError("body", "A JSON object body is required")])
    try:
        # Parsed as FastAPI parses declared bodies (the standard library's decoder), so every
        # route answers the same input alike: a lone surrogate or a NaN is refused by the
        # storable-value rule naming its field, not as malformed JSON.
        document = decode_json(raw)
    except (ValueError, RecursionError):
        raise ValidationFailed([FieldError("body", "Malformed JSON")]) from None
    try:
        return model.model_validate(document)
    except ValidationError as error:
        # Located in the body, as FastAPI locates a declared body's errors: a field named
        # ``path`` or ``query`` is then named as itself, not taken for the location.
        located = [{**problem, "loc": ("body", *problem["loc"])} for problem in error.errors()]
        raise ValidationFailed(field_errors_from(located)) from None
