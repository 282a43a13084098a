"""The bills feature's wiring: its service (over the homes service) and its scope guard."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from agentkeys.api.context import app_context
from agentkeys.api.deps import SessionDep, require_scopes
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.credentials.scopes import Scope
from agentkeys.sandbox.bills.service import BillService
from agentkeys.sandbox.homes.deps import HomeServiceDep

BillReader = Annotated[AuthenticatedCredential, Depends(require_scopes(Scope.BILL_IMPACT_READ))]
RatePlanId = Annotated[str, Path(alias="ratePlanId", description="A ratePlans[].id.")]


async def bill_service(request: Request, homes: HomeServiceDep, session: SessionDep) -> BillService:
    context = app_context(request)
    # Read-only: closing ends the read transaction and returns the pooled connection before the
    # bill waits for the CPU; the unit of work's commit afterwards has nothing to do.
    return BillService(
        homes,
        catalog=context.catalog,
        geography=context.geography,
        cpu=context.cpu,
        release_session=session.close,
    )


BillServiceDep = Annotated[BillService, Depends(bill_service)]
