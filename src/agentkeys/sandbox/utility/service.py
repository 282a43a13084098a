"""Find utilities and their rate plans in the sandbox catalog."""

from __future__ import annotations

from datetime import UTC, datetime

from agentkeys.errors import FieldError, ValidationFailed
from agentkeys.sandbox.tariffs.model import Catalog, RatePlan, Utility
from agentkeys.sandbox.utility.schemas import UtilityRequestDTO

# Solar-friendly first: plans crediting exports at the retail price, then fixed, then none.
_SOLAR_ORDER = {"retail": 0, "fixed": 1, "none": 2}


def zip5(zipcode: str) -> str:
    """The ZIP code proper: ZIP+4 suffix dropped, extra leading zeros dropped."""
    base = zipcode.replace(" ", "-").split("-", 1)[0]
    return base[-5:] if len(base) > 5 else base


def find_utilities(
    catalog: Catalog, request: UtilityRequestDTO
) -> list[tuple[Utility, list[RatePlan]]]:
    """Utilities matching the request, one page of them, each with its eligible plans."""
    refused = [
        FieldError(name, "Not served by the sandbox; look utilities up by zipcode or utilityId")
        for name, value in (
            ("lat", request.lat),
            ("long", request.long),
            ("radius", request.radius),
        )
        if value is not None
    ]
    if request.zipcode is None and request.utility_id is None:
        refused.append(FieldError("zipcode", "Provide zipcode or utilityId"))
    if refused:
        raise ValidationFailed(refused)
    utilities = list(
        catalog.utilities
        if request.zipcode is None
        else catalog.utilities_for(zip5(request.zipcode))
    )
    if request.utility_id is not None:
        utilities = [u for u in utilities if u.utility_id == request.utility_id]
    first = (request.page_number - 1) * request.page_size
    page = utilities[first : first + request.page_size]
    return [(utility, _eligible_plans(utility, request)) for utility in page]


def _eligible_plans(utility: Utility, request: UtilityRequestDTO) -> list[RatePlan]:
    plans = list(utility.rate_plans)
    if request.effective_on_date is not None:
        day = datetime.fromtimestamp(request.effective_on_date, UTC).date()
        plans = [plan for plan in plans if plan.effective_date <= day]
    if request.is_solar_prioritized_order:
        plans.sort(key=lambda plan: _SOLAR_ORDER[plan.export_credit.type])
    return plans
