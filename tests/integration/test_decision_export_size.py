"""The decision export of 100,000 decisions (issue 10): complete, in order, and in memory bounded
by a batch, never by the ledger. Through a real server process on SQLite, whose peak resident
memory is read from the kernel (the storage behaviour is tested on both backends in
test_admin_decisions.py; this is the size)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import httpx

from agentkeys.config import Mode, Settings
from agentkeys.db import migrate
from tests.support.admin import create_admin_key
from tests.support.app import START, TEST_SECRET
from tests.support.databases import sqlite_url
from tests.support.ledger import credential_id, decision_id, seed_decisions
from tests.support.servers import running_server

EXPORT = "/v1/admin/decisions/export"
DECISIONS = 100_000
# The most the server's peak memory may grow by while exporting: a few batches' worth, a small
# part of the ~100 MB it sends (an export held in memory grows it by several hundred MB).
BOUND_BYTES = 24 * 1024 * 1024


def peak_resident_bytes(pid: int) -> int:
    """The process's peak resident set (VmHWM), as Linux counts it."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc/PID/status")


async def test_an_export_of_100k_decisions_is_complete_in_bounded_memory(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "served.db")
    await asyncio.to_thread(migrate.upgrade, url)  # alembic runs its own event loop
    first_decision = START - timedelta(seconds=DECISIONS)
    await seed_decisions(url, DECISIONS, start=first_decision, step=timedelta(seconds=1))
    settings = Settings(mode=Mode.PRODUCTION, secret=TEST_SECRET, database_url=url)
    _, key = await create_admin_key(settings, "ops")
    headers = {"Authorization": f"Bearer {key}"}
    lines = 0
    output_bytes = 0
    pending = b""
    first: dict[str, object] | None = None
    last: dict[str, object] | None = None

    def read(chunk: bytes) -> None:
        """Checks each line as it arrives and keeps none."""
        nonlocal lines, output_bytes, pending, first, last
        output_bytes += len(chunk)
        *complete, pending = (pending + chunk).split(b"\n")
        for line in complete:
            entry = json.loads(line)
            # Oldest first, every decision once: the n-th line is the n-th decision.
            assert entry["credential_request_id"] == decision_id(lines), lines
            first = entry if first is None else first
            last = entry
            lines += 1

    with running_server(database_url=url, log_path=tmp_path / "server.log") as server:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as client:
            # Warm: the route's imports, caches and one batch are in the baseline.
            warm = await client.get(
                EXPORT, params={"until": "2026-02-28T08:14:00Z"}, headers=headers
            )
            assert warm.status_code == 200, warm.text
            baseline = peak_resident_bytes(server.process.pid)
            async with client.stream("GET", EXPORT, headers=headers) as answer:
                assert answer.status_code == 200
                assert answer.headers["content-type"].startswith("application/x-ndjson")
                async for chunk in answer.aiter_bytes():
                    read(chunk)
            grown = peak_resident_bytes(server.process.pid) - baseline

    assert pending == b""  # the last line ends with a newline
    assert lines == DECISIONS
    assert first is not None
    assert last is not None
    assert first["decided_at"] == "2026-02-28T08:13:20.000Z"
    assert first["outcome"] == "issued"
    assert first["credential_id"] == credential_id(0)
    assert last["decided_at"] == "2026-03-01T11:59:59.000Z"
    assert last["credential_request_id"] == decision_id(DECISIONS - 1)
    assert last["outcome"] == "production_denied"
    assert last["credential_id"] is None
    # The output is far larger than anything the server held at once.
    assert output_bytes > 50 * 1024 * 1024
    assert grown < BOUND_BYTES, (grown, output_bytes)
