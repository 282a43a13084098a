"""Start real `agentkeys serve` processes for end-to-end tests, and stop them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.app import TEST_SECRET

# Generous: under xdist on a loaded two-core machine, importing the app alone can take 20 s.
STARTUP_SECONDS = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class RunningServer:
    base_url: str
    log_path: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            # Generous: a loaded CI machine stops two workers slower than an idle one (~2 s).
            self.process.wait(timeout=30)


@contextmanager
def running_server(
    *,
    database_url: str,
    log_path: Path,
    extra_env: dict[str, str] | None = None,
    arguments: tuple[str, ...] = (),
) -> Iterator[RunningServer]:
    """`agentkeys serve` on a free port (``arguments`` added, e.g. ``("--workers", "2")``),
    ready (``/readyz`` answers 200) when entered."""
    port = free_port()
    environment = {
        **os.environ,
        "AGENTKEYS_MODE": "production",
        "AGENTKEYS_SECRET": TEST_SECRET,
        "AGENTKEYS_DATABASE_URL": database_url,
        "AGENTKEYS_LOG_LEVEL": "DEBUG",
        **(extra_env or {}),
    }
    executable = Path(sys.executable).with_name("agentkeys")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(executable), "serve", "--port", str(port), *arguments],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=log_path.parent,
        )
    server = RunningServer(f"http://127.0.0.1:{port}", log_path, process)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                if httpx.get(f"{server.base_url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield server
    finally:
        server.stop()
