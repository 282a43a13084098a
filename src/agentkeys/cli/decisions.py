"""``agentkeys decisions list / export`` and ``agentkeys stats``: the decision ledger and the stats
of a window, read from the database directly (the admin API's service, the same answers)."""

from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic_core import PydanticCustomError

from agentkeys.cli.main import app, fail, load_settings, run_in_database
from agentkeys.clock import SystemClock, to_millisecond
from agentkeys.config import Settings
from agentkeys.credentials.policy import Outcome
from agentkeys.durations import parse_duration
from agentkeys.errors import ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from agentkeys.admin.schemas import AdminDecisionDto, AdminStatsDto
    from agentkeys.admin.service import AdminDecisionService, DecisionQuery

decisions_app: typer.Typer = typer.Typer(
    help="The decision ledger: every credential request and what it was answered.",
    no_args_is_help=True,
)
app.add_typer(decisions_app, name="decisions")

MAX_LIST_LIMIT = 1000
WIDE = 240

OutcomeOption = Annotated[
    str | None,
    typer.Option(help="issued, needs_more_info, rate_limited or production_denied."),
]
OrganizationOption = Annotated[
    str | None, typer.Option(help="Its quota identity: case and punctuation do not matter.")
]
EmailOption = Annotated[
    str | None,
    typer.Option("--user-email", help="Its quota identity: case and +tags do not matter."),
]
AddressOption = Annotated[
    str | None, typer.Option("--client-address", help="The client's IP address.")
]
SinceOption = Annotated[
    str | None,
    typer.Option(help="Decided at or after: ISO 8601 (UTC if no offset), or ago: 90m, 24h, 7d."),
]
UntilOption = Annotated[
    str | None,
    typer.Option(help="Decided before: ISO 8601 (UTC if no offset), or ago: 90m, 24h, 7d."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON for scripts.")]


def _instant(option: str, text: str | None, *, now: datetime) -> datetime | None:
    """An ISO 8601 instant, or a time ago (``24h``); a bad one ends the command, naming it."""
    if text is None:
        return None
    with contextlib.suppress(ValueError):
        return now - parse_duration(text)
    from agentkeys.validation import parse_instant

    try:
        return parse_instant(text)
    except PydanticCustomError as error:
        fail(f"{option} {text!r}: {error.message()}, or a time ago like 90m, 24h or 7d")


def _refused(error: ValidationFailed) -> str:
    return "; ".join(
        f"--{problem.field.replace('_', '-')}: {problem.message}" for problem in error.field_errors
    )


def _query(
    *,
    outcome: str | None,
    organization: str | None,
    user_email: str | None,
    client_address: str | None,
    since: str | None,
    until: str | None,
) -> DecisionQuery:
    from agentkeys.admin.service import DecisionQuery, decision_filter

    for option, text in (
        ("--outcome", outcome),
        ("--organization", organization),
        ("--user-email", user_email),
        ("--client-address", client_address),
    ):
        if text is not None and not text.strip():
            fail(f"{option}: must not be blank")
    now = to_millisecond(SystemClock().now())
    query = DecisionQuery(
        outcome=outcome,
        organization=organization,
        user_email=user_email,
        client_address=client_address,
        since=_instant("--since", since, now=now),
        until=_instant("--until", until, now=now),
    )
    try:
        decision_filter(query)  # refused here, in one line, before the database is opened
    except ValidationFailed as error:
        fail(_refused(error))
    return query


def _service(settings: Settings, session: AsyncSession) -> AdminDecisionService:
    from agentkeys.admin.service import DECISIONS_CURSOR_CONTEXT, AdminDecisionService, CursorCodec
    from agentkeys.credentials.ledger import DecisionLedger

    secret = settings.secret.get_secret_value().encode("utf-8")
    return AdminDecisionService(
        DecisionLedger(session),
        clock=SystemClock(),
        cursors=CursorCodec(secret, context=DECISIONS_CURSOR_CONTEXT),
    )


def _said(entry: AdminDecisionDto) -> str:
    """What the answer said beyond its outcome, in a few words."""
    parts = []
    for label, names in (
        ("missing", entry.missing_fields),
        ("unknown scopes", entry.unknown_scopes),
        ("unclear", entry.unclear_fields),
    ):
        if names:
            parts.append(f"{label}: {', '.join(names)}")
    if entry.retry_after_seconds is not None:
        parts.append(f"retry after {entry.retry_after_seconds} s ({entry.quota or 'rate'})")
    return "; ".join(parts) or "-"


@decisions_app.command("list")
def decisions_list(
    *,
    outcome: OutcomeOption = None,
    organization: OrganizationOption = None,
    user_email: EmailOption = None,
    client_address: AddressOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int, typer.Option(help=f"How many, newest first (1-{MAX_LIST_LIMIT}).")] = 50,
    as_json: JsonOption = False,
) -> None:
    """The newest decisions matching every filter given (never a secret: none is stored)."""
    if not 1 <= limit <= MAX_LIST_LIMIT:
        fail(f"--limit {limit}: from 1 to {MAX_LIST_LIMIT}; for everything, `decisions export`")
    query = _query(
        outcome=outcome,
        organization=organization,
        user_email=user_email,
        client_address=client_address,
        since=since,
        until=until,
    )
    settings = load_settings()
    page = run_in_database(
        settings, lambda session: _service(settings, session).list(query, cursor=None, limit=limit)
    )
    if page.next_cursor is not None:
        typer.echo(
            f"showing the newest {limit}; more with --limit, --since or `decisions export`",
            err=True,
        )
    if as_json:
        typer.echo(json.dumps([entry.model_dump(mode="json") for entry in page.items], indent=2))
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE)
    for column in (
        "decided_at",
        "outcome",
        "organization",
        "user_email",
        "client_address",
        "credential_id",
        "said",
    ):
        table.add_column(column, no_wrap=column != "said", overflow="fold")
    for entry in page.items:
        table.add_row(
            entry.decided_at,
            entry.outcome,
            entry.organization_name,
            entry.user_email or "-",
            entry.client_address,
            entry.credential_id or "-",
            _said(entry),
        )
    Console(width=WIDE).print(table)


@decisions_app.command("export")
def decisions_export(
    *,
    since: SinceOption = None,
    until: UntilOption = None,
    outcome: OutcomeOption = None,
    organization: OrganizationOption = None,
    user_email: EmailOption = None,
    client_address: AddressOption = None,
) -> None:
    """Every decision matching the filters as JSON Lines on stdout, oldest first, in constant
    memory however many (`agentkeys decisions export --since 7d > decisions.jsonl`)."""
    query = _query(
        outcome=outcome,
        organization=organization,
        user_email=user_email,
        client_address=client_address,
        since=since,
        until=until,
    )
    settings = load_settings()
    out = typer.get_binary_stream("stdout")

    async def export(session: AsyncSession) -> int | None:
        from sqlalchemy.ext.asyncio import AsyncEngine

        from agentkeys.admin.service import DecisionExport
        from agentkeys.db.engine import create_session_factory

        # Not in the unit of work's session: a short session of its own per batch, on its engine.
        engine = session.bind
        assert isinstance(engine, AsyncEngine)  # noqa: S101 - run_in_database binds an engine
        exporter = DecisionExport(create_session_factory(engine), clock=SystemClock())
        written = 0
        try:
            async for chunk in exporter.lines(exporter.prepare(query)):
                out.write(chunk)
                out.flush()
                written += chunk.count(b"\n")
        except BrokenPipeError:  # `| head`: the reader has what it wanted
            _quiet_stdout()
            return None
        return written

    written = run_in_database(settings, export)
    if written is not None:
        typer.echo(f"exported {written} decisions", err=True)


def _quiet_stdout() -> None:
    """Nothing more for a reader that has gone: not even the flush at exit (Python's advice)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, typer.get_binary_stream("stdout").fileno())


def _counts(by_outcome: dict[str, Any]) -> list[str]:
    return [str(by_outcome[outcome.value]) for outcome in Outcome]


@app.command("stats")
def stats(
    window: Annotated[
        str, typer.Option(help="The time ending now, 1h to 30d: 60m, 24h, 7d, 2w, …")
    ] = "24h",
    as_json: JsonOption = False,
) -> None:
    """What happened within a window ending now (1h to 30d).

    Decisions by outcome and by UTC hour, credentials issued and active, the top organizations
    by decisions, and revocations by who revoked."""
    from agentkeys.admin.service import parse_window

    try:
        parse_window(window)
    except ValidationFailed as error:
        fail(f"--window {window!r}: {error.field_errors[0].message}")
    settings = load_settings()
    answer: AdminStatsDto = run_in_database(
        settings, lambda session: _service(settings, session).stats(window)
    )
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(width=WIDE)
    outcomes = [outcome.value for outcome in Outcome]
    console.print(f"{answer.since} to {answer.until} ({answer.window})")
    summary = Table(box=box.SIMPLE, title="decisions")
    for column in ("total", *outcomes):
        summary.add_column(column, justify="right")
    by_outcome = answer.decisions.by_outcome.model_dump()
    summary.add_row(str(answer.decisions.total), *_counts(by_outcome))
    console.print(summary)
    hours = Table(box=box.SIMPLE, title="decisions by hour (UTC, hours with any)")
    for column in ("hour", "total", *outcomes):
        hours.add_column(column, justify="right")
    for hour in answer.decisions_by_hour:
        if hour.total:
            hours.add_row(hour.hour, str(hour.total), *_counts(hour.by_outcome.model_dump()))
    console.print(hours)
    credentials = Table(box=box.SIMPLE, title="credentials")
    credentials.add_column("issued in the window", justify="right")
    credentials.add_column("active now", justify="right")
    credentials.add_row(str(answer.credentials.issued), str(answer.credentials.active))
    console.print(credentials)
    top = Table(box=box.SIMPLE, title="top organizations by decisions")
    for column in ("organization", "name", "decisions"):
        top.add_column(column, justify="right" if column == "decisions" else "left")
    for row in answer.top_organizations:
        top.add_row(row.organization, row.organization_name, str(row.decisions))
    console.print(top)
    revocations = Table(box=box.SIMPLE, title=f"revocations ({answer.revocations.total})")
    revocations.add_column("revoked_by")
    revocations.add_column("revocations", justify="right")
    for revoked_by, count in answer.revocations.by_revoked_by.items():
        revocations.add_row(revoked_by, str(count))
    console.print(revocations)
