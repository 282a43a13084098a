"""Create, read, change and remove homes; resolve a home's rate plan for the pricing routes."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from agentkeys.clock import Clock, to_millisecond
from agentkeys.db.engine import begin_write
from agentkeys.errors import DomainError, ErrorCode, FieldError, NotFound, ValidationFailed
from agentkeys.sandbox.homes.models import HomeRecord
from agentkeys.sandbox.homes.repository import HomeRepository
from agentkeys.sandbox.homes.schemas import (
    MAX_HOMES_PER_CREDENTIAL,
    CreateClientHomeDto,
    HomeFields,
    ListHomesRequestDto,
    UpdateClientHomeDto,
)
from agentkeys.sandbox.tariffs.model import Catalog, RatePlan, Utility
from agentkeys.sandbox.utility.service import zip5

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


# Fields that place a home: a change to any of them re-checks that its utility serves its ZIP.
_LOCATING_FIELDS = {"zipcode", "utility_id", "deprecated_utility_id", "rate_plan_id"}


class HomeLimitReached(DomainError):
    code = ErrorCode.FORBIDDEN


@dataclass(frozen=True, slots=True)
class PricedHome:
    """A home with the tariff it is billed under."""

    home: HomeRecord
    utility: Utility
    plan: RatePlan

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.utility.timezone)


HOME_ID = re.compile(r"ws_home_[0-9a-f]{32}")


def new_home_id() -> str:
    return "ws_home_" + secrets.token_hex(16)


class HomeService:
    def __init__(self, session: AsyncSession, *, clock: Clock, catalog: Catalog) -> None:
        self._session = session
        self._repository = HomeRepository(session)
        self._clock = clock
        self._catalog = catalog

    async def create_home(self, request: CreateClientHomeDto, *, credential_id: str) -> HomeRecord:
        """A new home owned by ``credential_id``."""
        await self._lock_homes_of(credential_id)
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
        self._repository.add(home)
        await self._repository.flush()
        return home

    async def update_home(
        self, home_id: str, request: UpdateClientHomeDto, *, credential_id: str
    ) -> HomeRecord:
        """Change the fields sent; the rest stay as they are."""
        await self._lock_homes_of(credential_id)
        home = await self.get_home(home_id, credential_id=credential_id)
        sent = request.model_fields_set
        if "name" in sent:
            if request.name is None:
                raise ValidationFailed([FieldError("name", "A home's name cannot be removed")])
            home.name = request.name
        for flag in ("carbon_signal_intensity", "enabled"):
            value = getattr(request, flag)
            if flag in sent and value is not None:
                setattr(home, flag, value)
        self._apply(home, request, fields=sent)
        home.updated_at = to_millisecond(self._clock.now())
        await self._repository.flush()
        return home

    async def remove_home(self, home_id: str, *, credential_id: str) -> HomeRecord:
        """Delete the home and answer it as it was."""
        await self._lock_homes_of(credential_id)
        home = await self.get_home(home_id, credential_id=credential_id)
        await self._repository.delete(home)
        return home

    async def _lock_homes_of(self, credential_id: str) -> None:
        # Read-then-write units of work take the write lock first: the 100-home cap holds under
        # concurrency, and SQLite writers queue instead of failing on a lock upgrade.
        await begin_write(self._session, f"homes:{credential_id}")

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
        return PricedHome(home=home, utility=utility, plan=plan)

    def _apply(self, home: HomeRecord, request: HomeFields, *, fields: set[str]) -> None:
        for name in _PLAIN_FIELDS:
            if name in fields:
                setattr(home, name, getattr(request, name))
        if fields & {"utility_id", "deprecated_utility_id", "rate_plan_id"}:
            utility_id = (
                request.chosen_utility_id()
                if fields & {"utility_id", "deprecated_utility_id"}
                else home.utility_id
            )
            rate_plan_id = request.rate_plan_id if "rate_plan_id" in fields else home.rate_plan_id
            home.utility_id, home.rate_plan_id, home.timezone = self._resolve(
                utility_id, rate_plan_id
            )
        if fields & _LOCATING_FIELDS:
            self._check_territory(home, fields=fields)

    def _check_territory(self, home: HomeRecord, *, fields: set[str]) -> None:
        """Refuse a home whose utility does not serve its ZIP code (kept values count too)."""
        if home.zipcode is None or home.utility_id is None:
            return
        utility = self._catalog.utility(home.utility_id)
        zipcode = zip5(home.zipcode)
        if utility is None or utility.serves(zipcode):
            return
        serving = self._catalog.utilities_for(zipcode)
        offer = (
            "rate plans serving it: "
            + "; ".join(
                f"{other.utility_id} ({other.utility_name}): "
                + ", ".join(plan.id for plan in other.rate_plans)
                for other in serving
            )
            if serving
            else "no sandbox utility serves it"
        )
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
                    f"({utility.utility_name}){plan}; {offer}",
                )
            ]
        )

    def _resolve(
        self, utility_id: str | None, rate_plan_id: str | None
    ) -> tuple[str | None, str | None, str | None]:
        """Check utility and plan against the catalog; the plan's utility wins when none is set."""
        utility = self._catalog.utility(utility_id) if utility_id else None
        if utility_id and utility is None:
            raise ValidationFailed(
                [FieldError("utilityId", f"Unknown utility '{utility_id}'; see /v1/utility/get")]
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
            plan_utility = found[0]
            if utility is not None and plan_utility.utility_id != utility.utility_id:
                raise ValidationFailed(
                    [
                        FieldError(
                            "ratePlanId",
                            f"Rate plan '{rate_plan_id}' belongs to utility "
                            f"'{plan_utility.utility_id}', not '{utility.utility_id}'",
                        )
                    ]
                )
            utility = plan_utility
        if utility is None:
            return None, rate_plan_id, None
        return utility.utility_id, rate_plan_id, utility.timezone
