"""The utility feature's wiring: the injected tariff catalog and its scope guard."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agentkeys.api.context import app_context
from agentkeys.api.deps import require_scopes
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.credentials.scopes import Scope
from agentkeys.sandbox.tariffs.model import Catalog

UtilityReader = Annotated[AuthenticatedCredential, Depends(require_scopes(Scope.UTILITY_READ))]


async def tariff_catalog(request: Request) -> Catalog:
    return app_context(request).catalog


CatalogDep = Annotated[Catalog, Depends(tariff_catalog)]
