"""nginx (Debian's package) as a load balancer on loopback in front of server processes: a
non-daemon child process with a private prefix directory, round-robin over its upstreams. A
missing nginx skips the test, or fails it with ``AGENTKEYS_REQUIRE_SERVICES=1``."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.private_services import unavailable
from tests.support.servers import free_port

START_SECONDS = 20


def nginx_binary() -> str:
    found = os.environ.get("AGENTKEYS_TEST_NGINX") or shutil.which("nginx")
    if found is None and Path("/usr/sbin/nginx").exists():
        found = "/usr/sbin/nginx"
    if found is None:
        unavailable("nginx is not installed (apt-get install nginx-light)")
    return found


def configuration(prefix: Path, port: int, upstreams: list[str]) -> str:
    servers = "\n".join(f"    server {url.removeprefix('http://')};" for url in upstreams)
    temp = "\n".join(
        f"  {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""daemon off;
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
{temp}
  upstream agentkeys {{
{servers}
    keepalive 16;
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


@contextmanager
def load_balancer(upstreams: list[str], directory: Path) -> Iterator[str]:
    """nginx listening on a free loopback port in front of ``upstreams``; its base URL, once
    it answers ``/healthz`` through an upstream."""
    nginx = nginx_binary()
    prefix = directory / "nginx"
    prefix.mkdir()
    port = free_port()
    (prefix / "nginx.conf").write_text(configuration(prefix, port, upstreams))
    with (prefix / "stdout.log").open("wb") as log:
        process = subprocess.Popen(
            [nginx, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", "nginx.conf"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                if httpx.get(f"{base_url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                error_log = prefix / "error.log"
                shown = error_log.read_text() if error_log.exists() else ""
                pytest.fail(f"nginx did not start:\n{shown}")
            time.sleep(0.1)
        yield base_url
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=30)
