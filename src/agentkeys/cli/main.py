"""The ``agentkeys`` command line: serve, db upgrade, policy check, admin keys."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from pydantic import ValidationError

from agentkeys.clock import SystemClock, format_instant
from agentkeys.config import Settings, settings_problems
from agentkeys.credentials.identity import AdminRole
from agentkeys.errors import DomainError
from agentkeys.logs import configure_logging

# Everything heavy (uvicorn, SQLAlchemy, Alembic, Redis, rich, the app and the services) is
# imported inside the commands that use it: `--help`, a refused setting or a bad option answer
# without paying for it.
if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from agentkeys.admin.service import AdminKeyService
    from agentkeys.credentials.policy import IssuingPolicy

MAX_PORT = 65535
T = TypeVar("T")
app = typer.Typer(help="Self-serve sandbox credentials for AI agents.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema and retention.", no_args_is_help=True)
app.add_typer(db_app, name="db")
policy_app = typer.Typer(help="Issuing policies.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for problem in settings_problems(error):
            typer.echo(f"configuration error: {problem}", err=True)
        raise typer.Exit(code=2) from None


def checked_policy(path: Path | None) -> IssuingPolicy:
    from agentkeys.credentials.policy_file import PolicyError, load_policy

    try:
        return load_policy(path)
    except PolicyError as error:
        typer.echo(f"policy error:\n{error}", err=True)
        raise typer.Exit(code=2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes (uvicorn).")] = 1,
) -> None:
    """Serve the API. On SQLite the database is created or upgraded first; on PostgreSQL the
    schema must already be at this version's revision (`agentkeys db upgrade`)."""
    if not 0 <= port <= MAX_PORT:
        fail(f"--port {port} is not a TCP port (0-{MAX_PORT})", code=2)
    if workers < 1:
        fail(f"--workers {workers}: at least 1 worker is needed", code=2)
    settings = load_settings()
    if workers > 1 and settings.redis_url is None:
        fail(
            f"--workers {workers} needs AGENTKEYS_REDIS_URL: without Redis each worker process "
            "has its own request rates and learns of a revocation in another only when its "
            "key cache expires; set it, or run one worker",
            code=2,
        )
    configure_logging(settings.log_level, settings.log_format)
    # Everything that can be wrong is refused here, in one line, before a worker starts: the
    # policy (with its line numbers), the port, the database and its schema.
    checked_policy(settings.policy)
    listener = bound_listener(host, port)
    try:
        ready_database(settings.database_url)
    except typer.Exit:
        listener.close()
        raise
    import uvicorn

    from agentkeys.api.protocol import BoundedHttpToolsProtocol, ServerConfig

    config = ServerConfig(
        "agentkeys.api.asgi:app",
        header_timeout_seconds=settings.header_timeout_seconds,
        max_header_bytes=settings.max_header_bytes,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        server_header=False,
        http=BoundedHttpToolsProtocol,
        timeout_keep_alive=settings.keepalive_timeout_seconds,
    )
    # Uvicorn says where it listens only when it binds the socket itself: say it here.
    bound_host, bound_port = listener.getsockname()[:2]
    shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    logging.getLogger("agentkeys.cli").info(
        "serving on http://%s:%s (workers: %d)", shown_host, bound_port, workers
    )
    if workers == 1:
        uvicorn.Server(config).run(sockets=[listener])
        return
    from agentkeys.cli.workers import MetricsMultiprocess, metrics_directory

    # Every worker writes its metrics to this directory, so /metrics counts all of them.
    with metrics_directory():
        MetricsMultiprocess(config, sockets=[listener]).run()


def fail(message: str, *, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=code)


def bound_listener(host: str, port: int) -> socket.socket:
    """The listening socket, bound now so a port in use is reported before anything starts.

    Created with ``IPPROTO_TCP``: uvicorn's own ``bind_socket`` leaves ``proto`` at 0 (uvicorn
    issue #3149), and asyncio then never sets TCP_NODELAY on connections, so every keep-alive
    answer waited on Nagle and the client's delayed ACK, about 40 ms each.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        reason = error.strerror or str(error)
        fail(f"cannot listen on {host}:{port}: {reason}")
    listener.set_inheritable(True)
    return listener


def ready_database(database_url: str) -> None:
    """SQLite: create or upgrade the schema. PostgreSQL: refuse unless it is at head."""
    from agentkeys.db import migrate
    from agentkeys.db.engine import is_sqlite

    if is_sqlite(database_url):
        upgraded(database_url, "head")
    try:
        state = migrate.check_schema(database_url)
    except migrate.DatabaseUnusable as error:
        fail(str(error))
    problem = state.problem()
    if problem is not None:
        fail(problem)


IN_MEMORY = (
    "AGENTKEYS_DATABASE_URL names an in-memory SQLite database, which lives only as long as one "
    "connection: the server would see none of its schema or data. Use a file, e.g. "
    "sqlite:///agentkeys.db"
)


def upgraded(database_url: str, revision: str) -> None:
    from agentkeys.db import migrate

    problem = migrate.unknown_revision(revision)
    if problem is not None:
        fail(problem, code=2)
    if migrate.is_in_memory_sqlite(database_url):
        fail(IN_MEMORY, code=2)
    try:
        migrate.ensure_sqlite_opens(database_url)
    except migrate.DatabaseUnusable as error:
        fail(str(error))
    try:
        migrate.upgrade(database_url, revision)
    except Exception as error:  # one line naming the database and the fix, never a traceback
        fail(migrate.describe_failure(database_url, error))


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create the schema, or bring it up to date."""
    settings = load_settings()
    upgraded(settings.database_url, revision)
    typer.echo(f"database at {revision}")


@policy_app.command("check")
def policy_check(
    file: Annotated[Path, typer.Argument(help="Policy file (TOML) to check.")],
) -> None:
    """Validate a policy file and print what it allows. Exit 2 naming each bad line."""
    from agentkeys.credentials.policy_file import describe

    typer.echo(describe(checked_policy(file)))
    typer.echo(f"{file}: OK")


@policy_app.command("show-default")
def policy_show_default() -> None:
    """Print the shipped default policy, a starting point for your own."""
    from agentkeys.credentials.policy_file import default_policy_text

    typer.echo(default_policy_text(), nl=False)


# The operator's commands: database-direct, for the people on the server.

admin_app = typer.Typer(
    help="Admin keys (wsk_admin_…): the operator's keys for /v1/admin.", no_args_is_help=True
)
app.add_typer(admin_app, name="admin")

if TYPE_CHECKING:
    Operation = Callable[[AsyncSession], Awaitable[T]]


def run_in_database(settings: Settings, operation: Operation[T]) -> T:
    """Run ``operation`` in one unit of work on the configured database: committed when it
    returns, rolled back when it fails; a problem is one line on stderr, never a traceback."""
    from sqlalchemy.exc import DBAPIError

    from agentkeys.db import migrate
    from agentkeys.db.engine import create_engine, create_session_factory, pop_after_commit

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with create_session_factory(engine)() as session:
                try:
                    result = await operation(session)
                except BaseException:
                    pop_after_commit(session)
                    await session.rollback()
                    raise
                await session.commit()
                # As the API's unit of work: what waits for the commit (announcements) runs now.
                for callback in pop_after_commit(session):
                    await callback()
                return result
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except DomainError as error:
        fail(error.message)
    except (DBAPIError, OSError) as error:
        fail(
            migrate.describe_failure(settings.database_url, error)
            + " (is the schema up to date? `agentkeys db upgrade`)"
        )


def announce_revoked(settings: Settings, ids: list[str]) -> None:
    """Tell running replicas at once (their caches forget the keys), when Redis is configured."""
    if not ids or not settings.redis_url:
        return
    from agentkeys.credentials import revocations

    if not asyncio.run(revocations.announce(settings.redis_url, ids)):
        typer.echo(
            "warning: could not announce the revocation on Redis; running servers refuse the key "
            f"within AGENTKEYS_KEY_CACHE_SECONDS ({settings.key_cache_seconds} s)",
            err=True,
        )


def admin_key_service(settings: Settings, session: AsyncSession) -> AdminKeyService:
    from agentkeys.admin.service import AdminKeyService

    return AdminKeyService(
        session,
        clock=SystemClock(),
        server_secret=settings.secret.get_secret_value().encode("utf-8"),
    )


def _instant(value: datetime | None) -> str | None:
    return None if value is None else format_instant(value)


@admin_app.command("create-key")
def admin_create_key(
    name: Annotated[
        str, typer.Option(help="A unique name, recorded as admin:NAME on revocations.")
    ],
    role: Annotated[
        AdminRole,
        typer.Option(
            help="admin: read, revoke and verify; viewer: read only; verify: verify agent keys "
            "(/v1/keys/verify, /oauth/introspect) and nothing else."
        ),
    ] = AdminRole.ADMIN,
) -> None:
    """Create an admin key and print it once: only its digest is stored."""
    settings = load_settings()
    created = run_in_database(
        settings, lambda session: admin_key_service(settings, session).create(name, role=role)
    )
    typer.echo(f"id:   {created.record.id}")
    typer.echo(f"name: {created.record.name}")
    typer.echo(f"role: {created.record.role}")
    typer.echo(f"key:  {created.secret}")
    typer.echo("Store the key now: it is shown only this once.", err=True)


@admin_app.command("list-keys")
def admin_list_keys(
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """List admin keys (never the keys themselves)."""
    settings = load_settings()
    records = run_in_database(settings, lambda session: admin_key_service(settings, session).list())
    rows = [
        {
            "id": record.id,
            "name": record.name,
            "role": record.role,
            "status": "revoked" if record.revoked_at is not None else "active",
            "created_at": format_instant(record.created_at),
            "revoked_at": _instant(record.revoked_at),
        }
        for record in records
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE)
    for column in ("id", "name", "role", "status", "created_at", "revoked_at"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(*(str(value) if value is not None else "-" for value in row.values()))
    Console(width=200).print(table)


@admin_app.command("revoke-key")
def admin_revoke_key(
    key_id: Annotated[str, typer.Argument(metavar="ID", help="The admin key's id (list-keys).")],
) -> None:
    """Revoke an admin key at once (announced to running servers through Redis, if set)."""
    settings = load_settings()
    record, revoked_now = run_in_database(
        settings, lambda session: admin_key_service(settings, session).revoke(key_id)
    )
    if revoked_now:
        announce_revoked(settings, [record.id])
        typer.echo(f"revoked admin key {record.id} ({record.name})")
    else:
        typer.echo(f"admin key {record.id} ({record.name}) was already revoked")


# Command groups of their own modules: each registers itself on `app` (or `db_app`) as imported.
from agentkeys.cli import agent, credentials, decisions, mcp, retention, webhooks  # noqa: E402, F401
