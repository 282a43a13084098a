"""Real gateway processes for end-to-end tests: nginx (Debian's package) in front of a small
upstream app, both in temporary directories of their own, on free ports."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.servers import free_port

REPOSITORY = Path(__file__).resolve().parents[2]
NGINX_EXAMPLE = REPOSITORY / "examples" / "gateways" / "nginx.conf"
STARTUP_SECONDS = 30
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx")


def require_nginx() -> str:
    """nginx's executable; skips (fails with AGENTKEYS_REQUIRE_SERVICES=1) when not installed."""
    found = shutil.which("nginx") or next(
        (path for path in NGINX_CANDIDATES if os.access(path, os.X_OK)), None
    )
    if found is not None:
        return found
    reason = "nginx is not installed (Debian: apt-get install nginx)"
    if os.environ.get("AGENTKEYS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (AGENTKEYS_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            text = log.read_text() if log.exists() else "(no log)"
            pytest.fail(f"{process.args!r} did not listen on {port}:\n{text}")
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def echo_upstream(directory: Path) -> Iterator[int]:
    """``tests.support.echo_upstream`` in a process of its own; its port when entered."""
    port = free_port()
    log = directory / "upstream.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.echo_upstream", str(port)],
            cwd=REPOSITORY,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, log)
        yield port
    finally:
        stop(process)


def render_nginx_example(*, agentkeys_port: int, api_port: int, listen_port: int) -> str:
    """The README's nginx configuration with this run's three addresses, nothing else changed."""
    text = NGINX_EXAMPLE.read_text()
    for written, actual in (
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{agentkeys_port};"),
        ("server 127.0.0.1:9000;", f"server 127.0.0.1:{api_port};"),
        ("listen 8080;", f"listen 127.0.0.1:{listen_port};"),
    ):
        assert text.count(written) == 1, written
        text = text.replace(written, actual)
    return text


def nginx_main_config(prefix: Path, http_include: Path) -> str:
    """A main configuration for an unprivileged nginx of the test's own: pid, logs and temporary
    files in ``prefix``, in the foreground, one worker."""
    user = ""
    if os.geteuid() == 0:
        # As root, workers would switch to 'nobody', who cannot enter the test's directory.
        name = pwd.getpwuid(0).pw_name
        user = f"user {name};\n"
    temporary = "\n".join(
        f"    {kind}_temp_path {prefix / (kind + '_temp')};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}daemon off;
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 256; }}
http {{
    access_log {prefix / "access.log"};
{temporary}
    include {http_include};
}}
"""


@contextmanager
def running_nginx(executable: str, directory: Path, http_config: str, port: int) -> Iterator[None]:
    """nginx with ``http_config`` in its http context, checked (``nginx -t``) then started in
    the foreground; stopped on exit."""
    prefix = directory / "nginx"
    prefix.mkdir()
    include = prefix / "gateway.conf"
    include.write_text(http_config)
    main = prefix / "nginx.conf"
    main.write_text(nginx_main_config(prefix, include))
    command = [executable, "-p", str(prefix), "-c", str(main)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    log = prefix / "error.log"
    with (prefix / "stdout.log").open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, process, log)
        yield
    finally:
        stop(process)
