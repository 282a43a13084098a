"""``POST /v1/utility/get`` (scope ``utility:read``)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import TypeAdapter

from agentkeys.api.deps import JsonBodyRoute
from agentkeys.api.openapi import error_responses
from agentkeys.sandbox.utility.deps import CatalogDep, UtilityReader
from agentkeys.sandbox.utility.schemas import UtilityDto, UtilityRequestDTO
from agentkeys.sandbox.utility.service import find_utilities

router = APIRouter(prefix="/v1/utility", tags=["utility"], route_class=JsonBodyRoute)

UTILITY_LIST = TypeAdapter(list[UtilityDto])


@router.post(
    "/get",
    summary="List utilities and rate plans for a ZIP code",
    response_model=list[UtilityDto],
    responses=error_responses(400, 401, 403, 429),
)
async def get_utilities(
    body: UtilityRequestDTO, _credential: UtilityReader, catalog: CatalogDep
) -> Response:
    """Utilities serving a ZIP code (or one utility by id), with their rate plans.

    Send a plan's `id` as `ratePlanId` when creating or updating a home. `detailLevel: full`
    (the default) adds the whole tariff; `minimal` only what is needed to choose. Paged by
    `pageSize` (1-100, default 20) and `pageNumber` (from 1).
    """
    matches = find_utilities(catalog, body)
    full = body.detail_level == "full"
    answer = [UtilityDto.of(utility, plans, full=full) for utility, plans in matches]
    # A hot read route: serialized once by pydantic-core rather than validated again by FastAPI.
    return Response(UTILITY_LIST.dump_json(answer, by_alias=True), media_type="application/json")
