"""The homes feature's wiring: its service, its scope guards and the home id in a path.

Declared shared: features that work on a credential's home (bills, price signals, battery)
take ``HomeServiceDep`` and ``HomeId`` from here, never from the routes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from agentkeys.api.context import app_context
from agentkeys.api.deps import SessionDep, require_scopes
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.credentials.scopes import Scope
from agentkeys.sandbox.homes.service import HomeService

HomeReader = Annotated[AuthenticatedCredential, Depends(require_scopes(Scope.HOMES_READ))]
HomeWriter = Annotated[AuthenticatedCredential, Depends(require_scopes(Scope.HOMES_WRITE))]
HomeId = Annotated[str, Path(alias="id", description="A home id, ws_home_…")]


async def home_service(request: Request, session: SessionDep) -> HomeService:
    context = app_context(request)
    return HomeService(
        session,
        clock=context.clock,
        catalog=context.catalog,
        geography=context.geography,
        network_budget=context.policy.storage.homes,
    )


HomeServiceDep = Annotated[HomeService, Depends(home_service)]
