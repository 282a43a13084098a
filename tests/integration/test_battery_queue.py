"""Battery estimates wait for the CPU without holding what other requests need.

The solver is replaced by one that waits for the test's word (then solves for real), so
estimates can be held running and queued for as long as the test needs.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agentkeys.sandbox.battery import service as battery_service
from agentkeys.sandbox.battery.estimate import estimate_annual_savings
from agentkeys.sandbox.battery.service import MAX_WAITING, EstimatorQueue
from tests.integration.test_battery_api import DOCUMENTED_BODY
from tests.support.app import AppFactory, client_for
from tests.support.assertions import assert_envelope
from tests.support.catalog import SCE_TOU_D, ZIP_OF_PLAN
from tests.support.factories import create_home, new_home
from tests.support.waiting import PROMPT_SECONDS, assert_unrelated_requests_answered, until

SMALL_ESTIMATE: dict[str, Any] = {**DOCUMENTED_BODY, "months": [1]}
RUNNING = 2  # the app's CPU slots (AGENTKEYS_CPU_WORKERS), set so on any machine


@pytest.fixture
def solver_gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    go = threading.Event()

    def held(*args: Any, **kwargs: Any) -> Any:
        go.wait(timeout=60)
        return estimate_annual_savings(*args, **kwargs)

    monkeypatch.setattr(battery_service, "estimate_annual_savings", held)
    yield go
    go.set()


async def estimator(client: httpx.AsyncClient, number: int) -> tuple[dict[str, str], str]:
    home_id, headers = await new_home(
        client,
        plan=SCE_TOU_D,
        organization=f"Battery Org {chr(ord('a') + number)}",
        zipcode=ZIP_OF_PLAN[SCE_TOU_D],
    )
    return headers, home_id


def estimate(client: httpx.AsyncClient, headers: dict[str, str], home: str) -> Any:
    return client.post(
        f"/v1/homes/{home}/battery/estimate_savings", headers=headers, json=SMALL_ESTIMATE
    )


def queue_of(app: FastAPI) -> EstimatorQueue:
    queue: EstimatorQueue = app.state.battery_queue
    return queue


class TestEstimatorQueue:
    async def test_a_full_queue_holds_no_connection_and_refuses_at_once(
        self, make_app: AppFactory, solver_gate: threading.Event
    ) -> None:
        app = make_app(cpu_workers=RUNNING)
        async with client_for(app) as client:
            estimators = [await estimator(client, n) for n in range(RUNNING + MAX_WAITING + 1)]
            *admitted, (late_headers, late_home) = estimators
            tasks = [
                asyncio.create_task(estimate(client, h, home)) for h, home in admitted[:RUNNING]
            ]
            await until(lambda: hasattr(app.state, "battery_queue"))
            await until(lambda: queue_of(app).running == RUNNING)
            tasks += [
                asyncio.create_task(estimate(client, h, home)) for h, home in admitted[RUNNING:]
            ]
            await until(lambda: queue_of(app).waiting == MAX_WAITING)
            await asyncio.sleep(0.1)  # every queued estimate is now waiting for a slot

            # Running and queued estimates hold no pooled connection, so others are answered.
            await assert_unrelated_requests_answered(app, client)

            # Full: refused at once, with a time to retry.
            started = time.monotonic()
            refused = await estimate(client, late_headers, late_home)
            assert time.monotonic() - started < PROMPT_SECONDS
            body = assert_envelope(refused, status=503, code="SERVICE_UNAVAILABLE")
            assert int(refused.headers["retry-after"]) == body["retry_after_seconds"] > 0

            solver_gate.set()
            answers = await asyncio.gather(*tasks)

        assert [answer.status_code for answer in answers] == [200] * len(admitted)
        assert queue_of(app).waiting == 0

    async def test_one_estimate_at_a_time_per_credential(
        self, make_app: AppFactory, solver_gate: threading.Event
    ) -> None:
        app = make_app(cpu_workers=RUNNING)
        async with client_for(app) as client:
            headers, home = await estimator(client, 0)
            other_headers, other_home = await estimator(client, 1)
            first = asyncio.create_task(estimate(client, headers, home))
            await until(lambda: hasattr(app.state, "battery_queue"))
            await until(lambda: queue_of(app).running == 1)

            second = await estimate(client, headers, home)
            another = asyncio.create_task(estimate(client, other_headers, other_home))
            await asyncio.sleep(0.1)
            solver_gate.set()
            answers = [await first, await another]
            again = await estimate(client, headers, home)

        body = assert_envelope(second, status=429, code="RATE_LIMITED")
        assert int(second.headers["retry-after"]) == body["retry_after_seconds"] > 0
        assert "in progress" in body["message"]
        # Another credential meanwhile, and the same one afterwards, are estimated.
        assert [answer.status_code for answer in answers] == [200, 200]
        assert again.status_code == 200

    async def test_a_refused_estimate_frees_its_place(
        self, make_app: AppFactory, solver_gate: threading.Event
    ) -> None:
        solver_gate.set()
        app = make_app(cpu_workers=RUNNING)
        async with client_for(app) as client:
            headers, _ = await estimator(client, 0)
            missing = await estimate(client, headers, "ws_home_unknown")
            home = (
                await create_home(client, headers, plan=SCE_TOU_D, zipcode=ZIP_OF_PLAN[SCE_TOU_D])
            )["id"]
            found = await estimate(client, headers, home)

        assert missing.status_code == 404
        assert found.status_code == 200
