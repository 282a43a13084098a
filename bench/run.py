"""`make bench`: load the server from a separate process with wrk and write BENCHMARKS.md.

Every figure is the median of several runs and is reported as a ratio to a baseline measured in
the same run: the floor (an unauthenticated trivial route of the same server). See
BENCHMARKS.md for what is measured and why.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
WORK = BENCH / ".work"
PEER = BENCH / "peer"
VENV_BIN = Path(sys.executable).parent
SECRET = secrets.token_urlsafe(32)  # production mode refuses a weak secret
# Several workers need Redis (`serve --workers N` refuses to start without it): their request
# rates and revocations are shared there. One worker runs without, as a single process would.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
RESULTS_START = "<!-- results:start -->"
RESULTS_END = "<!-- results:end -->"
VERIFIED_PATH = "/v1/agent-credentials/self"
UTILITY_PATH = "/v1/utility/get"
UTILITY_BODY = '{"zipcode":"94107","detailLevel":"minimal"}'
# The upstream API the gateway scenarios ask about: the forwarded request matches the second
# route, as a request to a real API would match one of several.
UPSTREAM_ROUTES = """
[upstream]

[[upstream.routes]]
method = ["POST", "PUT", "DELETE"]
path = "/v2/meters/**"
scope = "homes:write"

[[upstream.routes]]
method = "GET"
path = "/v2/meters/{id}"
scope = "utility:read"

[[upstream.routes]]
method = "*"
path = "/v2/public/**"
scope = "utility:read"
"""
FORWARD_PATH = "/v1/auth/forward"
VERIFY_PATH = "/v1/keys/verify"
ALL_SCOPES = ["utility:read", "homes", "calculate", "price_signal:read", "feedback:write"]


@dataclass
class Sample:
    requests_per_second: float
    p99_ms: float
    non_2xx: int
    p50_ms: float = 0.0
    requests: int = 0  # completed in the run (server CPU per request in partial runs)


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return statistics.median(sample.requests_per_second for sample in self.samples)

    @property
    def p99(self) -> float:
        return statistics.median(sample.p99_ms for sample in self.samples)

    @property
    def p50(self) -> float:
        return statistics.median(sample.p50_ms for sample in self.samples)

    @property
    def errors(self) -> int:
        return sum(sample.non_2xx for sample in self.samples)


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    log("installing wrk (Debian package)")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    return shutil.which("wrk") or "wrk"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not ready")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def run_wrk(
    wrk: str,
    url: str,
    *,
    duration: int,
    connections: int,
    env: dict[str, str],
    script: Path | None = None,
) -> Sample:
    command = [wrk, "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url]
    if script is not None:
        command[1:1] = ["-s", str(script)]
    output = subprocess.run(
        command, capture_output=True, text=True, check=True, env={**os.environ, **env}
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p99 = latency_ms(output, "99%")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    return Sample(
        rps,
        p99,
        int(non_2xx.group(1)) if non_2xx else 0,
        latency_ms(output, "50%"),
        requests,
    )


def latency_ms(output: str, percentile: str) -> float:
    """A percentile of wrk's --latency distribution, in milliseconds."""
    found = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)\b", output)
    value, unit = float(found.group(1)), found.group(2)  # type: ignore[union-attr]
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


# --- seeding -----------------------------------------------------------------------------------


def bench_policy() -> Path:
    """The default policy with quotas and the request rate out of the way of the load."""
    text = subprocess.run(
        [str(VENV_BIN / "agentkeys"), "policy", "show-default"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    text = re.sub(r"(?m)^(limit|per_network_limit) = \d+$", r"\1 = 1000000000", text)
    text += UPSTREAM_ROUTES
    path = WORK / "policy.toml"
    path.write_text(text)
    return path


def seed_sqlite(path: Path, count: int) -> str:
    """A migrated SQLite file holding ``count`` credentials; returns one usable key."""
    sys.path.insert(0, str(ROOT / "src"))
    from agentkeys.credentials import keys
    from agentkeys.db import migrate

    if path.exists():
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    server_secret = SECRET.encode()
    minted = keys.mint(server_secret=server_secret)
    now = datetime.now(UTC).replace(tzinfo=None)
    created = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    expires = (now + timedelta(days=7)).strftime("%Y-%m-%d %H:%M:%S.%f")
    scopes = json.dumps(ALL_SCOPES)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    batch = 20_000
    for start in range(0, count, batch):
        requests, credentials = [], []
        for index in range(start, min(count, start + batch)):
            digest = minted.digest if index == 0 else secrets.token_hex(32)
            request_id = f"ws_cred_request_seed{index:012d}"
            org = f"seed org {index % 5000}"
            requests.append(
                (
                    request_id,
                    f"ws_request_seed{index:012d}",
                    created,
                    "issued",
                    "198.51.100.1",
                    org,
                    org,
                    None,
                    "sandbox",
                    "{}",
                    "{}",
                )
            )
            credentials.append(
                (
                    f"ws_agent_cred_seed{index:012d}",
                    digest,
                    request_id,
                    org,
                    None,
                    scopes,
                    "sandbox",
                    created,
                    expires,
                )
            )
        connection.executemany(
            "INSERT INTO credential_requests (id, request_id, created_at, outcome, client_address,"
            " organization_name, organization_key, user_email_key, requested_environment,"
            " request, details) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            requests,
        )
        connection.executemany(
            "INSERT INTO credentials (id, key_digest, credential_request_id, organization_key,"
            " user_email_key, scopes, environment, created_at, expires_at)"
            " VALUES (?,?,?,?,?,?,?,?,?)",
            credentials,
        )
        connection.commit()
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return minted.secret


# --- servers -----------------------------------------------------------------------------------


@contextmanager
def agentkeys_server(database: Path, workers: int, policy: Path) -> Iterator[str]:
    """``agentkeys serve`` on a SQLite file as in production (uvicorn, uvloop, httptools)."""
    extra = {
        # The forward-auth scenario's gateway (wrk) is on loopback and passes X-Forwarded-For.
        "AGENTKEYS_TRUSTED_PROXIES": "127.0.0.1/32",
    }
    if workers > 1:  # one worker counts its rates in memory; several share them on Redis
        extra["AGENTKEYS_REDIS_URL"] = REDIS_URL
    with served(
        f"{database.stem}-{workers}", f"sqlite+aiosqlite:///{database}", workers, policy, extra
    ) as base:
        yield base


@contextmanager
def peer_server(database: Path, workers: int) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "WORKERS": str(workers), "PORT": str(port), "PEER_DATABASE": str(database)}
    log_file = (WORK / f"peer-{workers}.log").open("wb")
    process = subprocess.Popen(
        ["bash", str(PEER / "run.sh")],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/healthz", process, seconds=300)
        yield base
    finally:
        stop(process)
        log_file.close()


def seed_peer(database: Path, count: int, key_file: Path) -> None:
    python = PEER / ".venv" / "bin" / "python"
    if not python.exists():
        subprocess.run(
            [
                "bash",
                "-c",
                f"python3 -m venv {PEER / '.venv'} && "
                f"{PEER / '.venv/bin/pip'} install -q -r {PEER / 'requirements.txt'}",
            ],
            check=True,
        )
    subprocess.run(
        [
            str(python),
            str(PEER / "manage.py"),
            "seed_keys",
            "--count",
            str(count),
            "--out",
            str(key_file),
            "--reset",
        ],
        check=True,
        env={**os.environ, "PEER_DATABASE": str(database)},
        stdout=subprocess.DEVNULL,
    )


# --- the measurements --------------------------------------------------------------------------


@dataclass
class Config:
    runs: int
    duration: int
    connections: int


def measure(
    wrk: str, config: Config, targets: dict[str, tuple[str, Path | None, dict[str, str]]]
) -> dict[str, Series]:
    """Interleave the targets run by run, so drift affects all of them alike."""
    results = {name: Series() for name in targets}
    for url, script, env in targets.values():  # warm up: imports, caches, pools
        run_wrk(wrk, url, duration=2, connections=config.connections, env=env, script=script)
    for run in range(config.runs):
        for name, (url, script, env) in targets.items():
            sample = run_wrk(
                wrk,
                url,
                duration=config.duration,
                connections=config.connections,
                env=env,
                script=script,
            )
            results[name].samples.append(sample)
            log(
                f"  run {run + 1} {name}: {sample.requests_per_second:,.0f} req/s, "
                f"p99 {sample.p99_ms:.1f} ms, non-2xx {sample.non_2xx}"
            )
    return results


# --- issuance on PostgreSQL, and three replicas behind a load balancer (issue 16) -------------

POSTGRES_ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
POSTGRES_DATABASE = "agentkeys_bench"
NGINX = os.environ.get("BENCH_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
REPLICAS = 3
ISSUANCE_PATH = "/v1/agent-credentials"
# Connections each setup may open (AGENTKEYS_DATABASE_CONNECTIONS): every PostgreSQL setup runs
# at once, on a server other work shares (max_connections 100): 3 x 14 + 3 x 8 = 66.
SERVER_CONNECTIONS = "14"
REPLICA_CONNECTIONS = "8"


def postgres_bench_database() -> str:
    """A fresh, migrated ``agentkeys_bench`` database; its asyncpg URL."""
    import asyncio

    import asyncpg

    async def recreate() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{POSTGRES_DATABASE}" WITH (FORCE)')
            await connection.execute(f'CREATE DATABASE "{POSTGRES_DATABASE}"')
        finally:
            await connection.close()

    asyncio.run(recreate())
    sys.path.insert(0, str(ROOT / "src"))
    from agentkeys.db import migrate

    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    url = f"{base}/{POSTGRES_DATABASE}".replace("postgresql://", "postgresql+asyncpg://", 1)
    migrate.upgrade(url)
    return url


@contextmanager
def served(
    name: str, database_url: str, workers: int, policy: Path, extra: dict[str, str]
) -> Iterator[str]:
    """``agentkeys serve`` on any database URL, as in production (logging warnings); ``extra``
    adds settings (Redis, trusted proxies)."""
    port = free_port()
    env = {
        **os.environ,
        "AGENTKEYS_MODE": "production",
        "AGENTKEYS_SECRET": SECRET,
        "AGENTKEYS_DATABASE_URL": database_url,
        "AGENTKEYS_POLICY": str(policy),
        "AGENTKEYS_LOG_LEVEL": "WARNING",
        **extra,
    }
    log_file = (WORK / f"agentkeys-{name}.log").open("wb")
    process = subprocess.Popen(
        [str(VENV_BIN / "agentkeys"), "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/healthz", process)
        yield base
    finally:
        stop(process)
        log_file.close()


@contextmanager
def load_balancer(upstreams: list[str]) -> Iterator[str]:
    """nginx (Debian's package) on loopback, round-robin over ``upstreams`` with keep-alive
    connections to them, as a non-daemon child process with a private prefix directory."""
    if not Path(NGINX).exists():
        raise RuntimeError(f"nginx not found at {NGINX} (apt-get install nginx-light)")
    prefix = WORK / "nginx"
    shutil.rmtree(prefix, ignore_errors=True)
    (prefix / "logs").mkdir(parents=True)
    port = free_port()
    servers = "\n".join(f"    server {url.removeprefix('http://')};" for url in upstreams)
    temp = " ".join(
        f"{kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    temp += f" uwsgi_temp_path {prefix / 'uwsgi'}; scgi_temp_path {prefix / 'scgi'};"
    (prefix / "nginx.conf").write_text(
        f"""daemon off;
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "logs/error.log"} warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  # Keep connections open for the whole run on both sides (nginx closes one after 1,000
  # requests by default: a reconnect every 1,000, to the client and to each upstream).
  keepalive_requests 1000000;
  {temp}
  upstream agentkeys {{
{servers}
    keepalive 64;
    keepalive_requests 1000000;
    # Closed before agentkeys closes an idle one (5 s): a POST sent as it closes is reset (502).
    keepalive_timeout 4s;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://agentkeys;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}
  }}
}}
"""
    )
    log_file = (WORK / "nginx.log").open("wb")
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-e", str(prefix / "logs/error.log"), "-c", "nginx.conf"],
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/healthz", process)
        yield base
    finally:
        stop(process)
        log_file.close()


def issued_key(base: str, path: Path) -> Path:
    """Issue one credential through ``base`` and keep its key in ``path`` (for key.lua)."""
    import urllib.request

    body = json.dumps(
        {
            "organization_name": "Bench Verified Org",
            "user_name": "Bench",
            "user_email": "verified@example.com",
            "assignment": "Benchmark the verified route through replicas",
            "requested_scopes": ALL_SCOPES,
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback
        base + ISSUANCE_PATH, data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        answer = json.loads(response.read())
    if answer.get("outcome") != "issued":
        raise RuntimeError(f"no bench key issued: {answer}")
    path.write_text(answer["credential"] + "\n")
    return path


def measure_postgres(wrk: str, config: Config, policy: Path) -> dict[str, Series]:
    """Issuance on PostgreSQL with 1 and 2 workers, and three 1-worker replicas behind nginx,
    all on one PostgreSQL database and Redis, all running at once so that every target is
    measured interleaved with the others (the same drift for all)."""
    log("PostgreSQL: a fresh agentkeys_bench database")
    database_url = postgres_bench_database()
    # Loopback is a trusted proxy (nginx; wrk for issue-networks.lua's X-Forwarded-For).
    # Every PostgreSQL setup shares rates and revocations on Redis (replicas, as deployed).
    server = {
        "AGENTKEYS_DATABASE_CONNECTIONS": SERVER_CONNECTIONS,
        "AGENTKEYS_TRUSTED_PROXIES": "127.0.0.1",
        "AGENTKEYS_REDIS_URL": REDIS_URL,
    }
    replica = {**server, "AGENTKEYS_DATABASE_CONNECTIONS": REPLICA_CONNECTIONS}
    fast = {**server, "AGENTKEYS_DECISION_COMMIT": "fast"}
    log(f"PostgreSQL: 1 worker, 2 workers (durable, fast), {REPLICAS} replicas behind nginx")
    with (
        served("pg-1", database_url, 1, policy, server) as one,
        served("pg-2", database_url, 2, policy, server) as two,
        served("pg-2-fast", database_url, 2, policy, fast) as two_fast,
        ExitStackOf(
            served(f"pg-replica-{n}", database_url, 1, policy, replica) for n in range(REPLICAS)
        ) as replicas,
        load_balancer(replicas) as balanced,
    ):
        key_env = {"BENCH_KEY_FILE": str(issued_key(balanced, WORK / "key-postgres"))}
        issue = BENCH / "lua/issue.lua"
        networks = BENCH / "lua/issue-networks.lua"
        key = BENCH / "lua/key.lua"
        return measure(
            wrk,
            config,
            {
                "pg1 floor": (one + "/healthz", None, {}),
                "pg1 issuance": (one + ISSUANCE_PATH, issue, {}),
                "pg1 issuance networks": (one + ISSUANCE_PATH, networks, {}),
                "pg2 floor": (two + "/healthz", None, {}),
                "pg2 verified": (two + VERIFIED_PATH, key, key_env),
                "pg2 issuance": (two + ISSUANCE_PATH, issue, {}),
                "pg2 issuance networks": (two + ISSUANCE_PATH, networks, {}),
                "pg2f floor": (two_fast + "/healthz", None, {}),
                "pg2f issuance": (two_fast + ISSUANCE_PATH, issue, {}),
                "pg2f issuance networks": (two_fast + ISSUANCE_PATH, networks, {}),
                "lb floor": (balanced + "/healthz", None, {}),
                "lb verified": (balanced + VERIFIED_PATH, key, key_env),
                "lb issuance": (balanced + ISSUANCE_PATH, issue, {}),
                "lb issuance networks": (balanced + ISSUANCE_PATH, networks, {}),
            },
        )


class ExitStackOf:
    """Enter every context manager of an iterable; the list of what they yield."""

    def __init__(self, managers: Iterator[Any] | Any) -> None:
        from contextlib import ExitStack

        self._managers = list(managers)
        self._stack = ExitStack()

    def __enter__(self) -> list[Any]:
        return [self._stack.enter_context(manager) for manager in self._managers]

    def __exit__(self, *exc: object) -> None:
        self._stack.__exit__(None, None, None)


ISSUANCE_SCENARIOS = {
    "issuance": "issuance, one client network (issue.lua)",
    "issuance networks": "issuance, a network per request (issue-networks.lua)",
}


def issuance_report(
    config: Config, ours: dict[int, dict[str, Series]], postgres: dict[str, Series]
) -> list[str]:
    """The issuance table (p50 and p99 for each) and the replicas' comparison."""
    lines = [
        "",
        f"Issuance and replicas (issue 16): wrk -t2 -c{config.connections} --latency, p50 and "
        "p99 of every run's distribution (median of the runs); PostgreSQL targets interleaved "
        "run by run, all setups up at once on one database and Redis.",
        "",
        "| setup | workers | scenario | req/s | p50 ms | p99 ms | ratio | non-2xx |",
        "|---|---|---|---:|---:|---:|---|---:|",
    ]

    def row(setup: str, workers: str, name: str, data: Series, ratio: str) -> None:
        lines.append(
            f"| {setup} | {workers} | {name} | {data.rps:,.0f} | {data.p50:.1f} | "
            f"{data.p99:.1f} | {ratio} | {data.errors} |"
        )

    for workers, series in ours.items():
        for scenario, name in ISSUANCE_SCENARIOS.items():
            if scenario in series:
                ratio = series[scenario].rps / series["floor"].rps
                row("SQLite", str(workers), name, series[scenario], f"{ratio:.3f} of floor")
    if postgres:
        for setup, workers, prefix in (
            ("PostgreSQL", "1", "pg1"),
            ("PostgreSQL + Redis", "2", "pg2"),
            ("PostgreSQL + Redis, `AGENTKEYS_DECISION_COMMIT=fast`", "2", "pg2f"),
            (f"{REPLICAS} replicas + nginx", f"{REPLICAS} x 1", "lb"),
        ):
            floor = postgres[f"{prefix} floor"]
            row(setup, workers, "floor: GET /healthz", floor, "1.00 (baseline)")
            if f"{prefix} verified" in postgres:
                verified = postgres[f"{prefix} verified"]
                row(
                    setup, workers, "verified", verified, f"{verified.rps / floor.rps:.3f} of floor"
                )
            for scenario in ("issuance", "issuance networks"):
                data = postgres[f"{prefix} {scenario}"]
                name = ISSUANCE_SCENARIOS[scenario]
                row(setup, workers, name, data, f"{data.rps / floor.rps:.3f} of floor")
        through = postgres["lb verified"].rps / postgres["pg2 verified"].rps
        lines += [
            "",
            f"Verified through nginx and {REPLICAS} replicas: **{through:.2f}** of one "
            "`--workers 2` server on the same database and Redis (same run).",
        ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--large", type=int, default=1_000_000, help="credentials in the big db")
    parser.add_argument("--skip-peer", action="store_true")
    add_partial_options(parser)
    parser.add_argument(
        "--groups",
        default=",".join(GROUPS),
        help=f"comma-separated scenario groups of {', '.join(GROUPS)} (peer needs sqlite); "
        "fewer than all writes bench/.work/results.md instead of BENCHMARKS.md",
    )
    args = parser.parse_args()
    if args.only:
        partial_run(args)
        return
    only = selected_groups(args.groups)
    config = Config(args.runs, args.duration, args.connections)
    WORK.mkdir(parents=True, exist_ok=True)
    wrk = ensure_wrk()
    policy = bench_policy()
    key_file = WORK / "key"
    small_db, large_db = WORK / "small.db", WORK / "large.db"
    large_key_file = WORK / "key-large"
    seed_seconds = 0.0
    if "sqlite" in only:
        log("seeding 1,000 credentials")
        key_file.write_text(seed_sqlite(small_db, 1_000) + "\n")
        log(f"seeding {args.large:,} credentials")
        started = time.monotonic()
        large_key_file.write_text(seed_sqlite(large_db, args.large) + "\n")
        seed_seconds = time.monotonic() - started

    key_env = {"BENCH_KEY_FILE": str(key_file)}
    utility_env = {**key_env, "BENCH_METHOD": "POST", "BENCH_BODY": UTILITY_BODY}
    ours: dict[int, dict[str, Series]] = {}
    for workers in (1, 2) if "sqlite" in only else ():
        log(f"agentkeys, {workers} worker(s), 1,000 credentials")
        with agentkeys_server(small_db, workers, policy) as base:
            ours[workers] = measure(
                wrk,
                config,
                {
                    "floor": (base + "/healthz", None, {}),
                    "verified": (base + VERIFIED_PATH, BENCH / "lua/key.lua", key_env),
                    "utility": (base + UTILITY_PATH, BENCH / "lua/key.lua", utility_env),
                    "issuance": (base + "/v1/agent-credentials", BENCH / "lua/issue.lua", {}),
                    **gateway_targets(base, key_file, small_db),
                },
            )
        log(f"agentkeys, {workers} worker(s), {args.large:,} credentials")
        with agentkeys_server(large_db, workers, policy) as base:
            large = measure(
                wrk,
                config,
                {
                    "floor": (base + "/healthz", None, {}),
                    "verified": (
                        base + VERIFIED_PATH,
                        BENCH / "lua/key.lua",
                        {"BENCH_KEY_FILE": str(large_key_file)},
                    ),
                },
            )
            ours[workers]["floor_large"] = large["floor"]
            ours[workers]["verified_large"] = large["verified"]

    peer: dict[int, dict[str, Series]] = {}
    if not args.skip_peer and "peer" in only:
        peer_db, peer_key = WORK / "peer.db", WORK / "peer.key"
        log("seeding the peer with 1,000 keys")
        seed_peer(peer_db, 1_000, peer_key)
        for workers in (1, 2):
            log(f"peer (DRF + djangorestframework-api-key), {workers} gunicorn worker(s)")
            with peer_server(peer_db, workers) as base:
                peer[workers] = measure(
                    wrk,
                    config,
                    {
                        "floor": (base + "/healthz", None, {}),
                        "verified": (
                            base + VERIFIED_PATH,
                            BENCH / "lua/key.lua",
                            {"BENCH_KEY_FILE": str(peer_key)},
                        ),
                    },
                )
    postgres = measure_postgres(wrk, config, policy) if "postgres" in only else {}
    write_report(
        config,
        ours,
        peer,
        large=args.large,
        seed_seconds=seed_seconds,
        extra=issuance_report(config, ours, postgres),
        report=ROOT / "BENCHMARKS.md" if only == set(GROUPS) else WORK / "results.md",
    )


# Scenario groups ``--groups`` selects (``make bench BENCH_ARGS="--groups postgres"``).
GROUPS = ("sqlite", "peer", "postgres")


def selected_groups(text: str) -> set[str]:
    chosen = {name.strip() for name in text.split(",") if name.strip()}
    unknown = chosen - set(GROUPS)
    if unknown:
        raise SystemExit(f"--groups: unknown group(s) {', '.join(sorted(unknown))}; of {GROUPS}")
    if "peer" in chosen:
        chosen.add("sqlite")  # the peer's ratio is to our verified figure
    return chosen


# --- partial runs (``make bench BENCH_ARGS="--only verified --workers 2 --runs 1"``) -------------


def add_partial_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated scenarios of agentkeys (floor, verified, utility, issuance, and "
        "the gateway ones when present); prints the figures and leaves BENCHMARKS.md alone",
    )
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")


def partial_run(args: argparse.Namespace) -> None:
    """Some scenarios on the 1,000-credential database, printed as ratios to the floor of the
    same run (always measured): for measuring a change, not for BENCHMARKS.md.

    Besides the throughput, each scenario's server CPU time per request (all of the server's
    processes, user and system, over the wrk run): on a machine other work is loading, a
    steadier figure than requests per second, since time the server was not given is not
    counted.
    """
    config = Config(args.runs, args.duration, args.connections)
    WORK.mkdir(parents=True, exist_ok=True)
    wrk = ensure_wrk()
    policy = bench_policy()
    key_file = WORK / "key"
    small_db = WORK / "small.db"
    log("seeding 1,000 credentials")
    key_file.write_text(seed_sqlite(small_db, 1_000) + "\n")
    wanted = ["floor", *(name for name in args.only.split(",") if name != "floor")]
    for workers in (int(count) for count in args.workers.split(",")):
        log(f"agentkeys, {workers} worker(s): {', '.join(wanted)}")
        with agentkeys_server(small_db, workers, policy) as base:
            every = scenario_targets(base, key_file, small_db)
            unknown = [name for name in wanted if name not in every]
            if unknown:
                known = ", ".join(every)
                raise SystemExit(f"unknown scenarios: {', '.join(unknown)}; known: {known}")
            group = server_group(int(base.rsplit(":", 1)[1]))
            rps: dict[str, list[float]] = {name: [] for name in wanted}
            cpu: dict[str, list[float]] = {name: [] for name in wanted}
            errors: dict[str, int] = dict.fromkeys(wanted, 0)
            p99: dict[str, list[float]] = {name: [] for name in wanted}
            for name in wanted:  # warm up
                url, script, env = every[name]
                run_wrk(
                    wrk, url, duration=2, connections=config.connections, env=env, script=script
                )
            for _ in range(config.runs):
                for name in wanted:
                    url, script, env = every[name]
                    before = group_cpu_seconds(group)
                    sample = run_wrk(
                        wrk,
                        url,
                        duration=config.duration,
                        connections=config.connections,
                        env=env,
                        script=script,
                    )
                    spent = group_cpu_seconds(group) - before
                    rps[name].append(sample.requests_per_second)
                    errors[name] += sample.non_2xx
                    p99[name].append(sample.p99_ms)
                    cpu[name].append(spent / max(1, sample.requests) * 1e6)
        floor_rps = statistics.median(rps["floor"])
        floor_cpu = statistics.median(cpu["floor"])
        for name in wanted:
            mid_rps, mid_cpu = statistics.median(rps[name]), statistics.median(cpu[name])
            print(
                f"{workers} worker(s) {name:>12}: {mid_rps:9,.0f} req/s "
                f"({mid_rps / floor_rps:.2f} of floor); server CPU {mid_cpu:6.1f} µs/request "
                f"({floor_cpu / mid_cpu:.2f} of floor); p99 {statistics.median(p99[name]):.1f} ms; "
                f"non-2xx {errors[name]}",
                flush=True,
            )


def server_group(port: int) -> int:
    """The process group of the server listening on ``port`` (``serve`` and its workers)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in command and str(port).encode() in command:
            return os.getpgid(int(entry.name))
    raise RuntimeError(f"no server on port {port}")


def group_cpu_seconds(group: int) -> float:
    """User and system CPU seconds of every live process in ``group``."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group:  # pgrp; utime and stime follow at 11 and 12
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def scenario_targets(
    base: str, key_file: Path, database: Path
) -> dict[str, tuple[str, Path | None, dict[str, str]]]:
    """Every scenario of a server holding the key in ``key_file``, by name."""
    key_env = {"BENCH_KEY_FILE": str(key_file)}
    utility_env = {**key_env, "BENCH_METHOD": "POST", "BENCH_BODY": UTILITY_BODY}
    return {
        "floor": (base + "/healthz", None, {}),
        "verified": (base + VERIFIED_PATH, BENCH / "lua/key.lua", key_env),
        "utility": (base + UTILITY_PATH, BENCH / "lua/key.lua", utility_env),
        "issuance": (base + "/v1/agent-credentials", BENCH / "lua/issue.lua", {}),
        **gateway_targets(base, key_file, database),
    }


def gateway_targets(
    base: str, key_file: Path, database: Path
) -> dict[str, tuple[str, Path | None, dict[str, str]]]:
    """The gateway routes' scenarios: forward auth as nginx asks (the original request in
    X-Original-Method/URI, matched against the policy's upstream routes) and the verification
    API called by a service with its verify-role admin key."""
    key_env = {"BENCH_KEY_FILE": str(key_file)}
    admin_env = {**key_env, "BENCH_ADMIN_KEY_FILE": str(verify_admin_key(database))}
    return {
        "forward": (base + FORWARD_PATH, BENCH / "lua/forward.lua", key_env),
        "verify": (base + VERIFY_PATH, BENCH / "lua/verify.lua", admin_env),
    }


def verify_admin_key(database: Path) -> Path:
    """A file holding a new admin key with the role ``verify`` in ``database``."""
    path = WORK / f"admin-{database.stem}.key"
    output = subprocess.run(
        [
            str(VENV_BIN / "agentkeys"),
            "admin",
            "create-key",
            "--name",
            f"bench-{secrets.token_hex(4)}",
            "--role",
            "verify",
        ],
        capture_output=True,
        text=True,
        check=True,
        env={
            **os.environ,
            "AGENTKEYS_MODE": "production",
            "AGENTKEYS_SECRET": SECRET,
            "AGENTKEYS_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        },
    ).stdout
    path.write_text(re.search(r"wsk_admin_[0-9A-Za-z]+", output).group(0) + "\n")  # type: ignore[union-attr]
    return path


def gateway_rows(series: dict[str, Series]) -> list[tuple[str, Series, str]]:
    """The report's rows for the gateway scenarios (when measured)."""
    floor = series["floor"].rps
    names = {
        "forward": "forward auth: GET /v1/auth/forward (key, upstream route, scope, rate limit)",
        "verify": "verification API: POST /v1/keys/verify (admin key, then key, scope, rate)",
    }
    return [
        (title, series[name], f"{series[name].rps / floor:.2f} of floor")
        for name, title in names.items()
        if name in series
    ]


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({cpu}){memory}, {platform.platform()}, Python {platform.python_version()}"


def write_report(
    config: Config,
    ours: dict[int, dict[str, Series]],
    peer: dict[int, dict[str, Series]],
    *,
    large: int,
    seed_seconds: float,
    extra: list[str] | None = None,
    report: Path = ROOT / "BENCHMARKS.md",
) -> None:
    lines = [
        RESULTS_START,
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
        f"wrk -t2 -c{config.connections} --latency, {config.duration} s per run, median of "
        f"{config.runs} runs, wrk on the same machine; SQLite; uvicorn workers (2 workers "
        "share request rates and revocations through Redis, as `serve --workers` requires).",
        "",
        "| server | workers | scenario | req/s | p99 ms | ratio | non-2xx |",
        "|---|---|---|---:|---:|---|---:|",
    ]
    for workers, series in ours.items():
        floor = series["floor"].rps
        rows = [
            ("floor: GET /healthz", series["floor"], "1.00 (baseline)"),
            (
                "verified: GET /v1/agent-credentials/self (key, rate limit)",
                series["verified"],
                f"{series['verified'].rps / floor:.2f} of floor",
            ),
            (
                "verified sandbox: POST /v1/utility/get (key, scope, rate limit)",
                series["utility"],
                f"{series['utility'].rps / floor:.2f} of floor",
            ),
            (
                "issuance: POST /v1/agent-credentials",
                series["issuance"],
                f"{series['issuance'].rps / floor:.2f} of floor",
            ),
            *gateway_rows(series),
            (f"floor, {large:,} credentials stored", series["floor_large"], "1.00 (baseline)"),
            (
                f"verified, {large:,} credentials stored",
                series["verified_large"],
                f"{series['verified_large'].rps / series['floor_large'].rps:.2f} of floor; "
                f"{series['verified_large'].rps / series['verified'].rps:.2f} of 1k",
            ),
        ]
        for name, data, ratio in rows:
            lines.append(
                f"| agentkeys | {workers} | {name} | {data.rps:,.0f} | {data.p99:.1f} | "
                f"{ratio} | {data.errors} |"
            )
    for workers, series in peer.items():
        floor = series["floor"].rps
        verified = series["verified"].rps
        ratio = ours[workers]["verified"].rps / verified
        lines.append(
            f"| DRF peer | {workers} | floor: GET /healthz | {floor:,.0f} | "
            f"{series['floor'].p99:.1f} | 1.00 (baseline) | {series['floor'].errors} |"
        )
        lines.append(
            f"| DRF peer | {workers} | verified: GET /v1/agent-credentials/self | "
            f"{verified:,.0f} | {series['verified'].p99:.1f} | {verified / floor:.2f} of "
            f"floor; agentkeys is {ratio:.1f}x | {series['verified'].errors} |"
        )
    lines += ["", f"Seeding {large:,} credentials directly took {seed_seconds:.0f} s."]
    lines += [*(extra or []), RESULTS_END]
    text = (
        report.read_text()
        if report.exists()
        else f"# Benchmarks\n\n{RESULTS_START}\n{RESULTS_END}\n"
    )
    before, _, rest = text.partition(RESULTS_START)
    _, _, after = rest.partition(RESULTS_END)
    report.write_text(before + "\n".join(lines) + after)
    log(f"wrote {report}")


if __name__ == "__main__":
    main()
