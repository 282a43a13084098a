"""The ``agentkeys`` command line: serve, db upgrade, policy check."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, NoReturn

import typer
import uvicorn
from pydantic import ValidationError
from uvicorn.supervisors import Multiprocess

from agentkeys.api.protocol import BoundedHttpToolsProtocol, ServerConfig
from agentkeys.config import Settings, settings_problems
from agentkeys.credentials.policy import IssuingPolicy
from agentkeys.credentials.policy_file import (
    PolicyError,
    default_policy_text,
    describe,
    load_policy,
)
from agentkeys.db import migrate
from agentkeys.db.engine import is_sqlite
from agentkeys.logs import configure_logging

MAX_PORT = 65535
app = typer.Typer(help="Self-serve sandbox credentials for AI agents.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
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
    configure_logging(settings.log_level)
    # Everything that can be wrong is refused here, in one line, before a worker starts: the
    # policy (with its line numbers), the port, the database and its schema.
    checked_policy(settings.policy)
    listener = bound_listener(host, port)
    try:
        ready_database(settings.database_url)
    except typer.Exit:
        listener.close()
        raise
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
    if workers == 1:
        uvicorn.Server(config).run(sockets=[listener])
        return
    Multiprocess(config, sockets=[listener]).run()


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
    typer.echo(describe(checked_policy(file)))
    typer.echo(f"{file}: OK")


@policy_app.command("show-default")
def policy_show_default() -> None:
    """Print the shipped default policy, a starting point for your own."""
    typer.echo(default_policy_text(), nl=False)
