"""The served app (``agentkeys.api.asgi``) freezes the objects alive once its lifespan has
started, so the garbage collector's full passes no longer walk them (a pause of every request in
flight), and a test process, which builds many apps, never does."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from tests.support.app import AppFactory, client_for

SERVED = """
import asyncio, gc
from agentkeys.api import asgi

async def main() -> None:
    before = gc.get_freeze_count()
    async with asgi.app.router.lifespan_context(asgi.app):
        frozen = gc.get_freeze_count()
        gc.collect()
        # A full pass now walks only what was made since: a small fraction of the heap.
        walked = len(gc.get_objects())
        print(before, frozen, walked)

asyncio.run(main())
"""


def test_the_served_app_freezes_its_startup_heap(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "AGENTKEYS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'heap.db'}",
        "AGENTKEYS_SECRET": "kP3v9QmZ2xL7tR4nW8yB1cF6hJ0sD5gA",
        "AGENTKEYS_WEBHOOKS_DELIVER": "false",
        "AGENTKEYS_LOG_LEVEL": "WARNING",
    }
    subprocess.run(  # the served process migrates first, as `agentkeys serve` does
        [str(Path(sys.executable).with_name("agentkeys")), "db", "upgrade"],
        env=env,
        check=True,
        capture_output=True,
    )
    answer = subprocess.run(
        [sys.executable, "-c", SERVED], env=env, check=True, capture_output=True, text=True
    )
    before, frozen, walked = (int(word) for word in answer.stdout.split()[-3:])

    assert before == 0
    assert frozen > 100_000  # the catalog, the models, the routes
    assert walked < frozen // 10


async def test_an_app_started_in_process_freezes_nothing(make_app: AppFactory) -> None:
    async with client_for(make_app()) as http:
        assert (await http.get("/healthz")).status_code == 200
    assert gc.get_freeze_count() == 0
