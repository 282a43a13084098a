"""The impact feature's wiring: its service (over the homes service) and its scope guards, one
per route, each naming its route so a policy can price it on its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agentkeys.api.context import app_context
from agentkeys.api.deps import SessionDep, require_scopes
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.credentials.scopes import CostedRoute, Scope
from agentkeys.sandbox.homes.deps import HomeServiceDep
from agentkeys.sandbox.impact.service import ImpactService

HomeImpactReader = Annotated[
    AuthenticatedCredential,
    Depends(require_scopes(Scope.BILL_IMPACT_READ, route=CostedRoute.HOME_IMPACT)),
]
# May generate a typical load and a solar profile (a year of it for a new location).
ZipImpactReader = Annotated[
    AuthenticatedCredential,
    Depends(require_scopes(Scope.BILL_IMPACT_READ, route=CostedRoute.IMPACT)),
]


async def impact_service(
    request: Request, homes: HomeServiceDep, session: SessionDep
) -> ImpactService:
    context = app_context(request)
    return ImpactService(
        homes,
        catalog=context.catalog,
        geography=context.geography,
        cpu=context.cpu,
        # Read-only: closing ends the read transaction and returns the pooled connection before
        # the bills wait for the CPU; the unit of work's commit afterwards has nothing to do.
        release_session=session.close,
    )


ImpactServiceDep = Annotated[ImpactService, Depends(impact_service)]
