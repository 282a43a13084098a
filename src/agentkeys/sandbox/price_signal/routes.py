"""``POST /v1/homes/{id}/price_signal`` and its OpenADR 3.0 form ``.../price_signal/open_adr``
(scope ``price_signal:read``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from agentkeys.api.deps import JsonBodyRoute
from agentkeys.api.openapi import error_responses
from agentkeys.sandbox import examples
from agentkeys.sandbox.homes.deps import HomeId
from agentkeys.sandbox.price_signal.deps import PriceReader, PriceSignalServiceDep
from agentkeys.sandbox.price_signal.open_adr import OpenAdrEventDto
from agentkeys.sandbox.price_signal.schemas import (
    GetPriceSignalRequestDto,
    GetPriceSignalResponseDto,
)

router = APIRouter(prefix="/v1/homes", tags=["price signal"], route_class=JsonBodyRoute)


@router.post(
    "/{id}/price_signal",
    operation_id="getHomePriceSignal",
    summary="Get a home's 15-minute price signal",
    response_model=GetPriceSignalResponseDto,
    responses=error_responses(400, 401, 403, 404, 429),
)
async def get_price_signal(
    home_id: HomeId,
    credential: PriceReader,
    service: PriceSignalServiceDep,
    body: Annotated[
        GetPriceSignalRequestDto | None, Body(openapi_examples=examples.PRICE_SIGNAL)
    ] = None,
) -> GetPriceSignalResponseDto:
    """Import and export $/kWh per quarter-hour from the home's rate plan, for `startTime` to
    `endTime` (both or neither; default the next 24 hours, at most 31 days). A time without an
    offset is the home's local time (its `timezone`, from its ZIP code); the answer's times are
    UTC. Daylight-saving days have 92 or 100 quarter-hours."""
    window = body.window() if body is not None else None
    signal = await service.price_signal(home_id, window, credential_id=credential.id)
    return GetPriceSignalResponseDto.of(
        home_id=home_id,
        timezone=signal.priced.timezone_name,
        start=signal.start,
        end=signal.end,
        points=signal.points,
    )


@router.post(
    "/{id}/price_signal/open_adr",
    operation_id="getHomePriceSignalOpenAdr",
    summary="Get a home's 15-minute price signal as an OpenADR 3.0 event",
    response_model=OpenAdrEventDto,
    responses=error_responses(400, 401, 403, 404, 429),
)
async def get_price_signal_open_adr(
    home_id: HomeId,
    credential: PriceReader,
    service: PriceSignalServiceDep,
    body: Annotated[
        GetPriceSignalRequestDto | None, Body(openapi_examples=examples.PRICE_SIGNAL)
    ] = None,
) -> OpenAdrEventDto:
    """The prices of `/price_signal` for the same body, as an OpenADR 3.0 `event`: one interval per
    quarter-hour (ids from 0, each `PT15M` from the event's `intervalPeriod.start`), each with a
    `PRICE` payload (import $/kWh) and, when the plan credits exports, an `EXPORT_PRICE` payload.
    `programID` is the home's rate plan."""
    window = body.window() if body is not None else None
    signal = await service.price_signal(home_id, window, credential_id=credential.id)
    return OpenAdrEventDto.of(
        home_id=home_id, plan=signal.priced.plan, start=signal.start, points=signal.points
    )
