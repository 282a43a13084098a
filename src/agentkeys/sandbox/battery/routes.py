"""``POST /v1/homes/{id}/battery/estimate_savings`` (scope ``battery:estimate``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from agentkeys.api.deps import JsonBodyRoute
from agentkeys.api.openapi import error_responses
from agentkeys.sandbox import examples
from agentkeys.sandbox.battery.deps import BatteryEstimator, BatteryServiceDep
from agentkeys.sandbox.battery.schemas import (
    BatteryAnnualEstimatedSavingsRequestDto,
    BatteryEstimatedSavingsResponseDto,
)
from agentkeys.sandbox.homes.deps import HomeId

router = APIRouter(prefix="/v1/homes", tags=["battery"], route_class=JsonBodyRoute)


@router.post(
    "/{id}/battery/estimate_savings",
    operation_id="estimateBatterySavings",
    summary="Estimate a home's annual battery savings",
    response_model=BatteryEstimatedSavingsResponseDto,
    responses=error_responses(400, 401, 403, 404, 429, 503),
)
async def estimate_battery_savings(
    home_id: HomeId,
    body: Annotated[
        BatteryAnnualEstimatedSavingsRequestDto, Body(openapi_examples=examples.BATTERY)
    ],
    credential: BatteryEstimator,
    service: BatteryServiceDep,
) -> BatteryEstimatedSavingsResponseDto:
    """No usage is sent: the sandbox simulates a typical home for each requested month (and
    clear-sky PV production at the home's ZIP code when `solarCapacity` is set; a home without a
    ZIP code the sandbox can place: 422), dispatches the battery against the home's rate plan
    with a linear program, and scales the simulated days to whole months. `assumptions` says
    what was simulated. One estimate runs at a time per credential (a second one meanwhile:
    429); when the estimator's queue is full: 503. Both carry `Retry-After`."""
    estimate = await service.estimate_savings(
        home_id, body.parameters(), credential_id=credential.id
    )
    return BatteryEstimatedSavingsResponseDto.of(estimate)
