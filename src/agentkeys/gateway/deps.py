"""The gateway feature's wiring: who may ask whether an agent key is good (an admin key with
the role ``verify`` or ``admin``), checked before any key is looked up."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from agentkeys.api.context import note_admin_key
from agentkeys.api.deps import API_KEY_HEADER, AUTHORIZATION_HEADER, bearer_token_of
from agentkeys.credentials.identity import AdminAuthenticator, AdminIdentity
from agentkeys.errors import Forbidden, InvalidApiKey

BASIC_RECOVERY = (
    "Send 'Authorization: Basic base64(<any user name>:<admin key>)' once, or "
    "'Authorization: Bearer wsk_admin_...'."
)
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


def basic_password_of(request: Request) -> str | None:
    """The password of ``Authorization: Basic base64(user:password)`` (RFC 7617), the user name
    ignored; None when the header is absent or of another scheme (``bearer_token_of`` judges
    those). Malformed Basic credentials are refused (401), never guessed at."""
    values = request.headers.getlist(AUTHORIZATION_HEADER)
    if len(values) != 1:
        return None
    scheme, _, encoded = values[0].partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    _, colon, password = decoded.partition(":")
    if not colon or not password:
        raise InvalidApiKey(
            "The Authorization header's Basic credentials are malformed: base64 of "
            "'user:password' with the admin key as the password is expected.",
            recovery_action=BASIC_RECOVERY,
        )
    return password


async def _verifier(request: Request, token: str | None) -> AdminIdentity:
    if token is None and request.headers.getlist(API_KEY_HEADER):
        raise Forbidden(
            "Agent credentials (wsk_agent_...) cannot verify keys.",
            recovery_action=VERIFIER_RECOVERY,
        )
    admin = await gateway_wiring(request).admins.authenticate(token)
    note_admin_key(request, admin.id)
    admin.require_verifier()
    return admin


async def verifying_admin(request: Request) -> AdminIdentity:
    """The caller of ``/v1/keys/verify`` and ``/oauth/introspect``: ``Authorization: Bearer
    wsk_admin_…`` with the role ``verify`` or ``admin``. No key: 401; a bad or revoked admin key:
    401; an agent key: 403; a viewer key: 403. Runs before the body is read, so nobody without
    such a key learns anything about the key in the body (no oracle)."""
    return await _verifier(request, bearer_token_of(request))


async def introspecting_admin(request: Request) -> AdminIdentity:
    """The caller of ``/oauth/introspect``: as ``verifying_admin``, or with the admin key as the
    password of ``Authorization: Basic`` (RFC 7662 clients send their client credentials so;
    the user name is ignored). Malformed Basic credentials: 401."""
    password = basic_password_of(request)
    if password is not None:
        return await _verifier(request, password)
    return await verifying_admin(request)


VerifyingAdmin = Annotated[AdminIdentity, Depends(verifying_admin)]
IntrospectingAdmin = Annotated[AdminIdentity, Depends(introspecting_admin)]
