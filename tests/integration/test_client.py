"""``agentkeys.client``: each route group through the async client on the app in process, the
error envelope as exception fields, retries after ``Retry-After``, and the sync client against
a real ``agentkeys serve`` process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentkeys.client import (
    TRANSPORT_ERROR,
    UNEXPECTED_RESPONSE,
    AgentKeysClient,
    AgentKeysError,
    AsyncAgentKeysClient,
)
from agentkeys.clock import FrozenClock
from agentkeys.credentials.policy import Quota
from agentkeys.credentials.schemas import CreateAgentCredentialRequestDto
from agentkeys.sandbox.bills.schemas import MonthlyBillRequestDto
from agentkeys.sandbox.homes.schemas import CreateClientHomeDto, UpdateClientHomeDto
from tests.support.app import AppFactory, client_for
from tests.support.catalog import E_TOU_C, NO_SUCH_HOME, PGE, ZIP_OF_PLAN
from tests.support.databases import ServedDatabase
from tests.support.factories import SEED_REQUEST, credential_request
from tests.support.policies import relaxed_policy, with_quotas, with_request_rate
from tests.support.servers import running_server

BASE_URL = "http://agentkeys.test"
SLOTS = 96
# 0.25 kWh in every quarter-hour: 24 kWh a day.
FLAT_DAY = [0.25] * SLOTS
BATTERY = {
    "days": 1,
    "maxCapacityKiloWattHours": 13.5,
    "chargingPowerKiloWatts": 5,
    "dischargingPowerKiloWatts": 5,
    "chargingEfficiency": 0.95,
    "dischargingEfficiency": 0.95,
    "currentSOC": 0.5,
    "minPreferredSOC": 0.2,
    "maxPreferredSOC": 0.9,
    "months": [1],
}


@pytest.fixture
async def agent(make_app: AppFactory) -> AsyncIterator[AsyncAgentKeysClient]:
    """A client without a key, on the app (every quota relaxed) in process."""
    async with client_for(make_app(policy=relaxed_policy())) as http:
        yield AsyncAgentKeysClient(BASE_URL, http_client=http)


async def with_key(agent: AsyncAgentKeysClient, *scopes: str) -> AsyncAgentKeysClient:
    answer = await agent.request_credential(credential_request(requested_scopes=list(scopes)))
    assert answer.outcome == "issued", answer
    return agent


async def new_home(agent: AsyncAgentKeysClient) -> str:
    home = await agent.create_home(
        CreateClientHomeDto.model_validate(
            {"name": "Client Home", "ratePlanId": E_TOU_C, "zipcode": ZIP_OF_PLAN[E_TOU_C]}
        )
    )
    return home.id


class TestCredentials:
    async def test_an_issued_key_is_used_from_then_on_and_never_shown(
        self, agent: AsyncAgentKeysClient
    ) -> None:
        answer = await agent.request_credential(
            CreateAgentCredentialRequestDto.model_validate(SEED_REQUEST)
        )

        assert answer.outcome == "issued"
        assert answer.credential is not None
        me = await agent.whoami()
        assert me.credential_id == answer.credential_id
        assert me.scopes == ["calculate", "homes"]
        assert answer.credential not in repr(agent)
        assert "api_key=set" in repr(agent)

    async def test_needs_more_info_is_an_answer_naming_what_to_add(
        self, agent: AsyncAgentKeysClient
    ) -> None:
        answer = await agent.request_credential(credential_request(user_email=None))

        assert answer.outcome == "needs_more_info"
        assert answer.missing_fields == ["user_email"]
        assert answer.credential is None
        assert not agent.has_api_key

    async def test_a_key_is_not_adopted_when_asked_not_to(
        self, agent: AsyncAgentKeysClient
    ) -> None:
        answer = await agent.request_credential(credential_request(), use_issued_key=False)

        assert answer.outcome == "issued"
        assert not agent.has_api_key

    async def test_revoking_the_own_key_then_it_is_refused(
        self, agent: AsyncAgentKeysClient
    ) -> None:
        await with_key(agent, "homes")
        me = await agent.whoami()

        revoked = await agent.revoke_credential(body={"reason": "done"})

        assert revoked.outcome == "revoked"
        assert revoked.credential_id == me.credential_id
        with pytest.raises(AgentKeysError) as refused:
            await agent.whoami()
        assert refused.value.status_code == 401
        assert refused.value.error_code == "AUTH_REVOKED_CREDENTIAL"


class TestSandboxRoutes:
    async def test_utility_lookup(self, agent: AsyncAgentKeysClient) -> None:
        await with_key(agent, "utility:read")

        utilities = await agent.lookup_utility({"zipcode": ZIP_OF_PLAN[E_TOU_C]})

        pge = next(utility for utility in utilities if utility.utility_id == PGE)
        assert E_TOU_C in {plan.id for plan in pge.rate_plans}

    async def test_homes_create_list_get_update_solar_remove(
        self, agent: AsyncAgentKeysClient
    ) -> None:
        await with_key(agent, "homes")
        home_id = await new_home(agent)

        listed = await agent.list_homes()
        got = await agent.get_home(home_id)
        updated = await agent.update_home(
            home_id, UpdateClientHomeDto.model_validate({"name": "Renamed", "city": None})
        )
        solar = await agent.create_solar({"homeId": home_id, "solarSystemSizeKw": 4.5})
        with_solar = await agent.get_home(home_id)
        removed = await agent.remove_home(home_id)

        assert [home.id for home in listed] == [home_id]
        assert got.rate_plan_id == E_TOU_C
        assert updated.name == "Renamed"
        assert solar.home_id == home_id
        assert with_solar.solar_system_size_kw == 4.5
        assert removed.id == home_id
        assert await agent.list_homes({"pageSize": 10}) == []

    async def test_bills_monthly_period_inline_home_and_quote(
        self, agent: AsyncAgentKeysClient
    ) -> None:
        await with_key(agent, "homes", "calculate")
        home_id = await new_home(agent)
        two_days = {
            "usage": [FLAT_DAY, FLAT_DAY],
            "startDate": "2026-03-02",
            "endDate": "2026-03-04",
        }

        monthly = await agent.monthly_bill(
            home_id,
            MonthlyBillRequestDto.model_validate(
                {"usage": [FLAT_DAY] * 31, "month": 3, "year": 2026}
            ),
        )
        period = await agent.period_bill(home_id, two_days)
        inline = await agent.inline_home_period_bill(
            {**two_days, "home": {"ratePlanId": E_TOU_C, "zipcode": ZIP_OF_PLAN[E_TOU_C]}}
        )
        march = {"usage": [FLAT_DAY] * 31, "startDate": "2026-03-01", "endDate": "2026-04-01"}
        quote = await agent.rate_plan_quote(E_TOU_C, march)

        # March: 31 days x 96 quarter-hours x 0.25 kWh = 744 kWh; two days: 48 kWh.
        assert (monthly.days, monthly.import_kwh, monthly.rate_plan_id) == (31, 744.0, E_TOU_C)
        assert (period.days, period.import_kwh) == (2, 48.0)
        # The same plan, days and usage, whether the home is stored or described inline.
        assert inline.bill_total == period.bill_total
        assert quote.bill_total == monthly.bill_total

    async def test_impact_with_a_home_and_without(self, agent: AsyncAgentKeysClient) -> None:
        await with_key(agent, "homes", "calculate")
        home_id = await new_home(agent)
        period = {"usage": [FLAT_DAY], "startDate": "2026-03-02", "endDate": "2026-03-03"}

        unchanged = await agent.home_bill_impact(home_id, {**period, "modifiedUsage": [FLAT_DAY]})
        halved = await agent.bill_impact(
            {
                **period,
                "ratePlanId": E_TOU_C,
                "zipcode": ZIP_OF_PLAN[E_TOU_C],
                "modifiedUsage": [[0.125] * SLOTS],
            }
        )

        # The same load twice saves nothing; half the load saves something.
        assert unchanged.savings == 0.0
        assert halved.savings > 0
        # 24 kWh a day baseline, 12 kWh modified.
        assert (halved.baseline.import_kwh, halved.modified.import_kwh) == (24.0, 12.0)

    async def test_price_signal_and_its_open_adr_form(self, agent: AsyncAgentKeysClient) -> None:
        await with_key(agent, "homes", "price_signal:read")
        home_id = await new_home(agent)
        hour = {"startTime": "2026-03-02T00:00:00Z", "endTime": "2026-03-02T01:00:00Z"}

        signal = await agent.price_signal(home_id, hour)
        event = await agent.price_signal_open_adr(home_id, hour)

        # One hour: four quarter-hours.
        assert len(signal.prices) == 4
        assert len(event.intervals) == 4
        assert signal.home_id == home_id

    async def test_battery_estimate(self, agent: AsyncAgentKeysClient) -> None:
        await with_key(agent, "homes", "calculate")
        home_id = await new_home(agent)

        estimate = await agent.battery_estimate(home_id, BATTERY)

        assert [month.month for month in estimate.months] == [1]
        assert estimate.months[0].days_simulated == 1

    async def test_feedback(self, agent: AsyncAgentKeysClient) -> None:
        await with_key(agent, "feedback:write")

        received = await agent.send_feedback({"name": "agent", "message": "The client works."})

        assert received.received is True
        assert received.follow_up.requested is False


class TestErrors:
    async def test_a_refusal_carries_every_field_of_the_envelope(
        self, agent: AsyncAgentKeysClient
    ) -> None:
        await with_key(agent, "homes")

        with pytest.raises(AgentKeysError) as refused:
            await agent.create_home({"ratePlanId": E_TOU_C})

        error = refused.value
        assert error.status_code == 400
        assert error.error_code == "VALIDATION_FAILED"
        assert [problem.field for problem in error.field_errors] == ["name"]
        assert error.recovery_action
        assert error.request_id
        assert error.retry_after_seconds is None
        assert "name" in str(error)

    async def test_a_missing_scope_is_403(self, agent: AsyncAgentKeysClient) -> None:
        await with_key(agent, "utility:read")

        with pytest.raises(AgentKeysError) as refused:
            await agent.list_homes()

        assert (refused.value.status_code, refused.value.error_code) == (
            403,
            "AUTH_INSUFFICIENT_SCOPE",
        )

    async def test_another_credentials_home_or_none_is_404(
        self, agent: AsyncAgentKeysClient
    ) -> None:
        await with_key(agent, "homes")

        with pytest.raises(AgentKeysError) as refused:
            await agent.get_home(NO_SUCH_HOME)

        assert (refused.value.status_code, refused.value.error_code) == (404, "NOT_FOUND")

    async def test_no_key_is_401(self, agent: AsyncAgentKeysClient) -> None:
        with pytest.raises(AgentKeysError) as refused:
            await agent.whoami()

        assert refused.value.error_code == "AUTH_MISSING_API_KEY"

    async def test_an_answer_that_is_no_envelope(self) -> None:
        def gateway(request: httpx.Request) -> httpx.Response:
            return httpx.Response(502, text="<html>Bad Gateway</html>")

        async with httpx.AsyncClient(transport=httpx.MockTransport(gateway)) as http:
            client = AsyncAgentKeysClient(BASE_URL, api_key="k", http_client=http)
            with pytest.raises(AgentKeysError) as refused:
                await client.whoami()

        assert (refused.value.status_code, refused.value.error_code) == (502, UNEXPECTED_RESPONSE)
        assert "Bad Gateway" in refused.value.message

    async def test_no_server_is_a_transport_error(self) -> None:
        def unreachable(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        async with httpx.AsyncClient(transport=httpx.MockTransport(unreachable)) as http:
            client = AsyncAgentKeysClient(BASE_URL, http_client=http)
            with pytest.raises(AgentKeysError) as refused:
                await client.whoami()

        assert (refused.value.status_code, refused.value.error_code) == (None, TRANSPORT_ERROR)


def sleeps_recorded(waits: list[float], then: Callable[[float], None] | None = None) -> Any:
    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if then is not None:
            then(seconds)

    return sleep


class TestRetries:
    async def test_a_429_is_sent_again_after_retry_after(self, make_app: AppFactory) -> None:
        # One request a second per key: the second is refused with Retry-After: 1, waited (really).
        async with client_for(make_app(policy=with_request_rate(1, seconds=1))) as http:
            agent = AsyncAgentKeysClient(BASE_URL, http_client=http)
            await with_key(agent, "homes")
            await agent.list_homes()

            assert await agent.list_homes() == []

    async def test_retries_are_bounded_and_each_waits_what_retry_after_says(
        self, make_app: AppFactory
    ) -> None:
        waits: list[float] = []
        async with client_for(make_app(policy=with_request_rate(1, seconds=60))) as http:
            agent = AsyncAgentKeysClient(
                BASE_URL,
                http_client=http,
                max_retries=2,
                max_wait_seconds=1000,
                sleep=sleeps_recorded(waits),
            )
            await with_key(agent, "homes")
            await agent.list_homes()

            with pytest.raises(AgentKeysError) as refused:
                await agent.list_homes()

        error = refused.value
        assert (error.status_code, error.error_code) == (429, "RATE_LIMITED")
        assert error.retry_after_seconds is not None
        # Two retries, each after the wait the previous answer named (at most the window).
        assert len(waits) == 2
        assert all(0 < wait <= 60 for wait in waits)

    async def test_a_wait_beyond_the_budget_is_not_waited(self, make_app: AppFactory) -> None:
        waits: list[float] = []
        async with client_for(make_app(policy=with_request_rate(1, seconds=60))) as http:
            agent = AsyncAgentKeysClient(
                BASE_URL, http_client=http, max_wait_seconds=0.5, sleep=sleeps_recorded(waits)
            )
            await with_key(agent, "homes")
            await agent.list_homes()

            with pytest.raises(AgentKeysError) as refused:
                await agent.list_homes()

        assert refused.value.status_code == 429
        assert waits == []

    async def test_a_rate_limited_outcome_is_asked_again_after_its_wait(
        self, make_app: AppFactory, clock: FrozenClock
    ) -> None:
        # One key an hour per organization: the second request waits (on the app's clock).
        policy = with_quotas(relaxed_policy(), organization_issued=Quota(1, timedelta(hours=1)))
        waits: list[float] = []

        def advance(seconds: float) -> None:
            clock.advance(timedelta(seconds=seconds))

        async with client_for(make_app(policy=policy)) as http:
            patient = AsyncAgentKeysClient(
                BASE_URL,
                http_client=http,
                max_wait_seconds=3600,
                sleep=sleeps_recorded(waits, advance),
            )
            hasty = AsyncAgentKeysClient(BASE_URL, http_client=http, max_retries=0)
            await with_key(patient, "homes")

            refused = await hasty.request_credential(credential_request())
            issued = await patient.request_credential(credential_request())

        assert refused.outcome == "rate_limited"
        assert refused.retry_after_seconds is not None
        assert issued.outcome == "issued"
        assert len(waits) == 1
        assert 0 < waits[0] <= 3600


class TestAgainstARealServer:
    def test_the_whole_path_with_the_sync_client(
        self, served_database: ServedDatabase, tmp_path: Path
    ) -> None:
        with (
            running_server(
                database_url=served_database.url, log_path=tmp_path / "server.log"
            ) as server,
            AgentKeysClient(server.base_url) as client,
        ):
            issued = client.request_credential(
                credential_request(requested_scopes=["utility:read", "homes", "calculate"])
            )
            utilities = client.lookup_utility(
                {"zipcode": ZIP_OF_PLAN[E_TOU_C], "detailLevel": "minimal"}
            )
            home = client.create_home(
                {"name": "Real Home", "ratePlanId": E_TOU_C, "zipcode": ZIP_OF_PLAN[E_TOU_C]}
            )
            bill = client.monthly_bill(
                home.id, {"usage": [FLAT_DAY] * 28, "month": 2, "year": 2026}
            )
            revoked = client.revoke_credential()
            with pytest.raises(AgentKeysError) as refused:
                client.whoami()

        assert issued.outcome == "issued"
        assert any(utility.utility_id == PGE for utility in utilities)
        # February 2026: 28 days x 24 kWh = 672 kWh.
        assert bill.import_kwh == 672.0
        assert revoked.credential_id == issued.credential_id
        assert refused.value.error_code == "AUTH_REVOKED_CREDENTIAL"
