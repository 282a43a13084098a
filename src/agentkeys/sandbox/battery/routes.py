"""``POST /v1/homes/{id}/battery/estimate_savings`` (scope ``battery:estimate``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from agentkeys.api.deps import SessionDep, app_context, require_scopes
from agentkeys.api.responses import error_responses
from agentkeys.credentials.identity import AuthenticatedCredential
from agentkeys.sandbox.battery.schemas import (
    BatteryAnnualEstimatedSavingsRequestDto,
    BatteryEstimatedSavingsResponseDto,
)
from agentkeys.sandbox.battery.service import BatteryService, EstimatorQueue
from agentkeys.sandbox.homes.routes import HomeId, HomeServiceDep

router = APIRouter(prefix="/v1/homes", tags=["battery"])

BatteryEstimator = Annotated[AuthenticatedCredential, Depends(require_scopes("battery:estimate"))]


def estimator_queue(request: Request) -> EstimatorQueue:
    """The app's one queue, around its CPU slots (made on first use; no await in between)."""
    state = request.app.state
    queue: EstimatorQueue | None = getattr(state, "battery_queue", None)
    if queue is None:
        queue = EstimatorQueue(app_context(request).cpu_slots)
        state.battery_queue = queue
    return queue


async def battery_service(
    request: Request, homes: HomeServiceDep, session: SessionDep
) -> BatteryService:
    return BatteryService(
        homes,
        clock=app_context(request).clock,
        queue=estimator_queue(request),
        # Read-only: closing ends the read transaction and returns the pooled connection; the
        # unit of work's commit afterwards has nothing to do.
        release_session=session.close,
    )


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
    to whole months. `assumptions` says what was simulated. One estimate runs at a time per
    credential (a second one meanwhile: 429); when the estimator's queue is full: 503. Both
    carry `Retry-After`."""
    estimate = await service.estimate_savings(
        home_id, body.parameters(), credential_id=credential.id
    )
    return BatteryEstimatedSavingsResponseDto.of(estimate)
