"""Alembic environment: runs migrations over the service's own async engine."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from agentkeys.db.engine import create_engine, is_sqlite
from agentkeys.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
    finally:
        await engine.dispose()


def _run_offline(url: str) -> None:
    context.configure(url=url, target_metadata=metadata, render_as_batch=is_sqlite(url))
    with context.begin_transaction():
        context.run_migrations()


_url = config.get_main_option("sqlalchemy.url") or ""
if context.is_offline_mode():
    _run_offline(_url)
else:
    asyncio.run(_run_online(_url))
