"""``agentkeys db prune``: remove decisions, and credentials expired or revoked, older than the
retention (the policy's ``[retention] older_than``, or ``--older-than``), batch by batch."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from agentkeys.cli.main import checked_policy, db_app, fail, load_settings
from agentkeys.clock import Clock, SystemClock, format_instant, to_millisecond
from agentkeys.config import Settings
from agentkeys.durations import format_duration, parse_duration

if TYPE_CHECKING:
    from agentkeys.retention.service import Pruned

# What "older than" is measured back from (tests put a frozen clock here).
clock: Clock = SystemClock()
DEFAULT_BATCH = 1000
LARGEST_BATCH = 100_000


@db_app.command("prune")
def db_prune(
    older_than: Annotated[
        str | None,
        typer.Option(
            help="Remove decisions made, and credentials expired or revoked, longer ago than "
            "this: a whole number and m, h, d or w (90d, 12h, 2w). Default: the policy file's "
            "retention.older_than (90d when unset).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be removed; change nothing.")
    ] = False,
    batch_size: Annotated[
        int,
        typer.Option(
            min=1,
            max=LARGEST_BATCH,
            help="Rows of a table looked at per transaction: each batch commits on its own, "
            "so the database's writers never wait long.",
        ),
    ] = DEFAULT_BATCH,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """Remove old decisions and long-dead credentials (with their homes and feedback); a
    decision whose credential is kept stays. Idempotency-Keys go once past their 24 hours."""
    from agentkeys.credentials.policy_file import retention_problem

    settings = load_settings()
    policy = checked_policy(settings.policy)
    retention = policy.retention.older_than
    if older_than is not None:
        try:
            retention = parse_duration(older_than)
        except ValueError as error:
            fail(f"--older-than: {error}", code=2)
        problem = retention_problem(retention, policy)
        if problem is not None:
            fail(f"--older-than: {problem}", code=2)
    now = clock.now()
    cutoff = to_millisecond(now - retention)
    pruned = run_prune(settings, cutoff=cutoff, now=now, dry_run=dry_run, batch_size=batch_size)
    report(
        pruned,
        older_than=format_duration(retention),
        cutoff=cutoff,
        dry_run=dry_run,
        as_json=as_json,
    )


def run_prune(
    settings: Settings, *, cutoff: datetime, now: datetime, dry_run: bool, batch_size: int
) -> Pruned:
    """Count (dry run), or prune batch by batch: each batch its own committed transaction, so
    an interrupted prune keeps what it did and a rerun goes on."""
    from sqlalchemy.exc import DBAPIError

    from agentkeys.db import migrate
    from agentkeys.db.engine import create_engine, create_session_factory
    from agentkeys.retention.service import Batch, Pruned, RetentionService

    async def prune() -> Pruned:
        engine = create_engine(settings.database_url)
        sessions = create_session_factory(engine)
        total = Pruned()
        try:
            if dry_run:
                async with sessions() as session:
                    return await RetentionService(session).plan(cutoff, now=now)
            for step in ("credentials", "decisions"):
                after: str | None = None
                while True:
                    async with sessions() as session:
                        service = RetentionService(session)
                        batch: Batch = await (
                            service.prune_credentials
                            if step == "credentials"
                            else service.prune_decisions
                        )(cutoff, after=after, size=batch_size)
                        await session.commit()
                    total += batch.pruned
                    if batch.done:
                        break
                    after = batch.next_after
            while True:
                async with sessions() as session:
                    batch = await RetentionService(session).prune_idempotency_keys(
                        now, size=batch_size
                    )
                    await session.commit()
                total += batch.pruned
                if batch.done:
                    break
            return total
        finally:
            await engine.dispose()

    try:
        return asyncio.run(prune())
    except (DBAPIError, OSError) as error:
        fail(
            migrate.describe_failure(settings.database_url, error)
            + " (is the schema up to date? `agentkeys db upgrade`)"
        )


def report(
    pruned: Pruned, *, older_than: str, cutoff: datetime, dry_run: bool, as_json: bool
) -> None:
    counts = pruned.by_table()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "older_than": older_than,
                    "cutoff": format_instant(cutoff),
                    "dry_run": dry_run,
                    "would_remove" if dry_run else "removed": counts,
                },
                indent=2,
            )
        )
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    verb = "would remove" if dry_run else "removed"
    typer.echo(
        f"{'dry run: ' if dry_run else ''}decisions and dead credentials older than {older_than} "
        f"(before {format_instant(cutoff)})"
    )
    table = Table(box=box.SIMPLE)
    table.add_column("table", no_wrap=True)
    table.add_column(verb, justify="right", no_wrap=True)
    for name, count in counts.items():
        table.add_row(name, str(count))
    Console(width=200).print(table)
    if dry_run:
        typer.echo("nothing was changed (--dry-run)")
