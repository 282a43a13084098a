"""The hot path in process: microseconds per request of each route, called as ASGI.

``python bench/hotpath.py [--redis URL] [--profile ROUTE] [--count N]``. No sockets and no wrk:
what is left is the application's own work per request, the part a change to the guard, the
rate counters or the middleware moves. Each figure is the process's CPU time (time it was not
given is not counted), the best of several rounds (the least disturbed by the other processes
on a shared machine), and the ratio to the floor is printed as ``make bench`` would report it
if the protocol stack cost nothing. ``--redis`` shares the rates through Redis, as several
workers do.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import itertools
import os
import pstats
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import run as bench_run  # noqa: E402  (bench/run.py: its policy and seeding)


def scope_for(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1:8080"), (b"user-agent", b"wrk"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }


async def call(app: Any, scope: dict[str, Any], body: bytes | Callable[[], bytes]) -> int:
    status = 0
    sent = False
    if callable(body):  # a body of its own each time: its length in the headers
        body = body()
        scope = {**scope, "headers": [*scope["headers"], (b"content-length", b"%d" % len(body))]}

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    return status


async def measure(
    app: Any, scope: dict[str, Any], body: Any, count: int, rounds: int
) -> tuple[float, int]:
    best = float("inf")
    status = 0
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(count):
            status = await call(app, scope, body)
        best = min(best, (time.process_time() - started) / count)
    return best * 1e6, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis", default=None, help="share rates through this Redis")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", default=None, help="cProfile this scenario")
    parser.add_argument("--only", default=None, help="comma-separated scenarios")
    args = parser.parse_args()
    # Seeding migrates through its own event loop: before ours.
    bench_run.WORK.mkdir(parents=True, exist_ok=True)
    database = bench_run.WORK / "hotpath.db"
    if database.exists():
        database.unlink()
    key = bench_run.seed_sqlite(database, 1000)
    os.environ.update(
        {
            "AGENTKEYS_MODE": "production",
            "AGENTKEYS_SECRET": bench_run.SECRET,
            "AGENTKEYS_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "AGENTKEYS_POLICY": str(bench_run.bench_policy()),
            "AGENTKEYS_LOG_LEVEL": "WARNING",
            "AGENTKEYS_TRUSTED_PROXIES": "127.0.0.1/32",
        }
    )
    if args.redis:
        os.environ["AGENTKEYS_REDIS_URL"] = args.redis
    asyncio.run(serve(args, key))


async def serve(args: argparse.Namespace, key: str) -> None:
    from agentkeys.api.app import create_app
    from agentkeys.config import Settings
    from agentkeys.logs import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    key_header = [(b"x-ws-api-key", key.encode())]
    json_headers = [
        *key_header,
        (b"content-type", b"application/json"),
        (b"content-length", str(len(bench_run.UTILITY_BODY)).encode()),
    ]
    scenarios: dict[str, tuple[dict[str, Any], Any]] = {
        "floor": (scope_for("GET", "/healthz", []), b""),
        "verified": (scope_for("GET", bench_run.VERIFIED_PATH, key_header), b""),
        "utility": (
            scope_for("POST", bench_run.UTILITY_PATH, json_headers),
            bench_run.UTILITY_BODY.encode(),
        ),
    }
    scenarios.update(extra_scenarios(key_header))
    if args.only:
        wanted = args.only.split(",")
        scenarios = {name: scenarios[name] for name in wanted}
    async with app.router.lifespan_context(app):
        for scope, body in scenarios.values():  # warm: imports, caches, first requests
            for _ in range(200):
                await call(app, scope, body)
        if args.profile:
            scope, body = scenarios[args.profile]
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(args.count * 5):
                await call(app, scope, body)
            profiler.disable()
            pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
            return
        results = {}
        for name, (scope, body) in scenarios.items():
            results[name] = await measure(app, scope, body, args.count, args.rounds)
        floor = results.get("floor", (None, 0))[0]
        for name, (micros, status) in results.items():
            ratio = f"  {floor / micros:.2f} of floor" if floor else ""
            print(f"{name:>12}: {micros:7.1f} µs/request (status {status}){ratio}")


def extra_scenarios(
    key_header: list[tuple[bytes, bytes]],
) -> dict[str, tuple[dict[str, Any], bytes]]:
    """Forward auth as nginx asks (``bench/lua/forward.lua``) and a decision (``issue.lua``)."""
    forward = [
        *key_header,
        (b"x-original-method", b"GET"),
        (b"x-original-uri", b"/v2/meters/42?fields=reading"),
        (b"x-forwarded-for", b"198.51.100.23"),
    ]
    counter = itertools.count()

    def issuance() -> bytes:  # as bench/lua/issue.lua: organizations and e-mails vary
        n = next(counter) % 1000
        return (
            f'{{"organization_name":"Bench Org {n}","user_name":"Bench","assignment":"Benchmark'
            f' credential issuance decisions","requested_scopes":["homes"],"user_email":'
            f'"bench{n}@example.com","requested_ttl_seconds":3600}}'
        ).encode()

    issuance_headers = [(b"content-type", b"application/json")]
    return {
        "forward": (scope_for("GET", bench_run.FORWARD_PATH, forward), b""),
        "issuance": (scope_for("POST", "/v1/agent-credentials", issuance_headers), issuance),
    }


if __name__ == "__main__":
    main()
