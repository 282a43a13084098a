"""Find the utilities serving a ZIP code, a ZIP prefix or a place, with their rate plans.

Who serves where comes from the ZIP index (``agentkeys.sandbox.geo``): a ``zip`` match (the
NREL/OpenEI non-IOU ZIP file names the utility for the ZIP) or a ``county`` match (EIA-861 lists
the utility in the ZIP's county). The plans come from the catalog. A utility serving the ZIP but
holding no plan in the catalog (no tariff and no EIA average rate in the public data, e.g. Oncor)
is still listed, last, with no plans: never hidden, never chosen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from agentkeys.errors import FieldError, ValidationFailed
from agentkeys.sandbox.geo import Geography, ServiceAreaMatch
from agentkeys.sandbox.tariffs.model import Catalog, RatePlan
from agentkeys.sandbox.utility.schemas import (
    DEFAULT_RADIUS_MILES,
    MAX_RADIUS_MILES,
    UtilityRequestDTO,
)

# Solar-friendly first: exports credited at the retail price, then at a sell or fixed price,
# then not at all (a stable sort keeps the catalog's order within each).
_SOLAR_ORDER = {"retail": 0, "sell": 1, "fixed": 1, "none": 2}
PREFIX_DIGITS = 3


@dataclass(frozen=True, slots=True)
class UtilityMatch:
    """One utility of an answer: who it is, how it serves the query, and its eligible plans."""

    utility_id: str
    utility_name: str
    state: str
    timezone: str | None
    match: ServiceAreaMatch | None  # None: looked up by utilityId alone
    plans: tuple[RatePlan, ...]
    has_plans: bool  # the catalog holds plans for it (before the effectiveOnDate filter)


@dataclass(slots=True)
class _Candidate:
    utility_id: str
    utility_name: str
    match: ServiceAreaMatch | None
    timezone: str | None = None
    state: str | None = None


def zip5(zipcode: str) -> str:
    """The ZIP code proper: ZIP+4 suffix dropped, extra leading zeros dropped."""
    base = zipcode.replace(" ", "-").split("-", 1)[0]
    return base[-5:] if len(base) > 5 else base


def place_zip(zipcode: str) -> str:
    """The 5-digit ZIP a zipcode field names, as every route reads it: ZIP+4 dropped, a lost
    leading zero put back ("2134" is 02134). A 3-digit prefix names an area, no one place: it
    stays as sent, which no ZIP is."""
    base = zip5(zipcode)
    return base if len(base) == PREFIX_DIGITS else base.zfill(5)


def find_utilities(
    catalog: Catalog, geography: Geography, request: UtilityRequestDTO
) -> list[UtilityMatch]:
    """Utilities matching the request, one page of them, each with its eligible plans."""
    location = _location(request)
    if request.zipcode is None and request.utility_id is None and location is None:
        raise ValidationFailed(
            [FieldError("zipcode", "Provide zipcode, utilityId, or lat and long")]
        )
    if request.zipcode is not None and location is not None:
        raise ValidationFailed([FieldError("lat", "Send zipcode or lat/long, not both")])
    if request.zipcode is not None:
        candidates = _serving_zipcode(geography, request.zipcode)
    elif location is not None:
        candidates = _serving_zips(geography, geography.zips_within(*location))
    else:
        candidates = _by_id(catalog, geography, request.utility_id or "")
    if request.utility_id is not None:
        candidates = [c for c in candidates if c.utility_id == request.utility_id]
    matches = [_with_plans(catalog, geography, candidate, request) for candidate in candidates]
    matches.sort(key=lambda m: _rank(catalog, m))
    first = (request.page_number - 1) * request.page_size
    return matches[first : first + request.page_size]


def _rank(catalog: Catalog, match: UtilityMatch) -> tuple[bool, int, int]:
    """Exact (zip) matches first; then more plans in the catalog (none: last); then the EIA id."""
    utility = catalog.utility(match.utility_id)
    count = len(utility.rate_plans) if utility is not None else 0
    return (match.match != "zip", -count, int(match.utility_id))


def _location(request: UtilityRequestDTO) -> tuple[float, float, float] | None:
    """(lat, long, radius miles) of a location query; None without one. Bad values: 400."""
    if request.lat is None and request.long is None and request.radius is None:
        return None
    errors: list[FieldError] = []
    lat = _number(errors, "lat", request.lat, low=-90, high=90)
    long = _number(errors, "long", request.long, low=-180, high=180)
    radius = (
        DEFAULT_RADIUS_MILES
        if request.radius is None
        else _number(errors, "radius", request.radius, low=0, high=MAX_RADIUS_MILES)
    )
    if radius is not None and radius <= 0:
        errors.append(FieldError("radius", "Must be greater than 0 miles"))
    if errors:
        raise ValidationFailed(errors)
    if lat is None or long is None or radius is None:  # pragma: no cover - errors raised above
        raise ValidationFailed([FieldError("lat", "Send both lat and long")])
    return lat, long, radius


def _number(
    errors: list[FieldError], name: str, value: float | str | None, *, low: float, high: float
) -> float | None:
    if value is None:
        errors.append(FieldError(name, "Send both lat and long (decimal degrees)"))
        return None
    try:
        number = float(value)
    except ValueError:
        errors.append(FieldError(name, "Must be a number (decimal degrees or miles)"))
        return None
    if not math.isfinite(number) or not low <= number <= high:
        errors.append(FieldError(name, f"Must be between {low:g} and {high:g}"))
        return None
    return number


def _serving_zipcode(geography: Geography, zipcode: str) -> list[_Candidate]:
    base = zip5(zipcode)
    if len(base) == PREFIX_DIGITS:
        # A 3-digit prefix: at most 100 ZIPs (prefix + 00-99).
        zips = [f"{base}{n:02d}" for n in range(100)]
        return _serving_zips(geography, [z for z in zips if geography.place(z) is not None])
    place = geography.place(place_zip(base))
    if place is None:
        return []
    return [
        _Candidate(s.utility_id, s.utility_name, s.match, place.timezone, place.state)
        for s in geography.serving(place.zipcode)
    ]


def _serving_zips(geography: Geography, zips: list[str] | tuple[str, ...]) -> list[_Candidate]:
    """The union of the utilities serving several ZIPs; ``zip`` if any ZIP matches by zip."""
    found: dict[str, _Candidate] = {}
    for zipcode in zips:
        for serving in geography.serving(zipcode):
            known = found.get(serving.utility_id)
            if known is None:
                found[serving.utility_id] = _Candidate(
                    serving.utility_id, serving.utility_name, serving.match
                )
            elif serving.match == "zip":
                known.match = "zip"
    return list(found.values())


def _by_id(catalog: Catalog, geography: Geography, utility_id: str) -> list[_Candidate]:
    utility = catalog.utility(utility_id)
    name = utility.utility_name if utility is not None else geography.utility_name(utility_id)
    return [] if name is None else [_Candidate(utility_id, name, None)]


def _with_plans(
    catalog: Catalog, geography: Geography, candidate: _Candidate, request: UtilityRequestDTO
) -> UtilityMatch:
    utility = catalog.utility(candidate.utility_id)
    state = (
        utility.state
        if utility is not None
        else geography.utility_state(candidate.utility_id) or candidate.state or "US"
    )
    return UtilityMatch(
        utility_id=candidate.utility_id,
        utility_name=utility.utility_name if utility is not None else candidate.utility_name,
        state=state,
        timezone=candidate.timezone or geography.utility_timezone(candidate.utility_id),
        match=candidate.match,
        plans=_eligible_plans(utility.rate_plans, request) if utility is not None else (),
        has_plans=utility is not None,
    )


def _eligible_plans(
    plans: tuple[RatePlan, ...], request: UtilityRequestDTO
) -> tuple[RatePlan, ...]:
    eligible = list(plans)
    if request.effective_on_date is not None:
        day = datetime.fromtimestamp(request.effective_on_date, UTC).date()
        eligible = [
            plan for plan in eligible if plan.effective_date is None or plan.effective_date <= day
        ]
    if request.is_solar_prioritized_order:
        eligible.sort(key=lambda plan: _SOLAR_ORDER[plan.export_credit.type])
    return tuple(eligible)
