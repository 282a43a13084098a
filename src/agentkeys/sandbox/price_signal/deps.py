"""The price signal feature's wiring: its service (over the homes service) and its scope guard."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agentkeys.api.context import app_context
from agentkeys.api.deps import SessionDep, require_scopes
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.credentials.scopes import Scope
from agentkeys.sandbox.homes.deps import HomeServiceDep
from agentkeys.sandbox.price_signal.service import PriceSignalService

PriceReader = Annotated[AuthenticatedCredential, Depends(require_scopes(Scope.PRICE_SIGNAL_READ))]


async def price_signal_service(
    request: Request, homes: HomeServiceDep, session: SessionDep
) -> PriceSignalService:
    context = app_context(request)
    # Read-only: the connection goes back to the pool before the signal waits for the CPU.
    return PriceSignalService(
        homes, clock=context.clock, cpu=context.cpu, release_session=session.close
    )


PriceSignalServiceDep = Annotated[PriceSignalService, Depends(price_signal_service)]
