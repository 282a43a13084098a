"""The real command line refuses every bad setting and every unusable database or port in one
line on stderr with a non-zero exit, before anything starts: no traceback, no "startup complete".
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentkeys.config import DEVELOPMENT_SECRET
from agentkeys.db import migrate
from tests.support.app import TEST_SECRET
from tests.support.databases import fresh_postgres_database, postgres_url, unused_database_name
from tests.support.factories import SEED_REQUEST
from tests.support.servers import free_port, running_server

AGENTKEYS = str(Path(sys.executable).with_name("agentkeys"))
CONFIGURATION_ERROR = 2
ENVIRONMENT_ERROR = 1


def run(command: list[str], cwd: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AGENTKEYS_")},
        "AGENTKEYS_MODE": "production",
        "AGENTKEYS_SECRET": TEST_SECRET,
        "AGENTKEYS_DATABASE_URL": f"sqlite:///{cwd / 'agentkeys.db'}",
        **{f"AGENTKEYS_{name.upper()}": value for name, value in settings.items()},
    }
    return subprocess.run(
        [AGENTKEYS, *command],
        env=environment,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def serve() -> list[str]:
    return ["serve", "--port", str(free_port())]


def upgrade() -> list[str]:
    return ["db", "upgrade"]


def assert_refused(result: subprocess.CompletedProcess[str], *, code: int, said: str) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, result.stderr
    assert len(lines) == 1, result.stderr
    assert said in lines[0]
    assert "startup complete" not in result.stdout + result.stderr
    return lines[0]


BAD_SETTINGS = [
    pytest.param({"log_level": "LOUD"}, "AGENTKEYS_LOG_LEVEL: unknown log level 'LOUD'", id="log"),
    pytest.param(
        {"log_format": "xml"}, "AGENTKEYS_LOG_FORMAT: unknown log format 'xml'", id="log-format"
    ),
    pytest.param(
        {"database_url": "postgresql+psycopg2://u:hunter2hunter2@db/keys"},
        "AGENTKEYS_DATABASE_URL: driver 'psycopg2' is not supported",
        id="sync-driver",
    ),
    pytest.param(
        {"database_url": "mysql://u:hunter2hunter2@db/keys"},
        "AGENTKEYS_DATABASE_URL: unsupported database 'mysql'",
        id="other-database",
    ),
    pytest.param(
        {"database_url": "::hunter2hunter2"},
        "AGENTKEYS_DATABASE_URL: not a database URL",
        id="unparseable-url",
    ),
    pytest.param(
        {"database_url": "sqlite:////nonexistent-agentkeys-dir/sub/agentkeys.db"},
        "does not exist: /nonexistent-agentkeys-dir/sub",
        id="sqlite-missing-directory",
    ),
    pytest.param({"secret": "hunter2hunter2"}, "at least 32 characters", id="short-secret"),
    pytest.param({"secret": "_" * 32}, "too predictable", id="weak-secret"),
    pytest.param({"secret": DEVELOPMENT_SECRET + "."}, "derived from the built-in", id="derived"),
    pytest.param({"mode": "staging"}, "AGENTKEYS_MODE:", id="mode"),
    pytest.param({"redis_url": "http://cache:6379"}, "AGENTKEYS_REDIS_URL:", id="redis-url"),
    pytest.param({"max_body_bytes": "lots"}, "AGENTKEYS_MAX_BODY_BYTES:", id="body-limit"),
    pytest.param({"key_cache_seconds": "5"}, "AGENTKEYS_KEY_CACHE_SECONDS:", id="cache"),
    pytest.param({"trusted_proxies": "proxy.local"}, "AGENTKEYS_TRUSTED_PROXIES:", id="proxies"),
    pytest.param({"header_timeout_seconds": "0"}, "AGENTKEYS_HEADER_TIMEOUT_SECONDS:", id="head"),
    pytest.param({"body_timeout_seconds": "-1"}, "AGENTKEYS_BODY_TIMEOUT_SECONDS:", id="body"),
    pytest.param(
        {"keepalive_timeout_seconds": "never"}, "AGENTKEYS_KEEPALIVE_TIMEOUT_SECONDS:", id="idle"
    ),
]


class TestBadSettings:
    @pytest.mark.parametrize("command", [serve, upgrade], ids=["serve", "db-upgrade"])
    @pytest.mark.parametrize(("settings", "said"), BAD_SETTINGS)
    def test_one_line_and_exit_2(
        self, command: object, settings: dict[str, str], said: str, tmp_path: Path
    ) -> None:
        assert callable(command)
        result = run(command(), tmp_path, **settings)

        line = assert_refused(result, code=CONFIGURATION_ERROR, said=said)
        assert line.startswith("configuration error: ")
        assert "hunter2hunter2" not in result.stderr + result.stdout


def test_the_asgi_entry_point_reports_bad_settings_in_one_line(tmp_path: Path) -> None:
    """Served by uvicorn directly, without `agentkeys serve`."""
    environment = {**os.environ, "AGENTKEYS_MODE": "development", "AGENTKEYS_LOG_LEVEL": "LOUD"}
    result = subprocess.run(
        [sys.executable, "-m", "uvicorn", "agentkeys.api.asgi:app", "--port", str(free_port())],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert_refused(result, code=1, said="configuration error: AGENTKEYS_LOG_LEVEL: unknown")


class TestPlainUrls:
    def test_a_plain_sqlite_url_is_served_with_the_async_driver(self, tmp_path: Path) -> None:
        url = f"sqlite:///{tmp_path / 'plain.db'}"
        with (
            running_server(database_url=url, log_path=tmp_path / "server.log") as server,
            httpx.Client(base_url=server.base_url) as http,
        ):
            assert http.post("/v1/agent-credentials", json=SEED_REQUEST).status_code == 200

    @pytest.mark.postgres
    def test_a_plain_postgresql_url_is_migrated_and_served(self, tmp_path: Path) -> None:
        with fresh_postgres_database() as async_url:
            url = async_url.replace("postgresql+asyncpg://", "postgresql://", 1)

            assert run(upgrade(), tmp_path, database_url=url).returncode == 0
            with (
                running_server(database_url=url, log_path=tmp_path / "server.log") as server,
                httpx.Client(base_url=server.base_url) as http,
            ):
                assert http.post("/v1/agent-credentials", json=SEED_REQUEST).status_code == 200


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


@pytest.mark.postgres
class TestUnusablePostgres:
    @pytest.mark.parametrize("command", [serve, upgrade], ids=["serve", "db-upgrade"])
    def test_a_database_that_does_not_exist_is_named_with_the_fix(
        self, command: object, tmp_path: Path
    ) -> None:
        assert callable(command)
        name = unused_database_name()

        result = run(command(), tmp_path, database_url=postgres_url(name))

        line = assert_refused(result, code=ENVIRONMENT_ERROR, said=f"database '{name}'")
        assert "does not exist" in line
        assert f"createdb {name}" in line

    @pytest.mark.parametrize("command", [serve, upgrade], ids=["serve", "db-upgrade"])
    def test_an_unreachable_server_is_named(self, command: object, tmp_path: Path) -> None:
        assert callable(command)
        url = f"postgresql://postgres:hunter2hunter2@127.0.0.1:{free_port()}/agentkeys"

        result = run(command(), tmp_path, database_url=url)

        assert_refused(result, code=ENVIRONMENT_ERROR, said="cannot connect to the database")
        assert "hunter2hunter2" not in result.stderr

    def test_serve_refuses_a_database_never_migrated(
        self, fresh_postgres: str, tmp_path: Path
    ) -> None:
        result = run(serve(), tmp_path, database_url=fresh_postgres)

        line = assert_refused(result, code=ENVIRONMENT_ERROR, said="never created")
        assert "agentkeys db upgrade" in line

    def test_serve_refuses_a_schema_behind_and_starts_once_upgraded(
        self, fresh_postgres: str, tmp_path: Path
    ) -> None:
        asyncio.run(asyncio.to_thread(migrate.upgrade, fresh_postgres, "0001"))

        result = run(serve(), tmp_path, database_url=fresh_postgres)

        line = assert_refused(result, code=ENVIRONMENT_ERROR, said="at revision 0001, behind")
        assert "agentkeys db upgrade" in line
        upgraded = run(upgrade(), tmp_path, database_url=fresh_postgres)
        assert upgraded.returncode == 0, upgraded.stderr
        with running_server(database_url=fresh_postgres, log_path=tmp_path / "server.log"):
            pass


class TestUnusableSqlite:
    @pytest.mark.parametrize("command", [serve, upgrade], ids=["serve", "db-upgrade"])
    def test_a_file_that_cannot_be_opened_is_named(self, command: object, tmp_path: Path) -> None:
        assert callable(command)
        directory = tmp_path / "a-directory.db"
        directory.mkdir()

        result = run(command(), tmp_path, database_url=f"sqlite:///{directory}")

        assert_refused(result, code=ENVIRONMENT_ERROR, said=f"SQLite database '{directory}'")

    @pytest.mark.parametrize("command", [serve, upgrade], ids=["serve", "db-upgrade"])
    def test_a_file_that_is_not_a_database_is_named(self, command: object, tmp_path: Path) -> None:
        assert callable(command)
        path = tmp_path / "notes.db"
        path.write_text("these are notes, not a database\n" * 100)

        result = run(command(), tmp_path, database_url=f"sqlite:///{path}")

        line = assert_refused(result, code=ENVIRONMENT_ERROR, said=f"SQLite database '{path}'")
        assert "not a database" in line


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--port", "99999"], "--port 99999 is not a TCP port"),
        (["--port", "-1"], "--port -1 is not a TCP port"),
        (["--workers", "0"], "--workers 0: at least 1"),
    ],
)
def test_bad_serve_options_are_one_line(options: list[str], said: str, tmp_path: Path) -> None:
    assert_refused(run(["serve", *options], tmp_path), code=CONFIGURATION_ERROR, said=said)


@pytest.mark.parametrize("host", ["nosuchhost.invalid", "192.0.2.1"])
def test_an_address_that_cannot_be_listened_on_is_one_line(host: str, tmp_path: Path) -> None:
    result = run(["serve", "--host", host, "--port", str(free_port())], tmp_path)

    assert_refused(result, code=ENVIRONMENT_ERROR, said=f"cannot listen on {host}:")


class TestPortInUse:
    def test_serve_reports_the_port_before_starting(self, tmp_path: Path) -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]

            result = run(["serve", "--port", str(port)], tmp_path)

        line = assert_refused(result, code=ENVIRONMENT_ERROR, said=f"127.0.0.1:{port}")
        assert "cannot listen" in line
        assert "in use" in line


class TestRefusedCommands:
    """Commands that cannot work as asked are refused in one line before anything is touched."""

    @pytest.mark.parametrize("workers", ["2", "3"])
    def test_several_workers_need_redis(self, tmp_path: Path, workers: str) -> None:
        result = run([*serve(), "--workers", workers], tmp_path)

        line = assert_refused(result, code=CONFIGURATION_ERROR, said=f"--workers {workers} needs")
        assert "AGENTKEYS_REDIS_URL" in line
        assert not (tmp_path / "agentkeys.db").exists()

    def test_several_workers_with_redis_serve(self, tmp_path: Path, redis_url: str) -> None:
        log_path = tmp_path / "server.log"
        port = free_port()
        environment = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AGENTKEYS_")},
            "AGENTKEYS_MODE": "production",
            "AGENTKEYS_SECRET": TEST_SECRET,
            "AGENTKEYS_DATABASE_URL": f"sqlite:///{tmp_path / 'agentkeys.db'}",
            "AGENTKEYS_REDIS_URL": redis_url,
        }
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [AGENTKEYS, "serve", "--port", str(port), "--workers", "2"],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.2)
        finally:
            process.terminate()
            process.wait(timeout=20)

    @pytest.mark.parametrize("revision", ["zzz", "0099", "head+5"])
    def test_an_unknown_revision_is_named_and_no_file_is_left(
        self, tmp_path: Path, revision: str
    ) -> None:
        result = run(["db", "upgrade", revision], tmp_path)

        line = assert_refused(
            result, code=CONFIGURATION_ERROR, said=f"unknown revision '{revision}'"
        )
        assert "SQLite" not in line
        assert "head" in line
        assert list(tmp_path.iterdir()) == []

    @pytest.mark.parametrize(
        "url", ["sqlite://", "sqlite:///:memory:", "sqlite+aiosqlite:///:memory:"]
    )
    @pytest.mark.parametrize("command", [["db", "upgrade"], ["serve", "--port", "0"]])
    def test_an_in_memory_database_is_refused(
        self, tmp_path: Path, url: str, command: list[str]
    ) -> None:
        result = run(command, tmp_path, database_url=url)

        line = assert_refused(result, code=CONFIGURATION_ERROR, said="in-memory SQLite database")
        assert "sqlite:///agentkeys.db" in line
