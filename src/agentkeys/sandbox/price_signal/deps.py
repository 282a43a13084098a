"""The price signal feature's wiring: its service (over the homes service) and its scope guard."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agentkeys.api.context import app_context
from agentkeys.api.deps import require_scopes
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.credentials.scopes import Scope
from agentkeys.sandbox.homes.deps import HomeServiceDep
from agentkeys.sandbox.price_signal.service import PriceSignalService

PriceReader = Annotated[AuthenticatedCredential, Depends(require_scopes(Scope.PRICE_SIGNAL_READ))]


async def price_signal_service(request: Request, homes: HomeServiceDep) -> PriceSignalService:
    return PriceSignalService(homes, clock=app_context(request).clock)


PriceSignalServiceDep = Annotated[PriceSignalService, Depends(price_signal_service)]
