"""Bills and price signals wait for the app's CPU pool without holding a database connection,
and answer once a slot is free (the battery estimate's own queue: test_battery_queue.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agentkeys.cpu import CpuPool
from tests.support.app import AppFactory, client_for
from tests.support.catalog import E_TOU_C
from tests.support.factories import key_with
from tests.support.waiting import assert_unrelated_requests_answered, until

# Whether a pooled connection is held depends on the backend's pool: both backends.
pytestmark = pytest.mark.both_backends


def cpu_of(app: FastAPI) -> CpuPool:
    cpu: CpuPool = app.state.context.cpu
    return cpu


async def home_with(client: httpx.AsyncClient, *scopes: str) -> tuple[str, dict[str, str]]:
    headers = await key_with(client, "homes", *scopes)
    created = await client.post(
        "/v1/homes/create", headers=headers, json={"name": "Home", "ratePlanId": E_TOU_C}
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"]), headers


async def bill(client: httpx.AsyncClient) -> httpx.Response:
    home, headers = await home_with(client, "calculate")
    body: dict[str, Any] = {"month": 1, "year": 2026, "usage": [[0.5] * 96] * 31}
    return await client.post(f"/v1/homes/{home}/bill/monthly", headers=headers, json=body)


async def price_signal(client: httpx.AsyncClient) -> httpx.Response:
    home, headers = await home_with(client, "price_signal:read")
    return await client.post(f"/v1/homes/{home}/price_signal", headers=headers, json={})


@pytest.mark.parametrize("request_of", [bill, price_signal], ids=["bill", "price_signal"])
async def test_work_waiting_for_the_cpu_holds_no_connection(
    make_app: AppFactory, request_of: Any
) -> None:
    app = make_app(cpu_workers=1)
    async with client_for(app) as client:
        cpu = cpu_of(app)
        async with cpu.slot():  # the one slot is taken: the request must wait
            waiting = asyncio.create_task(request_of(client))
            await until(lambda: cpu.waiting > 0 or waiting.done())
            assert not waiting.done(), waiting.result().text

            await assert_unrelated_requests_answered(app, client)
            assert not waiting.done()

        answer = await waiting

    assert answer.status_code == 200, answer.text
    assert cpu.running == 0
