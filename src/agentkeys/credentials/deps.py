"""The credential feature's wiring: its service, the presented key, the revocation rate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from agentkeys.api.context import app_context
from agentkeys.api.deps import SessionDep, network_of_request, presented_key_of
from agentkeys.credentials.revocations import RevocationBus
from agentkeys.credentials.service import CredentialService
from agentkeys.ratelimit.base import RequestRateLimiter


@dataclass(frozen=True, slots=True)
class CredentialWiring:
    """What only the credential routes share, built once by ``create_app`` (``app.state``)."""

    revocations: RevocationBus
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
