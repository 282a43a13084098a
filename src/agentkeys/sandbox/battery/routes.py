"""``POST /v1/homes/{id}/battery/estimate_savings`` (scope ``battery:estimate``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from agentkeys.api.deps import app_context, require_scopes
from agentkeys.api.responses import error_responses
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.sandbox.battery.schemas import (
    BatteryAnnualEstimatedSavingsRequestDto,
    BatteryEstimatedSavingsResponseDto,
)
from agentkeys.sandbox.battery.service import BatteryService
from agentkeys.sandbox.homes.routes import HomeId, HomeServiceDep

router = APIRouter(prefix="/v1/homes", tags=["battery"])

BatteryEstimator = Annotated[AuthenticatedCredential, Depends(require_scopes("battery:estimate"))]


async def battery_service(request: Request, homes: HomeServiceDep) -> BatteryService:
    context = app_context(request)
    return BatteryService(homes, clock=context.clock, slots=context.cpu_slots)


@router.post(
    "/{id}/battery/estimate_savings",
    summary="Estimate a home's annual battery savings",
    response_model=BatteryEstimatedSavingsResponseDto,
    responses=error_responses(400, 401, 403, 404, 429, 503),
)
async def estimate_battery_savings(
    home_id: HomeId,
    body: BatteryAnnualEstimatedSavingsRequestDto,
    credential: BatteryEstimator,
    service: Annotated[BatteryService, Depends(battery_service)],
) -> BatteryEstimatedSavingsResponseDto:
    """No usage is sent: the sandbox simulates a typical home for each requested month (and
    clear-sky solar at the utility's location when `solarCapacity` is set), dispatches the
    battery against the home's rate plan with a linear program, and scales the simulated days
    to whole months. `assumptions` says what was simulated."""
    estimate = await service.estimate_savings(
        home_id, body.parameters(), credential_id=credential.id
    )
    return BatteryEstimatedSavingsResponseDto.of(estimate)
