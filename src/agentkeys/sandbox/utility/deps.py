"""The utility feature's wiring: the injected tariff catalog, the ZIP index, the scope guard."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agentkeys.api.context import app_context
from agentkeys.api.deps import require_scopes
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.credentials.scopes import Scope
from agentkeys.sandbox.geo import Geography
from agentkeys.sandbox.tariffs.model import Catalog

UtilityReader = Annotated[AuthenticatedCredential, Depends(require_scopes(Scope.UTILITY_READ))]


async def tariff_catalog(request: Request) -> Catalog:
    return app_context(request).catalog


CatalogDep = Annotated[Catalog, Depends(tariff_catalog)]


async def zip_geography(request: Request) -> Geography:
    return app_context(request).geography


GeographyDep = Annotated[Geography, Depends(zip_geography)]
