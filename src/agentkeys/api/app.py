"""``create_app(settings)``: the one place where the service is assembled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import APIRouter, FastAPI
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentkeys import __version__
from agentkeys.admin import routes as admin_routes
from agentkeys.admin.deps import AdminWiring
from agentkeys.admin.service import CursorCodec
from agentkeys.admin.verifier import AdminKeyVerifier
from agentkeys.api import docs, health, metrics_route
from agentkeys.api.context import AppContext
from agentkeys.api.deps import costed_route_problems, required_scopes
from agentkeys.api.errors import HEAD_AS_GET, install_error_handlers
from agentkeys.api.metrics_route import MetricsWiring
from agentkeys.api.middleware import (
    BodyTimedOut,
    ClientClosedRequest,
    RequestContextMiddleware,
    body_timed_out,
    client_closed_request,
)
from agentkeys.api.openapi import TransportLimits, describe_openapi
from agentkeys.api.request_metrics import RequestMetricsMiddleware
from agentkeys.clock import Clock, SystemClock
from agentkeys.config import DecisionCommit, Mode, Settings
from agentkeys.console import routes as console_routes
from agentkeys.console.deps import SIGN_IN_FAILURES, ConsoleWiring
from agentkeys.console.rendering import Renderer, load_static_assets
from agentkeys.console.session import SessionSigner
from agentkeys.cpu import CpuPool
from agentkeys.credentials import leak_routes
from agentkeys.credentials import routes as credential_routes
from agentkeys.credentials.cache import KeyCaches, VerifiedKeyCache
from agentkeys.credentials.deps import CredentialWiring
from agentkeys.credentials.identity import AdminIdentity
from agentkeys.credentials.policy import IssuingPolicy
from agentkeys.credentials.policy_file import (
    PolicyError,
    load_policy,
    route_cost_problems,
    route_scope_problems,
)
from agentkeys.credentials.revocations import (
    LocalRevocationBus,
    RedisRevocationBus,
    RevocationBus,
)
from agentkeys.credentials.usage import CredentialUsage
from agentkeys.credentials.verifier import CredentialVerifier
from agentkeys.db.engine import create_engine, create_session_factory
from agentkeys.discovery import routes as discovery_routes
from agentkeys.gateway import routes as gateway_routes
from agentkeys.gateway.deps import GatewayWiring
from agentkeys.gateway.service import FORWARD_PATH
from agentkeys.idempotency.service import IdempotencyService
from agentkeys.leak_report_keys import load_leak_report_keys
from agentkeys.mcp_server.http import MCP_PATH, McpEndpoint
from agentkeys.ratelimit.limiter import LimiterBackend, memory_backend, redis_backend
from agentkeys.sandbox.battery import routes as battery_routes
from agentkeys.sandbox.bills import routes as bill_routes
from agentkeys.sandbox.feedback import routes as feedback_routes
from agentkeys.sandbox.geo import Geography, load_geography
from agentkeys.sandbox.homes import routes as home_routes
from agentkeys.sandbox.impact import routes as impact_routes
from agentkeys.sandbox.price_signal import routes as price_signal_routes
from agentkeys.sandbox.tariffs.catalog import load_catalog
from agentkeys.sandbox.tariffs.model import Catalog
from agentkeys.sandbox.utility import routes as utility_routes
from agentkeys.webhooks import routes as webhook_routes
from agentkeys.webhooks.deps import WebhookWiring

DESCRIPTION = """Self-serve, sandbox-only API credentials for AI agents.

An agent asks for a key with `POST /v1/agent-credentials` (no authentication), sends it as the
`x-ws-api-key` header on sandbox requests, and can revoke it. Every error answers in the
`ApiErrorEnvelopeDto` envelope and every response carries `X-Request-Id`.

**Sandbox coverage.** Every ZIP code of the 50 states and DC resolves to the utilities serving
it (`serviceAreaMatch` `zip` or `county`); 1,305 real residential plans of 1,256 utilities, each
stating its `source`, `effectiveDate`, `dataSource` (`ratebook`, `urdb`, `eia-average`), whether
it is `stale` and what was simplified. Puerto Rico and the territories are not covered.

**Data sources and attribution.** Tariffs: the ratebook dataset (CC0-1.0) and the U.S. Utility
Rate Database, OpenEI / NREL (CC BY 4.0). Utilities by ZIP and average rates: NREL / OpenEI,
"U.S. Electric Utility Companies and Rates: Look-up by Zipcode (2024)"; source data: U.S.
Energy Information Administration, Form EIA-861 (CC BY 4.0). Utilities by county: U.S. Energy
Information Administration, Form EIA-861 (2018), as tabulated by PNNL's IMMM-SFA
`electricity_entity_boundaries` (BSD 2-Clause). ZIP places: the `zipcodes` package (MIT).
"""


# In this order the router tries each request's path against the routes (and OpenAPI lists
# them): the hot routes first. A gateway asks forward auth once per request of its whole API,
# and each route tried before costs ~0.5 µs.
ROUTERS = (
    credential_routes.router,
    gateway_routes.router,
    leak_routes.router,
    admin_routes.router,
    webhook_routes.router,
    feedback_routes.router,
    utility_routes.router,
    home_routes.router,
    bill_routes.router,
    impact_routes.router,
    price_signal_routes.router,
    battery_routes.router,
    health.router,
    metrics_route.router,
    discovery_routes.router,
    docs.router,
    console_routes.router,
)


def mount_routers(app: FastAPI, routers: tuple[APIRouter, ...]) -> None:
    """The routers' own routes, shared by every app this process builds.

    ``include_router`` copies each route for each app, and FastAPI builds a copy's state on its
    first request: half the time of a short test, which builds an app each. Our routers set
    their prefixes, tags and route class themselves and take nothing from the app, so the copies
    would equal the originals (``tests/unit/test_api_wiring.py`` compares both ways' routes and
    OpenAPI documents).
    """
    for router in routers:
        app.router.routes.extend(router.routes)


def check_policy_against_routes(issuing_policy: IssuingPolicy) -> None:
    """Refuse a policy the routes cannot honour (one line per problem, as a policy file's)."""
    # A policy must grant exactly the scopes the routes require (a file is checked line by line
    # when loaded; one built in code is checked here against the routes themselves).
    required: dict[str, list[str]] = {
        str(scope): routes for scope, routes in required_scopes(ROUTERS).items()
    }
    for scope in sorted(issuing_policy.upstream.scopes):
        required.setdefault(scope, []).append("an [upstream] route")
    problems = route_scope_problems(issuing_policy.catalog.scopes, required)
    if problems:
        raise PolicyError("<policy>", [f"0: scopes: {problem}" for problem in problems])
    # Route costs are keyed by path template: only routes whose guards declare their path
    # (``CostedRoute``) are charged one, so a cost for any other path would price nothing.
    problems = route_cost_problems(issuing_policy.request_costs.route_costs)
    problems += costed_route_problems(ROUTERS)
    if problems:
        raise PolicyError(
            "<policy>", [f"0: request_rate.route_costs: {problem}" for problem in problems]
        )


def console_wiring(
    settings: Settings, server_secret: bytes, limiter_backend: LimiterBackend
) -> ConsoleWiring:
    """The operator console's state (/console): its cookies' signer, templates, assets and the
    sign-in failures' rate."""
    return ConsoleWiring(
        signer=SessionSigner(
            server_secret, session_lifetime=timedelta(seconds=settings.console_session_seconds)
        ),
        renderer=Renderer(),
        static_assets=load_static_assets(),
        secure_cookies=settings.mode is not Mode.DEVELOPMENT,
        sign_in_failures=limiter_backend.limiter(SIGN_IN_FAILURES, namespace="console-sign-in"),
    )


def install_middleware(app: FastAPI, settings: Settings) -> None:
    """The error handlers and the middleware stack, innermost first."""
    install_error_handlers(app)
    app.add_exception_handler(BodyTimedOut, body_timed_out)
    app.add_exception_handler(ClientClosedRequest, client_closed_request)
    # Inside the request context: the access log names HEAD, the routes see GET.
    app.add_middleware(HeadAsGet)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_seconds=settings.body_timeout_seconds,
        form_path_prefixes=(console_routes.PREFIX + "/",),
        # Forward auth never reads a body (a gateway may pass the original request's headers);
        # introspection takes RFC 7662's form-encoded body.
        unread_body_prefix=FORWARD_PATH,
        form_paths=frozenset({gateway_routes.INTROSPECT_PATH}),
    )
    # Outermost: times every answer, the request middleware's own refusals included.
    app.add_middleware(RequestMetricsMiddleware)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    policy: IssuingPolicy | None = None,
    catalog: Catalog | None = None,
    geography: Geography | None = None,
) -> FastAPI:
    issuing_policy = policy or load_policy(settings.policy)
    check_policy_against_routes(issuing_policy)
    engine = create_engine(settings.database_url, pool_size=settings.database_pool_size)
    limiter_backend = redis_backend(settings.redis_url) if settings.redis_url else memory_backend()
    costs = issuing_policy.request_costs

    key_cache = VerifiedKeyCache(max_age_seconds=settings.key_cache_seconds)
    # Admin keys on the same path: a cache of their own, evicted by the same announcements.
    admin_key_cache: VerifiedKeyCache[AdminIdentity] = VerifiedKeyCache(
        max_age_seconds=settings.key_cache_seconds, name="admin"
    )
    caches = KeyCaches(key_cache, admin_key_cache)
    revocations: RevocationBus = (
        RedisRevocationBus(settings.redis_url, caches)
        if settings.redis_url
        else LocalRevocationBus(caches)
    )

    session_factory = create_session_factory(engine)
    clock = clock or SystemClock()
    usage = CredentialUsage(
        session_factory=session_factory,
        clock=clock,
        flush_seconds=settings.last_used_flush_seconds,
    )

    server_secret = settings.secret.get_secret_value().encode("utf-8")
    idempotency = IdempotencyService(
        session_factory=session_factory, clock=clock, server_secret=server_secret
    )
    webhooks = WebhookWiring.build(settings, session_factory=session_factory, clock=clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await revocations.start()
        await usage.start()
        # Purges Idempotency-Keys past their 24 hours (``agentkeys db prune`` does too).
        await idempotency.start()
        if settings.webhooks_deliver:
            # Pending messages (a restart's included) are picked up by its first round.
            await webhooks.delivery.start()
        # The MCP sessions end before the services their tool calls use.
        async with mcp.run():
            yield
        await webhooks.delivery.close()
        # Before the engine goes: the uses recorded since the last flush are written now.
        await idempotency.close()
        await usage.close()
        await revocations.close()
        await limiter_backend.close()
        await engine.dispose()

    app = FastAPI(
        title="agentkeys",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        separate_input_output_schemas=False,
        # /docs and /redoc are api.docs's: the same pages with their assets served from here.
        docs_url=None,
        redoc_url=None,
        # A trailing slash is an unknown route (404 in the envelope), never a redirect: a 307
        # built from the Host header could send a client, and its key, anywhere.
        redirect_slashes=False,
    )
    app.state.context = AppContext(
        session_factory=session_factory,
        clock=clock,
        policy=issuing_policy,
        # The two rates of every verified request: leased from Redis with several processes.
        rate_limiter=limiter_backend.hot_limiter(
            issuing_policy.request_rate, namespace="credential"
        ),
        network_rate_limiter=(
            limiter_backend.hot_limiter(costs.per_network, namespace="network")
            if costs.per_network
            else None
        ),
        verifier=CredentialVerifier(
            session_factory=session_factory,
            clock=clock,
            catalog=issuing_policy.catalog,
            server_secret=server_secret,
            cache=key_cache,
            usage=usage,
        ),
        catalog=catalog or load_catalog(),
        geography=geography if geography is not None else load_geography(),
        server_secret=server_secret,
        trusted_proxies=settings.trusted_networks(),
        cpu=CpuPool(settings.cpu_bound_concurrency),
    )
    admin_keys = AdminKeyVerifier(
        session_factory=session_factory, server_secret=server_secret, cache=admin_key_cache
    )
    # /metrics: who may read it without an admin key, and the active credentials' count.
    app.state.metrics = MetricsWiring(
        allowed=settings.metrics_networks(), admins=admin_keys, count_active=usage.count_active
    )
    # The admin feature's own state: only its routes use it.
    app.state.admin = AdminWiring(
        verifier=admin_keys, revocations=revocations, cursors=CursorCodec(server_secret)
    )
    # The credential feature's own state: only its routes use it.
    app.state.credentials = CredentialWiring(
        revocations=revocations,
        fast_decision_commit=settings.decision_commit is DecisionCommit.FAST,
        admins=admin_keys,
        issuance_rate_limiter=(
            # Asked before every decision: leased from Redis like the verified rates (a rate
            # under 100 per window still asks Redis on every hit).
            limiter_backend.hot_limiter(costs.issuance_per_network, namespace="issuance")
            if costs.issuance_per_network
            else None
        ),
        revocation_rate_limiter=(
            limiter_backend.limiter(costs.revocations_per_network, namespace="revocation")
            if costs.revocations_per_network
            else None
        ),
        failed_revocation_rate_limiter=(
            limiter_backend.limiter(costs.revocations_per_network, namespace="revocation-failed")
            if costs.revocations_per_network
            else None
        ),
        # Checked when the settings were read; read again here, as built into this app.
        leak_report_keys=(
            load_leak_report_keys(settings.leak_report_keys)
            if settings.leak_report_keys is not None
            else None
        ),
        # Unsigned leak reports at the revocation rate, counted apart from revocations.
        leak_report_rate_limiter=(
            limiter_backend.limiter(costs.revocations_per_network, namespace="leak-report")
            if costs.revocations_per_network
            else None
        ),
    )
    app.state.console = console_wiring(settings, server_secret, limiter_backend)
    # The gateway feature's own state: who may verify keys.
    app.state.gateway = GatewayWiring(admins=admin_keys)
    # The routes taking an Idempotency-Key (``idempotency.route``) claim and replay through it.
    app.state.idempotency = idempotency
    app.state.webhooks = webhooks
    app.state.engine = engine
    # /.well-known/security.txt's Contact.
    app.state.security_contact = settings.security_contact
    install_middleware(app, settings)
    mount_routers(app, ROUTERS)
    # MCP over streamable HTTP; its tools call this same app in process (api.py there).
    mcp = McpEndpoint.in_process(app, app.state.context.verifier)
    app.router.routes.append(Route(MCP_PATH, endpoint=mcp))
    describe_openapi(
        app,
        {
            **credential_routes.OPENAPI_SCHEMAS,
            **leak_routes.OPENAPI_SCHEMAS,
            **gateway_routes.OPENAPI_SCHEMAS,
        },
        TransportLimits(
            max_body_bytes=settings.max_body_bytes,
            max_header_bytes=settings.max_header_bytes,
            header_timeout_seconds=settings.header_timeout_seconds,
            body_timeout_seconds=settings.body_timeout_seconds,
        ),
        catalog=issuing_policy.catalog,
    )
    return app


class HeadAsGet:
    """HEAD wherever GET is allowed (RFC 9110 §9.3.2): routed as GET, answered without the body.

    Done here rather than by declaring HEAD on every route, which would double every GET
    operation in the OpenAPI description. HEAD where only other methods exist is still 405.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        # A copy: the server's own scope still says HEAD, so it sends no body either.
        as_get = {**scope, "method": "GET", HEAD_AS_GET: True}

        async def send_headers_only(message: Message) -> None:
            if message["type"] == "http.response.start" and "route" in as_get:
                scope["route"] = as_get["route"]  # for the access line, written outside
            if message["type"] == "http.response.body":
                # Content-Length stays that of the GET answer, as HEAD requires.
                message = {**message, "body": b""}
            await send(message)

        await self.app(as_get, receive, send_headers_only)
