"""ASGI entry point for uvicorn workers: settings from the environment, then ``create_app``."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from pydantic import ValidationError

from agentkeys.api.app import create_app
from agentkeys.config import Settings, settings_problems
from agentkeys.logs import configure_logging


def freezing_the_startup_heap(app: FastAPI) -> FastAPI:
    """``app`` whose lifespan, once started, hands every object alive to ``gc.freeze()``.

    A served process holds ~360,000 objects once started (the catalog, the models, the routes),
    and each full collection of the cyclic garbage collector walked them all: 180 ms here, a
    pause of every request in flight, which was the p99 of issuance (213 ms against 59 ms with
    the collector off, one worker at 32 connections). Frozen, they are never walked again (they
    live as long as the process anyway). Only the served process does it: a test process builds
    many apps, and a frozen cycle is never collected.
    """
    started = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(served: FastAPI) -> AsyncIterator[Any]:
        async with started(served) as state:
            gc.collect()
            gc.freeze()
            yield state

    app.router.lifespan_context = lifespan
    return app


try:
    settings = Settings()
except ValidationError as error:
    # Served without `agentkeys serve` (e.g. `uvicorn agentkeys.api.asgi:app`): still one line
    # per bad setting, not a traceback.
    lines = (f"configuration error: {problem}" for problem in settings_problems(error))
    raise SystemExit("\n".join(lines)) from None
configure_logging(settings.log_level, settings.log_format)
app = freezing_the_startup_heap(create_app(settings))
