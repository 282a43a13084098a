"""Home routes: create, list, get, update, remove. Another credential's home is a 404."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from agentkeys.api.deps import ClientNetworkDep
from agentkeys.api.openapi import error_responses, idempotent_openapi
from agentkeys.idempotency.route import IdempotentRoute, idempotent
from agentkeys.sandbox import examples
from agentkeys.sandbox.homes.deps import HomeId, HomeReader, HomeServiceDep, HomeWriter
from agentkeys.sandbox.homes.schemas import (
    ClientHomeDto,
    CreateClientHomeDto,
    CreateSolarDto,
    CreateSolarResponseDto,
    ListHomesRequestDto,
    UpdateClientHomeDto,
)

router = APIRouter(prefix="/v1/homes", tags=["homes"], route_class=IdempotentRoute)


@router.post(
    "/create",
    operation_id="createHome",
    status_code=201,
    summary="Create a home",
    response_model=ClientHomeDto,
    responses=error_responses(400, 401, 403, 409, 422, 429),
    openapi_extra=idempotent_openapi(),
)
@idempotent
async def create_home(
    body: Annotated[CreateClientHomeDto, Body(openapi_examples=examples.CREATE_HOME)],
    credential: HomeWriter,
    service: HomeServiceDep,
    network: ClientNetworkDep,
) -> ClientHomeDto:
    """A sandbox home owned by this credential. Set `zipcode` and `ratePlanId` (from
    `/v1/utility/get` for that ZIP code) to price its energy: the plan's utility must serve the
    ZIP code (by ZIP or by county), and a plan's former id is answered as its current one. The
    home's `timezone` is its ZIP code's (without one, its utility's). Each client
    network writes at most the policy's `[storage.homes]` homes and bytes a day over all its
    keys (then 429 with `Retry-After`)."""
    return ClientHomeDto.of(
        await service.create_home(body, credential_id=credential.id, client_network=network)
    )


@router.post(
    "/solar/create",
    operation_id="createHomeSolar",
    status_code=201,
    summary="Create (or replace) a home's solar system",
    response_model=CreateSolarResponseDto,
    responses=error_responses(400, 401, 403, 404, 429),
)
async def create_solar(
    body: Annotated[CreateSolarDto, Body(openapi_examples=examples.CREATE_SOLAR)],
    credential: HomeWriter,
    service: HomeServiceDep,
    network: ClientNetworkDep,
) -> CreateSolarResponseDto:
    """WattShift's legacy solar route: sets the home's `solarSystemSizeKw` and `isNonNetMetered`
    (as `/v1/homes/{id}/update` does, which WattShift now recommends) and answers `{homeId}`.
    A home of another credential, or none, is 404."""
    home = await service.set_solar(body, credential_id=credential.id, client_network=network)
    return CreateSolarResponseDto(home_id=home.id)


@router.post(
    "/list",
    operation_id="listHomes",
    summary="List this credential's homes",
    response_model=list[ClientHomeDto],
    responses=error_responses(400, 401, 403, 429),
)
async def list_homes(
    credential: HomeReader,
    service: HomeServiceDep,
    body: Annotated[ListHomesRequestDto | None, Body(openapi_examples=examples.LIST_HOMES)] = None,
) -> list[ClientHomeDto]:
    """The homes this credential created, oldest first. No body: all of them (at most 100).
    Optional paging: `{"pageSize": 20, "pageNumber": 2}`; a page shorter than `pageSize` is the
    last."""
    page = body or ListHomesRequestDto()
    homes = await service.list_homes(page, credential_id=credential.id)
    return [ClientHomeDto.of(home) for home in homes]


@router.post(
    "/{id}/get",
    operation_id="getHome",
    summary="Get one home",
    response_model=ClientHomeDto,
    responses=error_responses(401, 403, 404, 429),
)
async def get_home(
    home_id: HomeId, credential: HomeReader, service: HomeServiceDep
) -> ClientHomeDto:
    """One home of this credential."""
    return ClientHomeDto.of(await service.get_home(home_id, credential_id=credential.id))


@router.post(
    "/{id}/update",
    operation_id="ClientHomeCompositeAuthController_updateHome_v1",
    summary="Update a home",
    response_model=ClientHomeDto,
    responses=error_responses(400, 401, 403, 404, 429),
)
async def update_home(
    home_id: HomeId,
    body: Annotated[UpdateClientHomeDto, Body(openapi_examples=examples.UPDATE_HOME)],
    credential: HomeWriter,
    service: HomeServiceDep,
    network: ClientNetworkDep,
) -> ClientHomeDto:
    """Change the fields sent; `null` clears an optional field and is refused (400) for `name`,
    `carbonSignalIntensity` and `enabled`. As on create, a `ratePlanId` sets its utility; a
    `utilityId` sent (or kept) must be the plan's, and `utilityId: null` is accepted only with
    `ratePlanId: null` (or on a home without a plan). The utility must serve the ZIP code; the
    `timezone` follows the ZIP code."""
    return ClientHomeDto.of(
        await service.update_home(
            home_id, body, credential_id=credential.id, client_network=network
        )
    )


@router.post(
    "/{id}/remove",
    operation_id="removeHome",
    summary="Remove a home",
    response_model=ClientHomeDto,
    responses=error_responses(401, 403, 404, 429),
)
async def remove_home(
    home_id: HomeId, credential: HomeWriter, service: HomeServiceDep
) -> ClientHomeDto:
    """Delete the home; the answer is the home as it was."""
    return ClientHomeDto.of(await service.remove_home(home_id, credential_id=credential.id))
