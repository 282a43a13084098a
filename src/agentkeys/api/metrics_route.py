"""``GET /metrics``: Prometheus metrics, for operators only.

Served to loopback clients and the networks in ``AGENTKEYS_METRICS_ALLOW``, or to anyone with
an admin key (``Authorization: Bearer wsk_admin_…``, either role). The client is the socket
peer, or the X-Forwarded-For client behind a trusted proxy (``client_address``): a proxy on
loopback does not make its clients loopback. Anyone else without a key: 401
``AUTH_MISSING_API_KEY`` (an admin key would be let in, as on the admin API); a bad or revoked
admin key: 401; an agent key: 403 ``FORBIDDEN``. Before answering, the worker counts the active
credentials in the database (a database away leaves the last count and is counted as a backend
error; the rest of the metrics are still served).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from ipaddress import IPv6Address, ip_address

from fastapi import APIRouter, Request
from fastapi.responses import Response

from agentkeys.api.deps import API_KEY_HEADER, JsonBodyRoute, address_of_request, bearer_token_of
from agentkeys.client_address import Network
from agentkeys.credentials.identity import AdminAuthenticator
from agentkeys.errors import Forbidden, MissingApiKey
from agentkeys.metrics import ACTIVE_CREDENTIALS, BACKEND_ERRORS, exposition

logger = logging.getLogger(__name__)
router = APIRouter(tags=["operations"], route_class=JsonBodyRoute)

ACTIVE_COUNT_TIMEOUT_SECONDS = 2.0
METRICS_RECOVERY = (
    "Read /metrics from loopback or a network in AGENTKEYS_METRICS_ALLOW, or send an admin key "
    "as 'Authorization: Bearer wsk_admin_...'."
)
ACTIVE_COUNT_FAILED = BACKEND_ERRORS.labels(backend="database", operation="active_credentials")


def is_allowed(address: str, allowed: tuple[Network, ...]) -> bool:
    """Loopback (IPv4, IPv6, IPv4-mapped) or inside one of ``allowed``."""
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    if isinstance(parsed, IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped
    return parsed.is_loopback or any(parsed in network for network in allowed)


@dataclass(frozen=True, slots=True)
class MetricsWiring:
    """What ``/metrics`` needs, built once by ``create_app`` (``app.state.metrics``)."""

    allowed: tuple[Network, ...]
    admins: AdminAuthenticator
    count_active: Callable[[], Awaitable[int]]

    async def refresh_active(self) -> None:
        """Set the active-credentials gauge from the database (one count over the partial index
        of unrevoked credentials' expiry; scrapes come from operators only)."""
        try:
            async with asyncio.timeout(ACTIVE_COUNT_TIMEOUT_SECONDS):
                active = await self.count_active()
        except Exception as error:  # the database away: the other metrics still matter most
            ACTIVE_COUNT_FAILED.inc()
            logger.warning(
                "could not count the active credentials for /metrics: %s", type(error).__name__
            )
            return
        ACTIVE_CREDENTIALS.set(active)


def metrics_wiring(request: Request) -> MetricsWiring:
    wiring: MetricsWiring = request.app.state.metrics
    return wiring


async def admit_reader(request: Request) -> None:
    """Loopback and allowed networks; anyone else needs an admin key."""
    wiring = metrics_wiring(request)
    if is_allowed(address_of_request(request), wiring.allowed):
        return
    token = bearer_token_of(request)
    if token is None and request.headers.getlist(API_KEY_HEADER):
        raise Forbidden(
            "Metrics are served to loopback and AGENTKEYS_METRICS_ALLOW networks, or with an "
            "admin key; this client is in neither and sent an agent key.",
            recovery_action=METRICS_RECOVERY,
        )
    if token is None:
        raise MissingApiKey(
            "Metrics are served to loopback and AGENTKEYS_METRICS_ALLOW networks, or with an "
            "admin key; this client is in neither and sent no key.",
            recovery_action=METRICS_RECOVERY,
        )
    # 401 for a bad or revoked admin key, 403 for an agent key sent as the bearer token.
    admin = await wiring.admins.authenticate(token)
    # A verify key only verifies agent keys.
    admin.require_reader()


@router.get("/metrics", include_in_schema=False, operation_id="getMetrics")
async def metrics(request: Request) -> Response:
    """Prometheus metrics of every worker of this server."""
    await admit_reader(request)
    await metrics_wiring(request).refresh_active()
    body, content_type = exposition()
    return Response(body, media_type=content_type)
