"""What every request shares: the application's context (built once by ``create_app``) and the
request's id (given by the request middleware)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request

from agentkeys.client_address import Network
from agentkeys.clock import Clock
from agentkeys.cpu import CpuPool
from agentkeys.credentials.policy import IssuingPolicy
from agentkeys.credentials.verifier import CredentialVerifier
from agentkeys.ratelimit.base import RequestRateLimiter
from agentkeys.sandbox.geo import Geography
from agentkeys.sandbox.tariffs.model import Catalog


@dataclass(frozen=True, slots=True)
class AppContext:
    """Everything ``create_app`` builds once and every feature shares. A feature's own state
    lives with the feature (``credentials.deps.CredentialWiring`` on ``app.state``)."""

    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    policy: IssuingPolicy
    server_secret: bytes
    # The key guard's (``api.deps.require_scopes``), which every feature's routes use.
    rate_limiter: RequestRateLimiter
    verifier: CredentialVerifier
    # CPU-bound work (bills, price signals, battery estimates) off the event loop, bounded.
    cpu: CpuPool
    catalog: Catalog
    # The ZIP index: places and the utilities serving each ZIP.
    geography: Geography
    trusted_proxies: tuple[Network, ...] = ()
    # Sandbox requests per client network over all its keys (None: the policy sets none).
    network_rate_limiter: RequestRateLimiter | None = None


def app_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


def request_id_of(request: Request) -> str:
    request_id: str = request.scope["state"]["request_id"]
    return request_id


# The request scope's key for the rest of an expensive route's cost (``api.deps``): an async
# callable the middleware awaits once the route answered a success, before the headers go out.
DEFERRED_CHARGE = "deferred_rate_charge"
# Set by a route that did not do the work its route cost prices (``api.deps.settle_route_cost``):
# the deferred charge is then only what its scopes cost.
ROUTE_COST_WAIVED = "route_cost_waived"


# The request scope's state keys naming who the request authenticated as, for its access line:
# the credential of an agent key, or the id of an operator's admin key. Never a key.
AUTHENTICATED_CREDENTIAL = "authenticated_credential_id"
AUTHENTICATED_ADMIN_KEY = "authenticated_admin_key_id"


def note_credential(request: Request, credential_id: str) -> None:
    """Record the credential an agent key proved, for the request's access line."""
    request.scope.setdefault("state", {})[AUTHENTICATED_CREDENTIAL] = credential_id


def note_admin_key(request: Request, admin_key_id: str) -> None:
    """Record the admin key an operator proved, for the request's access line."""
    request.scope.setdefault("state", {})[AUTHENTICATED_ADMIN_KEY] = admin_key_id
