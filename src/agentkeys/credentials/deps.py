"""The credential feature's wiring: its service, the presented key, the revocation rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from agentkeys.api.context import app_context
from agentkeys.api.deps import SessionDep, bearer_token_of, network_of_request, presented_key_of
from agentkeys.credentials.identity import AdminAuthenticator, AdminIdentity
from agentkeys.credentials.keys import ADMIN_KEYS
from agentkeys.credentials.revocations import RevocationBus
from agentkeys.credentials.service import CredentialService
from agentkeys.ratelimit.base import RequestRateLimiter


@dataclass(frozen=True, slots=True)
class CredentialWiring:
    """What only the credential routes share, built once by ``create_app`` (``app.state``)."""

    revocations: RevocationBus
    # Operators' admin keys, which may revoke any credential (the admin feature's verifier).
    admins: AdminAuthenticator | None = None
    # Per client network (None: the policy sets none).
    issuance_rate_limiter: RequestRateLimiter | None = None
    revocation_rate_limiter: RequestRateLimiter | None = None


def credential_wiring(request: Request) -> CredentialWiring:
    wiring: CredentialWiring = request.app.state.credentials
    return wiring


async def credential_service(request: Request, session: SessionDep) -> CredentialService:
    context = app_context(request)
    wiring = credential_wiring(request)
    return CredentialService(
        session,
        clock=context.clock,
        policy=context.policy,
        server_secret=context.server_secret,
        verifier=context.verifier,
        revocations=wiring.revocations,
        issuance_rate=wiring.issuance_rate_limiter,
    )


CredentialServiceDep = Annotated[CredentialService, Depends(credential_service)]


async def limit_revocations(request: Request) -> None:
    """Revocations per client network, counted before anything else of the request is read.

    A revocation takes the database's write lock; this bounds how often one network can ask.
    """
    limiter = credential_wiring(request).revocation_rate_limiter
    if limiter is None:
        return
    network = network_of_request(request)
    decision = await limiter.hit(network)
    if not decision.allowed:
        raise decision.refusal(
            f"This client network ({network}) may revoke {decision.limit} times per "
            f"{decision.window_seconds} seconds."
        )


RevocationRate = Annotated[None, Depends(limit_revocations)]


async def presented_key(request: Request) -> str | None:
    return presented_key_of(request)


PresentedKeyDep = Annotated[str | None, Depends(presented_key)]


async def revoking_admin(request: Request) -> AdminIdentity | None:
    """The operator revoking with ``Authorization: Bearer <admin key>`` (CONTRACT §2), when no
    ``x-ws-api-key`` is sent and the bearer token is an admin key; None for the holder's path."""
    if request.headers.getlist("x-ws-api-key"):
        return None
    token = bearer_token_of(request)
    admins = credential_wiring(request).admins
    if token is None or admins is None or not ADMIN_KEYS.looks_like(token):
        return None
    return await admins.authenticate(token)


RevokingAdminDep = Annotated[AdminIdentity | None, Depends(revoking_admin)]
