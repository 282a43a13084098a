"""Private PostgreSQL and Redis instances that a test may stop and start again at will.

Each lives in a temporary directory of its own and listens on 127.0.0.1 at a free port; the
machine's shared services (5432, 6379) are never touched. A missing binary skips the test with
the reason, or fails it when ``AGENTKEYS_REQUIRE_SERVICES=1`` (as ``require_reachable`` does).

PostgreSQL refuses to run as root, so when the tests run as root every PostgreSQL binary runs as
the ``postgres`` OS user (``runuser -u postgres --``) and the data directory belongs to it. That
directory is made with ``tempfile.mkdtemp`` under the system temporary directory, not under
pytest's ``tmp_path`` (``/tmp/pytest-of-root`` is ``0700``: the ``postgres`` user cannot enter
it); the server's log is copied into ``tmp_path`` when the instance is removed.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

from tests.support.servers import free_port

POSTGRES_USER = "postgres"
DATABASE = "agentkeys"
START_SECONDS = 20
COMMAND_SECONDS = 60


def unavailable(reason: str) -> NoReturn:
    """Skip with ``reason``, or fail with it when ``AGENTKEYS_REQUIRE_SERVICES=1``."""
    if os.environ.get("AGENTKEYS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (AGENTKEYS_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# --- PostgreSQL -----------------------------------------------------------------------------


def postgres_binaries() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` holding initdb, pg_ctl and postgres."""
    found = [
        Path(directory)
        for directory in glob.glob("/usr/lib/postgresql/*/bin")
        if all((Path(directory) / name).is_file() for name in ("initdb", "pg_ctl", "postgres"))
    ]
    found.sort(key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0)
    return found[-1] if found else None


@dataclass
class PrivatePostgres:
    """One PostgreSQL cluster of the test's own; ``stop()`` and ``start()`` it mid-test."""

    bin_dir: Path
    directory: Path
    port: int
    run_as: list[str]

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://{POSTGRES_USER}@127.0.0.1:{self.port}/{DATABASE}"

    def run(self, program: str, *arguments: str) -> None:
        command = [*self.run_as, str(self.bin_dir / program), *arguments]
        finished = subprocess.run(
            command, capture_output=True, timeout=COMMAND_SECONDS, cwd=self.directory, check=False
        )
        if finished.returncode != 0:
            output = (finished.stdout + finished.stderr).decode(errors="replace")
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            pytest.fail(f"{program} failed ({finished.returncode}):\n{output}\n{log}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections (``pg_ctl start -w``)."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.directory} -c fsync=off"
        )
        self.run(
            "pg_ctl", "start", "-w", "-t", str(START_SECONDS), "-D", str(self.data),
            "-l", str(self.log), "-o", options,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``pg_ctl stop -m fast``: open sessions are cut off) and wait."""
        self.run("pg_ctl", "stop", "-w", "-m", mode, "-D", str(self.data))

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


@contextmanager
def private_postgres(tmp_path: Path) -> Iterator[PrivatePostgres]:
    """A fresh cluster (trust auth) with an empty database ``agentkeys``; yields its handle.

    ``.url`` is the ``postgresql+asyncpg://`` URL. Stopped and removed at the end, even on
    failure; its log is copied to ``tmp_path / "postgres.log"``.
    """
    bin_dir = postgres_binaries()
    if bin_dir is None:
        unavailable("PostgreSQL binaries (initdb, pg_ctl, postgres) not found under /usr/lib")
    run_as: list[str] = []
    owner: pwd.struct_passwd | None = None
    if os.geteuid() == 0:
        runuser = shutil.which("runuser")
        try:
            owner = pwd.getpwnam(POSTGRES_USER)
        except KeyError:
            owner = None
        if runuser is None or owner is None:
            unavailable("running as root needs `runuser` and a `postgres` OS user for PostgreSQL")
        run_as = [runuser, "-u", POSTGRES_USER, "--"]
    directory = Path(tempfile.mkdtemp(prefix="agentkeys-private-postgres-"))
    if owner is not None:
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    instance = PrivatePostgres(bin_dir, directory, free_port(), run_as)
    try:
        instance.run(
            "initdb", "-D", str(instance.data), "-U", POSTGRES_USER, "-A", "trust",
            "-E", "UTF8", "--no-sync", "--no-instructions",
        )  # fmt: skip
        instance.start()
        instance.run(
            "createdb", "-h", "127.0.0.1", "-p", str(instance.port), "-U", POSTGRES_USER, DATABASE
        )
        yield instance
    finally:
        if instance.running():
            with suppress(BaseException):
                instance.stop("immediate")
        with suppress(OSError):
            shutil.copyfile(instance.log, tmp_path / "postgres.log")
        shutil.rmtree(directory, ignore_errors=True)


# --- Redis ----------------------------------------------------------------------------------


@dataclass
class PrivateRedis:
    """One ``redis-server`` child process (no persistence); ``stop()`` and ``start()`` it."""

    executable: str
    directory: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.directory / "redis.log"

    def start(self) -> None:
        """Start the server on its port and wait until it answers PING."""
        assert self.process is None or self.process.poll() is not None, "already running"
        command = [
            self.executable, "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.directory),
            "--daemonize", "no",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_SECONDS
        while not self.answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start:\n{self.log.read_text()}")
            time.sleep(0.05)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Terminate the server and wait until it is gone (its counters go with it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        deadline = time.monotonic() + START_SECONDS
        while port_answers(self.port):
            assert time.monotonic() < deadline, f"port {self.port} still answers"
            time.sleep(0.05)


@contextmanager
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A ``redis-server`` of the test's own on a free port; ``.url`` is ``redis://…/0``."""
    executable = shutil.which("redis-server")
    if executable is None:
        unavailable("redis-server not found on PATH")
    directory = tmp_path / "redis"
    directory.mkdir()
    instance = PrivateRedis(executable, directory, free_port())
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()
