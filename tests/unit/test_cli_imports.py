"""The command line starts without its heavy dependencies: they are imported inside the
commands that use them, so `--help`, a refused setting or a bad option answer at once (and the
suite's many `agentkeys` subprocesses do not each pay for the web stack and the ORM)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("fastapi", "sqlalchemy", "alembic", "uvicorn", "redis", "starlette", "pandas", "pvlib")
COMMAND_GROUPS = (
    "serve",
    "db",
    "policy",
    "admin",
    "credentials",
    "decisions",
    "stats",
    "request",
    "whoami",
    "revoke",
    "webhooks",
)


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
        timeout=60,
    )


def test_importing_the_command_line_loads_no_heavy_module() -> None:
    result = run(
        [
            sys.executable,
            "-c",
            "import agentkeys.cli.main, sys; "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))",
        ]
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_help_lists_every_command_group() -> None:
    result = run([str(Path(sys.executable).with_name("agentkeys")), "--help"])

    assert result.returncode == 0, result.stderr
    listed = {
        line.strip("│ ").split(" ", 1)[0]
        for line in result.stdout.splitlines()
        if line.startswith("│ ") and not line.startswith("│  ")
    }
    assert set(COMMAND_GROUPS) <= listed, result.stdout
