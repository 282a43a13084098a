"""``AsyncAgentKeysClient``: the methods of ``AgentKeysClient``, async, on ``httpx.AsyncClient``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self, TypeVar

import httpx

from agentkeys.client import calls
from agentkeys.client.base import ClientBase
from agentkeys.client.calls import Body, Call
from agentkeys.client.errors import AgentKeysError
from agentkeys.client.retries import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_MAX_WAIT_SECONDS,
    answer_of,
    retry_after,
)
from agentkeys.credentials.schemas import (
    AgentCredentialResponseDto,
    AgentCredentialRevocationResponseDto,
    AgentCredentialSelfResponseDto,
    CreateAgentCredentialRequestDto,
    RevokeAgentCredentialRequestDto,
)
from agentkeys.sandbox.battery.schemas import (
    BatteryAnnualEstimatedSavingsRequestDto,
    BatteryEstimatedSavingsResponseDto,
)
from agentkeys.sandbox.bills.schemas import (
    BillResponseDto,
    MonthlyBillRequestDto,
    PeriodBillRequestDto,
    PeriodBillWithHomeRequestDto,
)
from agentkeys.sandbox.feedback.schemas import CreateFeedbackDto, FeedbackReceivedDto
from agentkeys.sandbox.homes.schemas import (
    ClientHomeDto,
    CreateClientHomeDto,
    CreateSolarDto,
    CreateSolarResponseDto,
    ListHomesRequestDto,
    UpdateClientHomeDto,
)
from agentkeys.sandbox.impact.schemas import (
    HomeImpactRequestDto,
    ImpactRequestDto,
    ImpactResponseDto,
)
from agentkeys.sandbox.price_signal.open_adr import OpenAdrEventDto
from agentkeys.sandbox.price_signal.schemas import (
    GetPriceSignalRequestDto,
    GetPriceSignalResponseDto,
)
from agentkeys.sandbox.utility.schemas import UtilityDto, UtilityRequestDTO

T = TypeVar("T")


class AsyncAgentKeysClient(ClientBase):
    """``async with AsyncAgentKeysClient(url, api_key=key) as client: await client.whoami()``.

    Errors are ``AgentKeysError``; a 429 (or ``outcome: rate_limited``) is sent again after its
    ``Retry-After``, at most ``max_retries`` times and ``max_wait_seconds`` in all.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS,
        timeout_seconds: float = 60.0,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(
            base_url,
            api_key=api_key,
            max_retries=max_retries,
            max_wait_seconds=max_wait_seconds,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout_seconds)
        self._sleep = sleep

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections (not an ``http_client`` passed in: its owner closes it)."""
        if self._owns_http:
            await self._http.aclose()

    async def send(self, call: Call[T]) -> T:
        """Send ``call``, again after each ``Retry-After`` within the budget; its answer."""
        retries_done, waited = 0, 0.0
        while True:
            try:
                response = await self._http.request(
                    call.method, self.url(call), **self.options(call)
                )
            except httpx.TransportError as error:
                raise AgentKeysError.transport(error) from error
            wait = self.budget.next_wait(
                retry_after(call, response), retries_done=retries_done, waited=waited
            )
            if wait is None:
                return answer_of(call, response)
            await self._sleep(wait)
            retries_done, waited = retries_done + 1, waited + wait

    # Credentials

    async def request_credential(
        self, body: Body[CreateAgentCredentialRequestDto], *, use_issued_key: bool = True
    ) -> AgentCredentialResponseDto:
        """Ask for a sandbox key (no key needed). Always an answer, whatever its ``outcome``;
        when ``issued`` and ``use_issued_key``, this client sends that key from now on."""
        answer = await self.send(calls.request_credential(body))
        self.adopt(answer, use_issued_key=use_issued_key)
        return answer

    async def whoami(self) -> AgentCredentialSelfResponseDto:
        """The key's credential: id, scopes, lifetime (never the secret)."""
        return await self.send(calls.whoami())

    async def revoke_credential(
        self,
        credential_id: str | None = None,
        *,
        body: Body[RevokeAgentCredentialRequestDto] | None = None,
    ) -> AgentCredentialRevocationResponseDto:
        """Revoke a credential (by default the key's own, found with ``whoami``)."""
        chosen = credential_id or (await self.whoami()).credential_id
        return await self.send(calls.revoke_credential(chosen, body))

    # Sandbox

    async def lookup_utility(self, body: Body[UtilityRequestDTO]) -> list[UtilityDto]:
        return await self.send(calls.lookup_utility(body))

    async def create_home(self, body: Body[CreateClientHomeDto]) -> ClientHomeDto:
        return await self.send(calls.create_home(body))

    async def create_solar(self, body: Body[CreateSolarDto]) -> CreateSolarResponseDto:
        return await self.send(calls.create_solar(body))

    async def list_homes(
        self, body: Body[ListHomesRequestDto] | None = None
    ) -> list[ClientHomeDto]:
        return await self.send(calls.list_homes(body))

    async def get_home(self, home_id: str) -> ClientHomeDto:
        return await self.send(calls.get_home(home_id))

    async def update_home(self, home_id: str, body: Body[UpdateClientHomeDto]) -> ClientHomeDto:
        return await self.send(calls.update_home(home_id, body))

    async def remove_home(self, home_id: str) -> ClientHomeDto:
        return await self.send(calls.remove_home(home_id))

    async def monthly_bill(
        self, home_id: str, body: Body[MonthlyBillRequestDto]
    ) -> BillResponseDto:
        return await self.send(calls.monthly_bill(home_id, body))

    async def period_bill(self, home_id: str, body: Body[PeriodBillRequestDto]) -> BillResponseDto:
        return await self.send(calls.period_bill(home_id, body))

    async def inline_home_period_bill(
        self, body: Body[PeriodBillWithHomeRequestDto]
    ) -> BillResponseDto:
        return await self.send(calls.inline_home_period_bill(body))

    async def rate_plan_quote(
        self, rate_plan_id: str, body: Body[PeriodBillRequestDto]
    ) -> BillResponseDto:
        return await self.send(calls.rate_plan_quote(rate_plan_id, body))

    async def home_bill_impact(
        self, home_id: str, body: Body[HomeImpactRequestDto]
    ) -> ImpactResponseDto:
        return await self.send(calls.home_bill_impact(home_id, body))

    async def bill_impact(self, body: Body[ImpactRequestDto]) -> ImpactResponseDto:
        return await self.send(calls.bill_impact(body))

    async def price_signal(
        self, home_id: str, body: Body[GetPriceSignalRequestDto] | None = None
    ) -> GetPriceSignalResponseDto:
        return await self.send(calls.price_signal(home_id, body))

    async def price_signal_open_adr(
        self, home_id: str, body: Body[GetPriceSignalRequestDto] | None = None
    ) -> OpenAdrEventDto:
        return await self.send(calls.price_signal_open_adr(home_id, body))

    async def battery_estimate(
        self, home_id: str, body: Body[BatteryAnnualEstimatedSavingsRequestDto]
    ) -> BatteryEstimatedSavingsResponseDto:
        return await self.send(calls.battery_estimate(home_id, body))

    async def send_feedback(self, body: Body[CreateFeedbackDto]) -> FeedbackReceivedDto:
        return await self.send(calls.send_feedback(body))
