"""The credential feature's wiring: its service, the presented key, the revocation rates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from agentkeys.api.context import app_context, note_admin_key
from agentkeys.api.deps import (
    SessionDep,
    bearer_token_of,
    describe_rate,
    network_of_request,
    presented_key_of,
)
from agentkeys.credentials.identity import AdminAuthenticator, AdminIdentity
from agentkeys.credentials.keys import ADMIN_KEYS
from agentkeys.credentials.revocations import RevocationBus
from agentkeys.credentials.service import CredentialService
from agentkeys.leak_report_keys import LeakReportKeys
from agentkeys.ratelimit.base import RequestRateLimiter


@dataclass(frozen=True, slots=True)
class CredentialWiring:
    """What only the credential routes share, built once by ``create_app`` (``app.state``)."""

    revocations: RevocationBus
    # Operators' admin keys, which may revoke any credential (the admin feature's verifier).
    admins: AdminAuthenticator | None = None
    # Per client network (None: the policy sets none).
    issuance_rate_limiter: RequestRateLimiter | None = None
    # PostgreSQL: decisions commit without waiting for the disk (``Settings.decision_commit``).
    fast_decision_commit: bool = False
    # Revocations by a credential's own key, per credential; failed attempts per network.
    revocation_rate_limiter: RequestRateLimiter | None = None
    failed_revocation_rate_limiter: RequestRateLimiter | None = None
    # Keys that sign leaked-key reports (None: signed reports are refused); unsigned reports
    # per client network.
    leak_report_keys: LeakReportKeys | None = None
    leak_report_rate_limiter: RequestRateLimiter | None = None


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
        fast_commit=wiring.fast_decision_commit,
    )


CredentialServiceDep = Annotated[CredentialService, Depends(credential_service)]


async def limit_failed_revocations(request: Request) -> None:
    """A revocation refused for its key or its target (401, 404), counted per client network.

    Called once the attempt has failed, so that no number of such attempts from a network
    can touch a holder's revocation of its own key (counted apart, ``limit_revocations_of``).
    Over the rate the attempt is answered 429 instead of its 401 or 404.
    """
    limiter = credential_wiring(request).failed_revocation_rate_limiter
    if limiter is None:
        return
    network = network_of_request(request)
    decision = await limiter.hit(network)
    describe_rate(request, "failed-revocation", decision)
    if not decision.allowed:
        raise decision.refusal(
            f"This client network ({network}) may make {decision.limit} failed revocation "
            f"attempts (invalid key, or a credential not the key's own) per "
            f"{decision.window_seconds} seconds."
        )


async def limit_revocations_of(request: Request, credential_id: str) -> None:
    """A holder revoking its own credential: counted per credential, before any lock.

    Only the holder's own attempts count here, so nobody else (an anonymous client on the same
    network included) can spend a holder's revocations.
    """
    limiter = credential_wiring(request).revocation_rate_limiter
    if limiter is None:
        return
    decision = await limiter.hit(credential_id)
    describe_rate(request, "revocation", decision)
    if not decision.allowed:
        raise decision.refusal(
            f"This credential may be revoked {decision.limit} times per "
            f"{decision.window_seconds} seconds (once is enough: revocation is immediate)."
        )


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
    admin = await admins.authenticate(token)
    note_admin_key(request, admin.id)
    return admin


RevokingAdminDep = Annotated[AdminIdentity | None, Depends(revoking_admin)]
