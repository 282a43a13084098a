"""The decision export of 100,000 decisions (issue 10): complete, in order, and in memory bounded
by a batch, never by the ledger. On SQLite (the storage behaviour is tested on both backends in
test_admin_decisions.py; this is the size)."""

from __future__ import annotations

import json
import tracemalloc
from datetime import timedelta

from agentkeys.config import Settings
from tests.support.admin import create_admin_key
from tests.support.app import START, AppFactory, client_for
from tests.support.ledger import credential_id, decision_id, seed_decisions, stream_get

EXPORT = "/v1/admin/decisions/export"
DECISIONS = 100_000
# The most the export may allocate at once: a few batches' worth, a small part of its output.
BOUND_BYTES = 16 * 1024 * 1024


async def test_an_export_of_100k_decisions_is_complete_in_bounded_memory(
    make_app: AppFactory, settings: Settings
) -> None:
    first_decision = START - timedelta(seconds=DECISIONS)
    await seed_decisions(
        settings.database_url, DECISIONS, start=first_decision, step=timedelta(seconds=1)
    )
    _, key = await create_admin_key(settings, "ops")
    app = make_app()
    lines = 0
    output_bytes = 0
    pending = b""
    first: dict[str, object] | None = None
    last: dict[str, object] | None = None

    async def read(chunk: bytes) -> None:
        """Checks each line as it arrives and keeps none: the test's memory stays small too."""
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

    async with client_for(app):
        tracemalloc.start()
        try:
            status = await stream_get(
                app, EXPORT, headers={"Authorization": f"Bearer {key}"}, on_chunk=read
            )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert status == 200
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
    # The output is far larger than anything held at once.
    assert output_bytes > 50 * 1024 * 1024
    assert peak < BOUND_BYTES, (peak, output_bytes)
