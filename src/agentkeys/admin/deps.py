"""The admin feature's wiring: its verifier (built once by ``create_app``), the admin guard and
the service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from agentkeys.admin.service import (
    DECISIONS_CURSOR_CONTEXT,
    AdminCredentialService,
    AdminDecisionService,
    CursorCodec,
    DecisionExport,
)
from agentkeys.admin.verifier import AdminKeyVerifier, agent_key_refused
from agentkeys.api.context import app_context, note_admin_key
from agentkeys.api.deps import API_KEY_HEADER, SessionDep, bearer_token_of
from agentkeys.credentials.identity import AdminIdentity
from agentkeys.credentials.ledger import DecisionLedger
from agentkeys.credentials.revocations import RevocationBus
from agentkeys.credentials.service import CredentialAdministration


@dataclass(frozen=True, slots=True)
class AdminWiring:
    """What only the admin routes share, built once by ``create_app`` (``app.state.admin``)."""

    verifier: AdminKeyVerifier
    revocations: RevocationBus
    cursors: CursorCodec


def admin_wiring(request: Request) -> AdminWiring:
    wiring: AdminWiring = request.app.state.admin
    return wiring


async def current_admin(request: Request) -> AdminIdentity:
    """The admin guard: ``Authorization: Bearer wsk_admin_…``. No key: 401; an agent key in
    either header: 403; a bad or revoked admin key: 401; a verify key: 403."""
    token = bearer_token_of(request)
    if token is None and request.headers.getlist(API_KEY_HEADER):
        raise agent_key_refused()
    admin = await admin_wiring(request).verifier.authenticate(token)
    note_admin_key(request, admin.id)
    # A verify key verifies agent keys (gateway routes) and may not use the admin API.
    admin.require_reader()
    return admin


CurrentAdmin = Annotated[AdminIdentity, Depends(current_admin)]


async def revoking_admin(admin: CurrentAdmin) -> AdminIdentity:
    """The guard of revoking routes: a viewer key is refused (403) before the body is judged."""
    admin.require_admin()
    return admin


RevokingAdmin = Annotated[AdminIdentity, Depends(revoking_admin)]


async def admin_credential_service(request: Request, session: SessionDep) -> AdminCredentialService:
    context = app_context(request)
    wiring = admin_wiring(request)
    return AdminCredentialService(
        CredentialAdministration(session, clock=context.clock, revocations=wiring.revocations),
        catalog=context.policy.catalog,
        cursors=wiring.cursors,
    )


AdminCredentialServiceDep = Annotated[AdminCredentialService, Depends(admin_credential_service)]


async def admin_decision_service(request: Request, session: SessionDep) -> AdminDecisionService:
    return AdminDecisionService(
        DecisionLedger(session),
        clock=app_context(request).clock,
        cursors=admin_wiring(request).cursors.for_context(DECISIONS_CURSOR_CONTEXT),
    )


AdminDecisionServiceDep = Annotated[AdminDecisionService, Depends(admin_decision_service)]


async def decision_export(request: Request) -> DecisionExport:
    """Not the request's unit of work: the export opens a short session per batch."""
    context = app_context(request)
    return DecisionExport(context.session_factory, clock=context.clock)


DecisionExportDep = Annotated[DecisionExport, Depends(decision_export)]
