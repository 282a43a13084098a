"""Time the tariff engine and how long a bill holds the event loop (`python bench/bills.py`).

1. The engine alone: a 366-day bill (TOU and tiered plans), a 31-day price signal, a month of
   battery prices; median of several runs.
2. Through the app in-process (SQLite, ASGI): a ticker coroutine records the longest time the
   event loop could not run it while 366-day period bills are answered, one at a time and four at
   once. The figures go to ARCHITECTURE.md ("Runtime").
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from agentkeys.api.app import create_app
from agentkeys.config import Mode, Settings
from agentkeys.db.migrate import upgrade
from agentkeys.sandbox.tariffs import engine
from agentkeys.sandbox.tariffs.catalog import load_catalog

TOU_PLAN = "70615ff74102db7043697d35"  # SCE TOU-D-4-9PM
DAYS = 366
USAGE = [[0.25] * 96 for _ in range(DAYS)]


def median_ms(work: Callable[[], object], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def engine_figures() -> None:
    catalog = load_catalog()
    plans = {plan.supported_type: plan for u in catalog.utilities for plan in u.rate_plans}
    start = date(2024, 1, 1)
    for kind in ("tou", "tiered", "flat"):
        if kind not in plans:
            continue
        plan = plans[kind]
        ms = median_ms(
            lambda p=plan: engine.compute_bill(p, start=start, usage=USAGE, export=USAGE)
        )
        print(f"engine: {DAYS}-day bill with export, {kind} plan {plan.id}: {ms:.1f} ms")
    found = catalog.plan(TOU_PLAN)
    if found is None:
        raise SystemExit(f"no plan {TOU_PLAN} in the catalog")
    utility, plan = found
    begin = datetime(2024, 3, 1, tzinfo=UTC)
    ms = median_ms(
        lambda: engine.price_signal(
            plan, timezone=ZoneInfo(utility.timezone), start=begin, end=begin + timedelta(days=31)
        )
    )
    print(f"engine: 31-day price signal, {plan.id}: {ms:.1f} ms")
    ms = median_ms(lambda: [engine.day_prices(plan, start + timedelta(days=d)) for d in range(31)])
    print(f"engine: 31 days of battery prices, {plan.id}: {ms:.1f} ms")


async def loop_figures(url: str) -> None:
    settings = Settings(mode=Mode.PRODUCTION, secret=secrets.token_urlsafe(32), database_url=url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://b.test") as http:
            issued = await http.post(
                "/v1/agent-credentials",
                json={
                    "organization_name": "Bench Energy Co",
                    "user_name": "Bench",
                    "user_email": "bench@bench-energy.example.com",
                    "agent_name": "bench",
                    "agent_description": "Measures bills for the benchmark script.",
                    "assignment": "Compute yearly bills for many homes to measure latency.",
                    "requested_scopes": ["homes", "calculate"],
                    "environment": "sandbox",
                },
            )
            expect(issued, 200)
            headers = {"x-ws-api-key": issued.json()["credential"]}
            home = await http.post(
                "/v1/homes/create", headers=headers, json={"name": "H", "ratePlanId": TOU_PLAN}
            )
            expect(home, 201)
            path = f"/v1/homes/{home.json()['id']}/bill/period"
            body = {"startDate": "2024-01-01", "endDate": "2025-01-01", "usage": USAGE}
            for concurrent in (1, 4):
                stalls, elapsed = await measure(http, path, headers, body, concurrent)
                print(
                    f"app: {concurrent} x {DAYS}-day period bill at once: "
                    f"{elapsed:.0f} ms wall, longest event-loop stall "
                    f"{statistics.median(stalls):.0f} ms (median of 5 runs)"
                )


def expect(answer: httpx.Response, status: int) -> None:
    if answer.status_code != status:
        raise SystemExit(f"{answer.request.url}: {answer.status_code} {answer.text[:300]}")


async def ticker(longest: list[float], done: asyncio.Event) -> None:
    """Wake every millisecond; record the longest gap between wake-ups in ``longest[0]``."""
    last = time.perf_counter()
    while not done.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        longest[0] = max(longest[0], now - last)
        last = now


async def measure(
    http: httpx.AsyncClient, path: str, headers: dict[str, str], body: Any, concurrent: int
) -> tuple[list[float], float]:
    stalls: list[float] = []
    walls: list[float] = []
    for _ in range(5):
        longest = [0.0]
        done = asyncio.Event()
        tick = asyncio.create_task(ticker(longest, done))
        await asyncio.sleep(0.01)
        began = time.perf_counter()
        answers = await asyncio.gather(
            *(http.post(path, headers=headers, json=body) for _ in range(concurrent))
        )
        walls.append((time.perf_counter() - began) * 1000)
        done.set()
        await tick
        for answer in answers:
            expect(answer, 200)
        stalls.append(longest[0] * 1000)
    return stalls, statistics.median(walls)


if __name__ == "__main__":
    print(f"Python {sys.version.split()[0]}")
    engine_figures()
    with tempfile.TemporaryDirectory() as directory:
        database = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        upgrade(database)
        asyncio.run(loop_figures(database))
