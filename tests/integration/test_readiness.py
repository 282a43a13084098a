"""A database that is missing, never migrated, behind or ahead of this version: /readyz says so
(503, naming the fix) and every request answers 503 SERVICE_UNAVAILABLE with Retry-After, never
500. On both backends."""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from agentkeys.api.app import create_app
from agentkeys.config import Mode, Settings
from agentkeys.credentials import keys
from agentkeys.db import migrate
from tests.support.app import TEST_SECRET, client_for
from tests.support.databases import (
    empty_database,
    empty_tables,
    postgres_url,
    sqlite_url,
    unused_database_name,
)
from tests.support.factories import SEED_REQUEST

# Readiness reads the database: missing, unmigrated, behind.
pytestmark = pytest.mark.both_backends


@pytest.fixture
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    with empty_database(backend, tmp_path) as url:
        yield url


def app_on(url: str) -> client_for:
    settings = Settings(mode=Mode.PRODUCTION, secret=TEST_SECRET, database_url=url)
    return client_for(create_app(settings))


def well_formed_key() -> dict[str, str]:
    """A key that passes every check made without the database, so it reaches the database."""
    return {"x-ws-api-key": keys.mint(server_secret=TEST_SECRET.encode()).secret}


async def every_kind_of_request(http: httpx.AsyncClient) -> list[httpx.Response]:
    """Issuance (quota reads, ledger writes) and a guarded route (key look-up)."""
    return [
        await http.post("/v1/agent-credentials", json=SEED_REQUEST),
        await http.get("/v1/agent-credentials/self", headers=well_formed_key()),
        await http.post("/v1/homes/list", headers=well_formed_key(), json={}),
        await http.post(
            "/v1/feedback", headers=well_formed_key(), json={"name": "a", "message": "m"}
        ),
    ]


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["error_code"] == "SERVICE_UNAVAILABLE"
    assert int(response.headers["Retry-After"]) > 0
    assert body["retry_after_seconds"] == int(response.headers["Retry-After"])


async def readiness(http: httpx.AsyncClient) -> httpx.Response:
    response = await http.get("/readyz")
    if response.status_code != 200:
        assert_unavailable(response)
    return response


class TestNeverMigrated:
    async def test_readyz_says_to_run_db_upgrade(self, fresh_url: str) -> None:
        async with app_on(fresh_url) as http:
            response = await readiness(http)

        assert response.status_code == 503
        assert "never created" in response.json()["recovery_action"]
        assert "agentkeys db upgrade" in response.json()["recovery_action"]

    async def test_every_request_answers_503(self, fresh_url: str) -> None:
        async with app_on(fresh_url) as http:
            for response in await every_kind_of_request(http):
                assert_unavailable(response)


class TestBehind:
    async def test_readyz_names_the_revisions_and_the_fix(self, fresh_url: str) -> None:
        await asyncio.to_thread(migrate.upgrade, fresh_url, "0001")

        async with app_on(fresh_url) as http:
            response = await readiness(http)

        assert response.status_code == 503
        recovery = response.json()["recovery_action"]
        assert "at revision 0001, behind" in recovery
        assert "agentkeys db upgrade" in recovery

    async def test_every_request_answers_503(self, fresh_url: str) -> None:
        # Revision 0001 lacks columns the code uses (undefined column, not a missing table).
        await asyncio.to_thread(migrate.upgrade, fresh_url, "0001")

        async with app_on(fresh_url) as http:
            for response in await every_kind_of_request(http):
                assert_unavailable(response)

    async def test_ready_and_serving_once_upgraded(self, fresh_url: str) -> None:
        await asyncio.to_thread(migrate.upgrade, fresh_url, "0001")
        async with app_on(fresh_url) as http:
            assert (await readiness(http)).status_code == 503
            await asyncio.to_thread(migrate.upgrade, fresh_url)

            assert (await readiness(http)).json() == {"status": "ready"}
            issued = await http.post("/v1/agent-credentials", json=SEED_REQUEST)
            assert issued.json()["outcome"] == "issued"


class TestAhead:
    async def test_readyz_refuses_a_revision_it_does_not_know(self, fresh_url: str) -> None:
        await asyncio.to_thread(migrate.upgrade, fresh_url)
        engine = create_async_engine(fresh_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        finally:
            await engine.dispose()

        async with app_on(fresh_url) as http:
            response = await readiness(http)

        assert response.status_code == 503
        assert "9999, unknown to this version" in response.json()["recovery_action"]


class TestMissing:
    @pytest.fixture
    def missing_url(self, backend: str, tmp_path: Path) -> str:
        if backend == "postgresql":
            return postgres_url(unused_database_name())
        # The directory existed when the settings were read, and went away.
        directory = tmp_path / "gone"
        directory.mkdir()
        return sqlite_url(directory / "agentkeys.db")

    async def test_readyz_and_every_request_answer_503(self, missing_url: str) -> None:
        client = app_on(missing_url)
        shutil.rmtree(Path(missing_url.removeprefix("sqlite+aiosqlite:///")).parent, True)

        async with client as http:
            response = await readiness(http)
            assert response.status_code == 503
            assert "not reachable" in response.json()["message"]
            for answer in await every_kind_of_request(http):
                assert_unavailable(answer)
            await aiosqlite_threads_ended()


async def aiosqlite_threads_ended() -> None:
    """A failed aiosqlite connection stops its worker thread through the event loop: let it
    finish before the test's loop closes (else the thread meets a closed loop)."""
    deadline = asyncio.get_running_loop().time() + 10
    while any("_connection_worker_thread" in thread.name for thread in threading.enumerate()):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.01)


class TestAtHead:
    async def test_readyz_is_ready(self, database_url: str) -> None:
        async with app_on(database_url) as http:
            assert (await readiness(http)).json() == {"status": "ready"}


class TestFailureLog:
    async def test_a_failed_check_is_one_line_without_a_traceback(
        self, backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        if backend == "postgresql":
            url = postgres_url(unused_database_name())
        else:
            directory = tmp_path / "gone"
            directory.mkdir()
            url = sqlite_url(directory / "agentkeys.db")
        client = app_on(url)
        shutil.rmtree(tmp_path / "gone", True)

        with caplog.at_level(logging.WARNING, logger="agentkeys"):
            async with client as http:
                assert (await readiness(http)).status_code == 503
                await aiosqlite_threads_ended()

        failures = [r for r in caplog.records if r.getMessage().startswith("readiness check")]
        assert len(failures) == 1
        record = failures[0]
        assert record.exc_info is None
        # The error's class and message, on one line.
        assert re.fullmatch(r"readiness check failed: \w+: .+", record.getMessage())
        assert "\n" not in record.getMessage()


@pytest.fixture
def postgres_only_url(postgres_database: str) -> str:
    """The run's PostgreSQL database, emptied: sslmode means something only there."""
    asyncio.run(empty_tables(postgres_database))
    return postgres_database


class TestPostgresqlSslModes:
    """A libpq sslmode in the URL reaches asyncpg as its ssl argument: the server works with it.
    (The local PostgreSQL has no TLS: disable and allow/prefer, which fall back, connect.)"""

    @pytest.mark.parametrize("mode", ["disable", "allow", "prefer"])
    async def test_the_server_is_ready_and_serves(self, postgres_only_url: str, mode: str) -> None:
        plain = postgres_only_url.replace("postgresql+asyncpg://", "postgresql://")

        async with app_on(f"{plain}?sslmode={mode}") as http:
            assert (await readiness(http)).json() == {"status": "ready"}
            issued = await http.post("/v1/agent-credentials", json=SEED_REQUEST)
            assert issued.json()["outcome"] == "issued"

    async def test_require_against_a_server_without_tls_is_unavailable_not_500(
        self, postgres_only_url: str
    ) -> None:
        plain = postgres_only_url.replace("postgresql+asyncpg://", "postgresql://")

        async with app_on(f"{plain}?sslmode=require") as http:
            response = await http.get("/readyz")

        assert response.status_code == 503
