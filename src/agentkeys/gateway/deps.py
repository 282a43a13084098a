"""The gateway feature's wiring: who may ask whether an agent key is good (an admin key with
the role ``verify`` or ``admin``), checked before any key is looked up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from agentkeys.api.context import note_admin_key
from agentkeys.api.deps import API_KEY_HEADER, bearer_token_of
from agentkeys.credentials.identity import AdminAuthenticator, AdminIdentity
from agentkeys.errors import Forbidden

VERIFIER_RECOVERY = (
    "Send an admin key with the role 'verify' as 'Authorization: Bearer wsk_admin_...' "
    "(agentkeys admin create-key --role verify)."
)


@dataclass(frozen=True, slots=True)
class GatewayWiring:
    """What only the gateway routes share, built once by ``create_app`` (``app.state.gateway``)."""

    # Operators' admin keys (the admin feature's verifier), for the verification routes' callers.
    admins: AdminAuthenticator


def gateway_wiring(request: Request) -> GatewayWiring:
    wiring: GatewayWiring = request.app.state.gateway
    return wiring


async def verifying_admin(request: Request) -> AdminIdentity:
    """The caller of ``/v1/keys/verify`` and ``/oauth/introspect``: ``Authorization: Bearer
    wsk_admin_…`` with the role ``verify`` or ``admin``. No key: 401; a bad or revoked admin key:
    401; an agent key: 403; a viewer key: 403. Runs before the body is read, so nobody without
    such a key learns anything about the key in the body (no oracle)."""
    token = bearer_token_of(request)
    if token is None and request.headers.getlist(API_KEY_HEADER):
        raise Forbidden(
            "Agent credentials (wsk_agent_...) cannot verify keys.",
            recovery_action=VERIFIER_RECOVERY,
        )
    admin = await gateway_wiring(request).admins.authenticate(token)
    note_admin_key(request, admin.id)
    admin.require_verifier()
    return admin


VerifyingAdmin = Annotated[AdminIdentity, Depends(verifying_admin)]
