"""Outages: PostgreSQL or Redis stopped under a running `agentkeys serve`, and brought back.

Every test starts private PostgreSQL and Redis instances of its own (``tests.private_services``:
temporary directory, free port) and stops only those; the machine's shared services are never
touched. The servers are real processes (``tests.servers.running_server``) on those instances.

What is shown (ARCHITECTURE.md, "Failure policies"):
- PostgreSQL down: fail **closed**. Issuance, revocation and every key look-up answer 503
  ``SERVICE_UNAVAILABLE`` with a retry hint and ``Retry-After``; ``/readyz`` answers 503; no key is
  ever accepted that the database did not vouch for; never a 500. Back up: everything works again
  in the same server process, without a restart.
- Redis down: request rates fail **open** (counted in ``agentkeys_backend_errors_total``, the
  RateLimit headers still sent), a revocation is refused at once by the revoking server and by
  another one within the cache bound. Back up: rates are enforced (and shared) again and
  revocations are announced again.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from redis.client import PubSub
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from agentkeys.credentials import keys
from agentkeys.credentials.policy_file import default_policy_text, load_policy
from agentkeys.credentials.revocations import CHANNEL
from agentkeys.db import migrate
from tests.support.app import TEST_SECRET
from tests.support.factories import credential_request, key_header
from tests.support.private_services import (
    PrivatePostgres,
    PrivateRedis,
    private_postgres,
    private_redis,
)
from tests.support.servers import RunningServer, running_server

ISSUE = "/v1/agent-credentials"
SELF = "/v1/agent-credentials/self"
HOMES = "/v1/homes/list"
RECOVERY_SECONDS = 20.0
POLL_SECONDS = 0.1
ANNOUNCEMENT_DEADLINE_SECONDS = 0.9  # below the 1 s cache bound: only an announcement is that fast
ACCESS_LINE = re.compile(r"agentkeys\.access (\S+) (\S+) (\d{3})\b")
BACKEND_ERRORS = re.compile(
    r'^agentkeys_backend_errors_total\{backend="redis",operation="([a-z_]+)"\} (\S+)$', re.M
)
RATE_STATE = re.compile(r'"credential";r=(\d+);t=(\d+)')


# --- set-up ---------------------------------------------------------------------------------


def write_policy(path: Path, *, request_rate: int = 600) -> Path:
    """The shipped policy without its issuance quotas and issuance rate (these tests issue many
    credentials from one address) and with ``request_rate`` sandbox requests per credential per
    minute."""
    policy = re.sub(
        r"^\[(quotas\.[a-z_]+|issuance_rate)\][^\[]*", "", default_policy_text(), flags=re.M
    )
    policy, replaced = re.subn(
        r"^(\[request_rate\]\s*\nlimit = )\d+", rf"\g<1>{request_rate}", policy, flags=re.M
    )
    assert replaced == 1, "the default policy's [request_rate] table moved"
    path.write_text(policy, encoding="utf-8")
    loaded = load_policy(path)  # refuses a broken file here rather than at server start
    assert not loaded.quotas
    assert loaded.request_costs.issuance_per_network is None
    assert loaded.request_rate.limit == request_rate
    return path


@dataclass
class Stack:
    postgres: PrivatePostgres
    redis: PrivateRedis
    tmp_path: Path
    environment: dict[str, str]

    @contextmanager
    def server(self, name: str) -> Iterator[RunningServer]:
        with running_server(
            database_url=self.postgres.url,
            log_path=self.tmp_path / f"{name}.log",
            extra_env=self.environment,
        ) as server:
            yield server
        assert_no_server_errors(server.log_path)


@contextmanager
def outage_stack(
    tmp_path: Path, *, key_cache_seconds: str, request_rate: int = 600
) -> Iterator[Stack]:
    """Private PostgreSQL (migrated) and Redis, and the environment of servers using them."""
    with private_postgres(tmp_path) as postgres, private_redis(tmp_path) as redis_instance:
        migrate.upgrade(postgres.url)  # `serve` migrates SQLite only
        policy = write_policy(tmp_path / "policy.toml", request_rate=request_rate)
        environment = {
            "AGENTKEYS_REDIS_URL": redis_instance.url,
            "AGENTKEYS_KEY_CACHE_SECONDS": key_cache_seconds,
            "AGENTKEYS_POLICY": str(policy),
            # The helpers below read access lines and escaped tracebacks in the text format.
            "AGENTKEYS_LOG_FORMAT": "text",
        }
        yield Stack(postgres, redis_instance, tmp_path, environment)


# --- helpers --------------------------------------------------------------------------------

_serial = iter(range(1_000_000))


def unique_request(label: str) -> dict[str, Any]:
    """The seed request for an organization and e-mail of its own."""
    number = next(_serial)
    return credential_request(
        organization_name=f"Outage {label} {number} Co",
        company=f"Outage {label} {number} Co",
        user_email=f"outage-{label}-{number}@example.com",
    )


def issue(http: httpx.Client, label: str) -> dict[str, Any]:
    response = http.post(ISSUE, json=unique_request(label))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["outcome"] == "issued", body
    return body


def headers_of(issued: dict[str, Any]) -> dict[str, str]:
    return key_header(issued["credential"])


def assert_unavailable(response: httpx.Response, *, retry_after: bool = True) -> None:
    """A 503 in the error envelope whose recovery_action tells the client to retry."""
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["error_code"] == "SERVICE_UNAVAILABLE", body
    assert "retry" in body["recovery_action"].lower(), body
    assert body["request_id"] == response.headers["x-request-id"]
    if retry_after:
        assert int(response.headers["retry-after"]) > 0
        assert body["retry_after_seconds"] == int(response.headers["retry-after"])


def assert_no_server_errors(log_path: Path) -> None:
    """No 500 was answered and nothing went unhandled, according to the server's own log."""
    log = log_path.read_text(errors="replace")
    answered_500 = [m.group(0) for m in ACCESS_LINE.finditer(log) if m.group(3) == "500"]
    assert not answered_500, f"500 answers in {log_path.name}: {answered_500}\n{log}"
    for unhandled in ("unhandled error", "Exception in ASGI application"):
        assert unhandled not in log, f"{unhandled!r} in {log_path.name}:\n{log}"


def poll(check: Callable[[], bool], *, seconds: float, what: str) -> float:
    """Call ``check`` until it is true; the seconds it took. Fails after ``seconds``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"not within {seconds} s: {what}"
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started


def backend_errors(http: httpx.Client, operation: str) -> float:
    """``agentkeys_backend_errors_total{backend="redis",operation=…}`` of that server."""
    metrics = http.get("/metrics")
    assert metrics.status_code == 200
    for found, value in BACKEND_ERRORS.findall(metrics.text):
        if found == operation:
            return float(value)
    return 0.0


def remaining(response: httpx.Response) -> int:
    match = RATE_STATE.fullmatch(response.headers["ratelimit"])
    assert match, response.headers["ratelimit"]
    return int(match.group(1))


def client(server: RunningServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=15)


# --- PostgreSQL -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key_cache_seconds",
    [
        pytest.param("0", id="key-cache-off"),
        pytest.param("1", id="key-cache-1s"),
    ],
)
def test_postgres_stopped_mid_run_fails_closed_and_recovers(
    tmp_path: Path, key_cache_seconds: str
) -> None:
    with (
        outage_stack(tmp_path, key_cache_seconds=key_cache_seconds) as stack,
        stack.server("server") as server,
        client(server) as http,
    ):
        kept = issue(http, "kept")
        revoked = issue(http, "revoked")
        # Verified (and so cached, when the cache is on) before its revocation.
        assert http.get(SELF, headers=headers_of(revoked)).status_code == 200
        revocation = http.post(revoked["revocation_path"], headers=headers_of(revoked))
        assert revocation.json()["outcome"] == "revoked", revocation.text
        assert http.get(SELF, headers=headers_of(kept)).status_code == 200
        never_seen = key_header(keys.mint(server_secret=TEST_SECRET.encode()).secret)

        stack.postgres.stop()

        # Verified moments ago: within the cache bound the key may be answered from memory (the
        # documented staleness, at most AGENTKEYS_KEY_CACHE_SECONDS); with the cache off, 503.
        just_verified = http.get(SELF, headers=headers_of(kept))
        if key_cache_seconds == "0":
            assert_unavailable(just_verified)
        else:
            assert just_verified.status_code in {200, 503}, just_verified.text
        assert_unavailable(http.post(ISSUE, json=unique_request("during")))
        assert_unavailable(http.get("/readyz"), retry_after=False)
        assert http.get("/healthz").status_code == 200  # the process itself is alive
        for _ in range(3):
            unknown = http.get(SELF, headers=never_seen)
            assert unknown.status_code in {401, 503}, unknown.text  # never a grant
            if unknown.status_code == 503:
                assert_unavailable(unknown)
            refused = http.get(SELF, headers=headers_of(revoked))
            assert refused.status_code in {401, 503}, refused.text  # never a grant
            if refused.status_code == 503:
                assert_unavailable(refused)
        # A valid key needs the database once the cache bound has passed (at once without it).
        time.sleep(float(key_cache_seconds))
        assert_unavailable(http.get(SELF, headers=headers_of(kept)))
        assert_unavailable(http.post(HOMES, headers=headers_of(kept)))
        assert_unavailable(http.post(kept["revocation_path"], headers=headers_of(kept)))

        stack.postgres.start()

        # The same process recovers by itself: its pool replaces closed connections.
        poll(
            lambda: http.get("/readyz").status_code == 200,
            seconds=RECOVERY_SECONDS,
            what="/readyz answers 200 again",
        )
        after = issue(http, "after")
        assert http.get(SELF, headers=headers_of(after)).status_code == 200
        assert http.get(SELF, headers=headers_of(kept)).status_code == 200
        assert http.post(HOMES, headers=headers_of(kept)).status_code == 200
        still_revoked = http.get(SELF, headers=headers_of(revoked))
        assert still_revoked.json()["error_code"] == "AUTH_REVOKED_CREDENTIAL"
        unknown_after = http.get(SELF, headers=never_seen)
        assert unknown_after.json()["error_code"] == "AUTH_INVALID_API_KEY"
        # The revocation refused during the outage was not half-done: the key still works.
        assert http.post(kept["revocation_path"], headers=headers_of(kept)).status_code == 200


@dataclass
class Answer:
    status: int
    body: dict[str, Any]


def test_postgres_restart_during_an_issuance_burst_never_answers_500_or_loses_a_key(
    tmp_path: Path,
) -> None:
    # Six clients issue without pause while PostgreSQL is stopped (-m fast: open sessions are cut
    # off mid-transaction) and started again. Found when written: errors of a dying or starting
    # server (asyncpg AdminShutdownError / CannotConnectNowError, surfacing as SQLAlchemy
    # DBAPIError or InternalError) are not among the 503 mappings of api/errors.py and answer 500.
    answers: list[Answer] = []
    stop = threading.Event()

    def send_until_stopped(base_url: str) -> None:
        with httpx.Client(base_url=base_url, timeout=15) as http:
            while not stop.is_set():
                body = unique_request("burst")
                try:
                    response = http.post(ISSUE, json=body)
                except httpx.TransportError as error:  # no HTTP answer at all: recorded as 0
                    answers.append(Answer(0, {"transport_error": repr(error)}))
                    continue
                answers.append(Answer(response.status_code, response.json()))

    with (
        outage_stack(tmp_path, key_cache_seconds="0") as stack,
        stack.server("server") as server,
        client(server) as http,
        ExitStack() as workers,
    ):
        threads = [
            threading.Thread(target=send_until_stopped, args=(server.base_url,)) for _ in range(6)
        ]

        def join_all() -> None:
            for thread in threads:
                thread.join(timeout=30)

        workers.callback(join_all)
        workers.callback(stop.set)
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        stack.postgres.stop()
        time.sleep(1.0)
        stack.postgres.start()
        restarted_at = len(answers)
        poll(
            lambda: sum(a.status == 200 for a in answers[restarted_at:]) >= 10,
            seconds=RECOVERY_SECONDS,
            what="issuance works again during the burst",
        )
        stop.set()
        join_all()

        # Every credential a client was given is known to the database and verifies.
        issued = [a for a in answers if a.status == 200]
        assert all(answer.body["outcome"] == "issued" for answer in issued)
        for answer in issued:
            described = http.get(SELF, headers=headers_of(answer.body))
            assert described.status_code == 200, (answer.body["credential_id"], described.text)
            assert described.json()["credential_id"] == answer.body["credential_id"]
        # A credential stored without reaching its client (its commit went through as PostgreSQL
        # shut down, the answer was a 503) is harmless: nobody holds its key. None is missing.
        stored = asyncio.run(stored_credential_ids(stack.postgres.url))
        assert {answer.body["credential_id"] for answer in issued} <= stored

        # Every answer was a grant or a clear 503: never a 500, never a dropped connection.
        statuses = Counter(answer.status for answer in answers)
        assert 503 in statuses, "the burst never met the outage"
        for answer in answers:
            if answer.status == 503:
                assert answer.body["error_code"] == "SERVICE_UNAVAILABLE", answer.body
                assert "retry" in answer.body["recovery_action"].lower(), answer.body
        unexpected = [answer.body for answer in answers if answer.status not in {200, 503}]
        assert not unexpected, (
            f"answers by status: {dict(statuses)}; unexpected: {unexpected}; server errors: "
            f"{server_exceptions(server.log_path)}"
        )


def server_exceptions(log_path: Path) -> dict[str, int]:
    """The final exception lines of the tracebacks in a server log (escaped onto their event's
    line: ``traceback="…\\n…"``), counted."""
    found = re.findall(
        r"\\n(sqlalchemy\.exc\.\w+: .*?)(?=\\n|\"|$)", log_path.read_text(), flags=re.M
    )
    return dict(Counter(found))


async def stored_credential_ids(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text("SELECT id FROM credentials"))
            return {str(row[0]) for row in result}
    finally:
        await engine.dispose()


# --- Redis ----------------------------------------------------------------------------------


def test_redis_stopped_mid_run_fails_open_for_rates_and_still_refuses_revoked_keys(
    tmp_path: Path,
) -> None:
    limit = 5
    with (
        outage_stack(tmp_path, key_cache_seconds="1", request_rate=limit) as stack,
        stack.server("one") as one_server,
        stack.server("two") as two_server,
        client(one_server) as one,
        client(two_server) as two,
    ):
        kept = issue(one, "kept")
        doomed = issue(one, "doomed")
        first = one.get(SELF, headers=headers_of(kept))
        assert first.status_code == 200
        assert remaining(first) == limit - 1
        rate_errors = backend_errors(one, "rate_limit")
        publish_errors = backend_errors(one, "revocation_publish")

        stack.redis.stop()

        # Fail open: more requests than the rate allows, all answered, headers still sent.
        for _ in range(limit + 2):
            answered = one.get(SELF, headers=headers_of(kept))
            assert answered.status_code == 200, answered.text
            assert answered.headers["ratelimit-policy"] == f'"credential";q={limit};w=60'
            assert RATE_STATE.fullmatch(answered.headers["ratelimit"])
        homes = one.post(HOMES, headers=headers_of(kept))
        assert homes.status_code == 200, homes.text
        assert "ratelimit" in homes.headers
        assert backend_errors(one, "rate_limit") >= rate_errors + limit + 3

        # A revocation while Redis is down: refused by the revoking server at once ...
        assert one.get(SELF, headers=headers_of(doomed)).status_code == 200
        assert two.get(SELF, headers=headers_of(doomed)).status_code == 200
        revocation = one.post(doomed["revocation_path"], headers=headers_of(doomed))
        assert revocation.status_code == 200, revocation.text
        assert revocation.json()["outcome"] == "revoked"
        refused = one.get(SELF, headers=headers_of(doomed))
        assert refused.json()["error_code"] == "AUTH_REVOKED_CREDENTIAL", refused.text
        assert backend_errors(one, "revocation_publish") == publish_errors + 1
        # ... and by the other within the cache bound (its lost subscription turned its cache off).
        poll(
            lambda: two.get(SELF, headers=headers_of(doomed)).status_code == 401,
            seconds=1.5,
            what="the other server refuses the revoked key",
        )

        stack.redis.start()

        watcher = redis.Redis.from_url(stack.redis.url)
        try:

            def subscribers() -> int:
                counts: list[tuple[bytes | str, int]] = watcher.pubsub_numsub(CHANNEL)
                return counts[0][1]

            poll(
                lambda: subscribers() == 2,
                seconds=RECOVERY_SECONDS,
                what="both servers subscribe to revocations again",
            )

            # Rates are counted (and shared) in Redis again.
            limited = issue(one, "limited")
            poll(
                lambda: remaining(one.get(SELF, headers=headers_of(limited))) < limit,
                seconds=RECOVERY_SECONDS,
                what="the request rate is counted again",
            )
            statuses = [
                one.get(SELF, headers=headers_of(limited)).status_code for _ in range(limit)
            ]
            assert 429 in statuses, statuses
            over = two.get(SELF, headers=headers_of(limited))  # the other server shares the count
            assert over.status_code == 429, over.text
            assert over.json()["error_code"] == "RATE_LIMITED"
            assert int(over.headers["retry-after"]) > 0

            # Revocations are announced again: published, and the other server evicts at once.
            later = issue(one, "later")
            assert two.get(SELF, headers=headers_of(later)).status_code == 200  # cached on two
            with PubSub(watcher.connection_pool) as listener:
                listener.subscribe(CHANNEL)
                assert listener.get_message(timeout=1) is not None  # the subscribe confirmation
                revoked_later = one.post(later["revocation_path"], headers=headers_of(later))
                assert revoked_later.status_code == 200
                started = time.monotonic()
                while (answer := two.get(SELF, headers=headers_of(later))).status_code == 200:
                    assert time.monotonic() - started < ANNOUNCEMENT_DEADLINE_SECONDS, (
                        "refused only by the cache bound: the announcement did not arrive"
                    )
                    time.sleep(0.02)
                assert answer.json()["error_code"] == "AUTH_REVOKED_CREDENTIAL"
                announced = listener.get_message(timeout=1)
            assert announced is not None
            assert announced["data"] == later["credential_id"].encode()
            assert backend_errors(one, "revocation_publish") == publish_errors + 1
        finally:
            watcher.close()
