"""Create, read, change and remove homes; resolve a home's rate plan for the pricing routes."""

from __future__ import annotations

import json
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from agentkeys.clock import Clock, to_millisecond
from agentkeys.credentials.policy import StorageBudget
from agentkeys.db.engine import begin_write
from agentkeys.errors import DomainError, ErrorCode, FieldError, NotFound, ValidationFailed
from agentkeys.sandbox.geo import Geography
from agentkeys.sandbox.homes.models import HomeRecord
from agentkeys.sandbox.homes.repository import HomeRepository
from agentkeys.sandbox.homes.schemas import (
    MAX_HOMES_PER_CREDENTIAL,
    CreateClientHomeDto,
    CreateSolarDto,
    HomeFields,
    ListHomesRequestDto,
    UpdateClientHomeDto,
)
from agentkeys.sandbox.tariffs.model import Catalog, RatePlan, Utility
from agentkeys.sandbox.utility.service import place_zip

# Request fields stored as they are (wire name → column); utility and rate plan are resolved.
_PLAIN_FIELDS = (
    "user_id",
    "unstructured_address",
    "client_id",
    "country",
    "city",
    "zipcode",
    "street_address",
    "solar_info",
    "solar_system_size_kw",
    "is_non_net_metered",
    "meter_id",
    "meter_id_source",
    "channel_partner_id",
)


# Fields that place a home: a change to any of them re-checks that its utility serves its ZIP
# and sets its time zone again.
_LOCATING_FIELDS = {"zipcode", "utility_id", "deprecated_utility_id", "rate_plan_id"}
# A refusal names at most this many serving utilities, and this many plans of each: a county
# can hold a dozen utilities with dozens of plans; /v1/utility/get lists them all.
_OFFERED_UTILITIES = 6
_OFFERED_PLANS = 5
# Fields every home has (create sets them): an update may change them, never null them.
_REQUIRED_ON_UPDATE = (
    ("name", "name"),
    ("carbon_signal_intensity", "carbonSignalIntensity"),
    ("enabled", "enabled"),
)


def _utility_field(request: HomeFields, fields: set[str]) -> str:
    """The wire name the client used for the utility (``UtilityId`` is the deprecated one)."""
    return (
        "UtilityId"
        if "utility_id" not in fields and "deprecated_utility_id" in fields
        else "utilityId"
    )


class HomeLimitReached(DomainError):
    code = ErrorCode.FORBIDDEN


class HomeStorageSpent(DomainError):
    code = ErrorCode.RATE_LIMITED


# A home's stored text and JSON: what its size in the network's storage budget counts.
_STORED_COLUMNS = (
    "name",
    *_PLAIN_FIELDS,
    "utility_id",
    "rate_plan_id",
    "timezone",
    "carbon_signal_intensity",
)


def stored_size(home: HomeRecord) -> int:
    """Bytes the home stores: its columns as compact UTF-8 JSON."""
    columns = {column: getattr(home, column) for column in _STORED_COLUMNS}
    return len(json.dumps(columns, ensure_ascii=False, separators=(",", ":")).encode())


@dataclass(frozen=True, slots=True)
class PricedHome:
    """A home with the tariff it is billed under, and the time zone its hours are read in."""

    home: HomeRecord
    utility: Utility
    plan: RatePlan
    timezone_name: str

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone_name)


HOME_ID = re.compile(r"ws_home_[0-9a-f]{32}")


def new_home_id() -> str:
    return "ws_home_" + secrets.token_hex(16)


def serving_offer(catalog: Catalog, geography: Geography, zipcode: str) -> str:
    """The plans that would serve a 5-digit ``zipcode``, bounded, for a refusal's message."""
    if geography.place(zipcode) is None:
        return "it is not a U.S. ZIP code the sandbox covers (5 digits, in the 50 states or DC)"
    billable = [
        utility
        for serving in geography.serving(zipcode)
        if (utility := catalog.utility(serving.utility_id)) is not None
    ]
    if not billable:
        return "no sandbox utility serves it"
    listed = []
    for utility in billable[:_OFFERED_UTILITIES]:
        plans = ", ".join(plan.id for plan in utility.rate_plans[:_OFFERED_PLANS])
        more = len(utility.rate_plans) - _OFFERED_PLANS
        listed.append(
            f"{utility.utility_id} ({utility.utility_name}): {plans}"
            + (f" and {more} more" if more > 0 else "")
        )
    more_utilities = len(billable) - _OFFERED_UTILITIES
    return (
        "rate plans serving it: "
        + "; ".join(listed)
        + (f"; and {more_utilities} more utilities" if more_utilities > 0 else "")
        + " (all of them: /v1/utility/get with this zipcode)"
    )


class HomeService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        clock: Clock,
        catalog: Catalog,
        geography: Geography,
        network_budget: StorageBudget | None = None,
    ) -> None:
        self._session = session
        self._repository = HomeRepository(session)
        self._clock = clock
        self._catalog = catalog
        self._geography = geography
        self._network_budget = network_budget

    async def create_home(
        self,
        request: CreateClientHomeDto,
        *,
        credential_id: str,
        client_network: str | None = None,
    ) -> HomeRecord:
        """A new home owned by ``credential_id``, within its network's storage budget."""
        await self._lock_homes_of(credential_id, client_network)
        if (
            await self._repository.count_owned(credential_id=credential_id)
            >= MAX_HOMES_PER_CREDENTIAL
        ):
            raise HomeLimitReached(
                f"A sandbox credential may own at most {MAX_HOMES_PER_CREDENTIAL} homes.",
                recovery_action="Remove homes you no longer need with /v1/homes/{id}/remove.",
            )
        now = to_millisecond(self._clock.now())
        home = HomeRecord(
            id=new_home_id(),
            credential_id=credential_id,
            created_at=now,
            updated_at=now,
            name=request.name,
            carbon_signal_intensity=request.carbon_signal_intensity or "MEDIUM",
            enabled=True if request.enabled is None else request.enabled,
            energy_market_bidding_enabled=False,
        )
        self._apply(home, request, fields=request.model_fields_set)
        await self._within_network_budget(home, client_network, now=now)
        self._repository.add(home)
        await self._repository.flush()
        return home

    async def update_home(
        self,
        home_id: str,
        request: UpdateClientHomeDto,
        *,
        credential_id: str,
        client_network: str | None = None,
    ) -> HomeRecord:
        """Change the fields sent; the rest stay as they are. Within the network's budget."""
        await self._lock_homes_of(credential_id, client_network)
        home = await self.get_home(home_id, credential_id=credential_id)
        sent = request.model_fields_set
        # Fields every home has: null cannot remove them (any other field sent as null is
        # cleared). Named all at once, before anything changes.
        nulled = [
            wire
            for name, wire in _REQUIRED_ON_UPDATE
            if name in sent and getattr(request, name) is None
        ]
        if nulled:
            raise ValidationFailed(
                [
                    FieldError(wire, "Cannot be removed from a home; omit it to keep it")
                    for wire in nulled
                ]
            )
        if request.name is not None:
            home.name = request.name
        if request.carbon_signal_intensity is not None:
            home.carbon_signal_intensity = request.carbon_signal_intensity
        if request.enabled is not None:
            home.enabled = request.enabled
        self._apply(home, request, fields=sent, updating=True)
        home.updated_at = to_millisecond(self._clock.now())
        await self._within_network_budget(home, client_network, now=home.updated_at)
        await self._repository.flush()
        return home

    async def set_solar(
        self,
        request: CreateSolarDto,
        *,
        credential_id: str,
        client_network: str | None = None,
    ) -> HomeRecord:
        """Set the home's solar system size and net-metering flag (WattShift's legacy
        ``/v1/homes/solar/create``): the same columns create and update write."""
        await self._lock_homes_of(credential_id, client_network)
        home = await self.get_home(request.home_id, credential_id=credential_id)
        home.solar_system_size_kw = request.solar_system_size_kw
        home.is_non_net_metered = request.is_non_net_metered
        home.updated_at = to_millisecond(self._clock.now())
        await self._within_network_budget(home, client_network, now=home.updated_at)
        await self._repository.flush()
        return home

    async def remove_home(self, home_id: str, *, credential_id: str) -> HomeRecord:
        """Delete the home and answer it as it was."""
        await self._lock_homes_of(credential_id)
        home = await self.get_home(home_id, credential_id=credential_id)
        await self._repository.delete(home)
        return home

    async def _lock_homes_of(self, credential_id: str, network: str | None = None) -> None:
        # Read-then-write units of work take the write lock first: the 100-home cap and the
        # network's storage budget hold under concurrency, and SQLite writers queue instead of
        # failing on a lock upgrade.
        names = [f"homes:{credential_id}"]
        if network is not None:
            names.append(f"storage:homes:{network}")
        await begin_write(self._session, *names)

    async def _within_network_budget(
        self, home: HomeRecord, network: str | None, *, now: datetime
    ) -> None:
        """Stamp the home with its writer's network and size; refuse it (429) when the network
        has written its budget of homes in the window. A home counts once, in the window of
        its last write, so an update replaces its own earlier size."""
        home.stored_bytes = stored_size(home)
        if network is None:
            return
        home.client_network = network
        budget = self._network_budget
        if budget is None:
            return
        stored = await self._repository.written_by_network(
            network, since=now - budget.window, excluding=home.id
        )
        wait = budget.wait_for(stored, home.stored_bytes, now=now)
        if wait is None:
            return
        hours = budget.window.total_seconds() / 3600
        raise HomeStorageSpent(
            f"This client network ({network}) has written {len(stored)} homes "
            f"({sum(size for _, size in stored)} bytes) in the last {hours:g} hours over all its "
            f"keys; the sandbox stores at most {budget.rows} homes and {budget.bytes} bytes "
            "written per network in that time.",
            recovery_action=f"Create or change homes again after {math.ceil(wait)} seconds.",
            retry_after_seconds=wait,
        )

    async def list_homes(
        self, page: ListHomesRequestDto, *, credential_id: str
    ) -> list[HomeRecord]:
        """One page of the credential's homes, oldest first."""
        homes = await self._repository.list_owned(
            credential_id=credential_id,
            offset=(page.page_number - 1) * page.page_size,
            limit=page.page_size,
        )
        return list(homes)

    async def get_home(self, home_id: str, *, credential_id: str) -> HomeRecord:
        """The home, if this credential owns it; otherwise 404, whether or not it exists."""
        # An id of another shape cannot exist: answered without a query, so no path text (a NUL,
        # megabytes) ever reaches the database.
        home = (
            await self._repository.get_owned(home_id, credential_id=credential_id)
            if HOME_ID.fullmatch(home_id)
            else None
        )
        if home is None:
            raise NotFound(
                f"No home '{home_id}' belongs to this credential.",
                recovery_action="List your homes with /v1/homes/list.",
            )
        return home

    async def priced_home(self, home_id: str, *, credential_id: str) -> PricedHome:
        """The home and its rate plan, for bills, price signals and battery estimates."""
        home = await self.get_home(home_id, credential_id=credential_id)
        found = self._catalog.plan(home.rate_plan_id) if home.rate_plan_id else None
        if found is None:
            raise ValidationFailed(
                [
                    FieldError(
                        "ratePlanId",
                        "The home has no rate plan; set one with /v1/homes/{id}/update "
                        "(a ratePlans[].id from /v1/utility/get)",
                    )
                ]
            )
        utility, plan = found
        timezone = home.timezone or self._geography.utility_timezone(utility.utility_id)
        if timezone is None:
            raise ValidationFailed(
                [
                    FieldError(
                        "zipcode",
                        "The home's time zone is unknown; set its zipcode with "
                        "/v1/homes/{id}/update",
                    )
                ]
            )
        return PricedHome(home=home, utility=utility, plan=plan, timezone_name=timezone)

    def _apply(
        self, home: HomeRecord, request: HomeFields, *, fields: set[str], updating: bool = False
    ) -> None:
        """Set the fields sent. Create and update follow one rule for utility and plan: a plan
        sets its utility; a utility sent with it (or kept with a kept plan) must be the plan's;
        the utility must serve the ZIP code."""
        for name in _PLAIN_FIELDS:
            if name in fields:
                setattr(home, name, getattr(request, name))
        utility_sent = fields & {"utility_id", "deprecated_utility_id"}
        plan_sent = "rate_plan_id" in fields
        if utility_sent or plan_sent:
            utility_field = _utility_field(request, fields)
            if (
                request.utility_id is not None
                and request.deprecated_utility_id is not None
                and request.utility_id != request.deprecated_utility_id
            ):
                raise ValidationFailed(
                    [
                        FieldError(
                            "UtilityId",
                            f"Says utility '{request.deprecated_utility_id}' but utilityId says "
                            f"'{request.utility_id}'; send one of them (utilityId)",
                        )
                    ]
                )
            if updating and utility_sent and request.chosen_utility_id() is None:
                self._refuse_null_utility(home, request, utility_field=utility_field)
            rate_plan_id = request.rate_plan_id if plan_sent else home.rate_plan_id
            if utility_sent:
                utility_id = request.chosen_utility_id()
            elif request.rate_plan_id is not None:
                utility_id = None  # the new plan sets the utility, as on create
            else:
                utility_id = home.utility_id  # the plan is cleared; the utility stays
            home.utility_id, home.rate_plan_id = self._resolve(
                utility_id,
                rate_plan_id,
                utility_field=utility_field,
                mismatch_field="ratePlanId" if plan_sent else utility_field,
            )
        if fields & _LOCATING_FIELDS:
            self._check_territory(home, fields=fields)
            home.timezone = self._timezone_of(home)

    def _timezone_of(self, home: HomeRecord) -> str | None:
        """Where the home is: its ZIP's time zone; without a known ZIP, its utility's (the most
        common time zone of the ZIPs it serves); else none."""
        place = self._geography.place(place_zip(home.zipcode)) if home.zipcode else None
        if place is not None:
            return place.timezone
        if home.utility_id is not None:
            return self._geography.utility_timezone(home.utility_id)
        return None

    @staticmethod
    def _refuse_null_utility(home: HomeRecord, request: HomeFields, *, utility_field: str) -> None:
        """``utilityId: null`` clears the utility only where no plan remains to set it."""
        sent_plan = "rate_plan_id" in request.model_fields_set
        if sent_plan and request.rate_plan_id is not None:
            message = "Cannot be null beside a ratePlanId; omit it: the plan sets its utility"
        elif not sent_plan and home.rate_plan_id is not None:
            message = (
                f"Cannot be removed while the home has rate plan '{home.rate_plan_id}'; send "
                "ratePlanId: null with it to remove both, or another ratePlanId to move the home"
            )
        else:
            return
        raise ValidationFailed([FieldError(utility_field, message)])

    def _check_territory(self, home: HomeRecord, *, fields: set[str]) -> None:
        """Refuse a home whose utility does not serve its ZIP code (kept values count too): a
        utility serves the ZIPs the geography gives it, by ZIP (non-IOU file) or by county
        (EIA-861 territory)."""
        if home.zipcode is None or home.utility_id is None:
            return
        utility = self._catalog.utility(home.utility_id)
        zipcode = place_zip(home.zipcode)
        serving = self._geography.serving(zipcode)
        if utility is None or any(s.utility_id == utility.utility_id for s in serving):
            return
        named = next(
            wire
            for name, wire in (
                ("zipcode", "zipcode"),
                ("rate_plan_id", "ratePlanId"),
                ("utility_id", "utilityId"),
                ("deprecated_utility_id", "UtilityId"),
            )
            if name in fields
        )
        plan = f" of rate plan '{home.rate_plan_id}'" if home.rate_plan_id else ""
        raise ValidationFailed(
            [
                FieldError(
                    named,
                    f"ZIP code {home.zipcode} is not served by utility '{utility.utility_id}' "
                    f"({utility.utility_name}){plan}; "
                    + serving_offer(self._catalog, self._geography, zipcode),
                )
            ]
        )

    def _resolve(
        self,
        utility_id: str | None,
        rate_plan_id: str | None,
        *,
        utility_field: str = "utilityId",
        mismatch_field: str = "ratePlanId",
    ) -> tuple[str | None, str | None]:
        """Check utility and plan against the catalog; the plan's utility wins when none is set.
        A plan's former id (``Catalog.legacy_ids``) is accepted and stored as its current id."""
        utility = self._catalog.utility(utility_id) if utility_id else None
        if utility_id and utility is None:
            raise ValidationFailed(
                [FieldError(utility_field, f"Unknown utility '{utility_id}'; see /v1/utility/get")]
            )
        if rate_plan_id:
            found = self._catalog.plan(rate_plan_id)
            if found is None:
                raise ValidationFailed(
                    [
                        FieldError(
                            "ratePlanId",
                            f"Unknown rate plan '{rate_plan_id}'; send a ratePlans[].id "
                            "from /v1/utility/get",
                        )
                    ]
                )
            plan_utility, plan = found
            if utility is not None and plan_utility.utility_id != utility.utility_id:
                raise ValidationFailed(
                    [
                        FieldError(
                            mismatch_field,
                            f"Rate plan '{rate_plan_id}' belongs to utility "
                            f"'{plan_utility.utility_id}', not '{utility.utility_id}'; send "
                            f"a ratePlanId of '{utility.utility_id}' (see /v1/utility/get)",
                        )
                    ]
                )
            utility = plan_utility
            rate_plan_id = plan.id
        if utility is None:
            return None, rate_plan_id
        return utility.utility_id, rate_plan_id
