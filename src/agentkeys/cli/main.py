"""The ``agentkeys`` command line: serve, db upgrade, policy check."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError
from uvicorn.supervisors import Multiprocess

from agentkeys.config import Settings
from agentkeys.credentials.policy import IssuingPolicy
from agentkeys.db import migrate
from agentkeys.db.engine import is_sqlite
from agentkeys.logs import configure_logging
from agentkeys.policies.loader import PolicyError, default_policy_text, describe, load_policy

app = typer.Typer(help="Self-serve sandbox credentials for AI agents.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
policy_app = typer.Typer(help="Issuing policies.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            field = ".".join(str(part) for part in problem["loc"]) or "settings"
            typer.echo(f"configuration error: {field}: {problem['msg']}", err=True)
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
    """Serve the API. On SQLite the database is created or upgraded first."""
    settings = load_settings()
    configure_logging(settings.log_level)
    # Refuse a bad policy here, with its line numbers, rather than in every worker.
    checked_policy(settings.policy)
    if is_sqlite(settings.database_url):
        migrate.upgrade(settings.database_url)
    config = uvicorn.Config(
        "agentkeys.api.asgi:app",
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        server_header=False,
    )
    if workers == 1:
        uvicorn.Server(config).run()
        return
    Multiprocess(config, sockets=[tcp_listener(config.bind_socket())]).run()


def tcp_listener(sock: socket.socket) -> socket.socket:
    """The same bound socket, labelled IPPROTO_TCP so asyncio sets TCP_NODELAY on connections.

    uvicorn's ``bind_socket`` leaves ``proto`` at 0 (uvicorn issue #3149): every worker's
    keep-alive answers then wait on Nagle and the client's delayed ACK, about 40 ms each.
    """
    if sock.family not in {socket.AF_INET, socket.AF_INET6}:
        return sock
    listener = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
    listener.set_inheritable(True)
    return listener


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create the schema, or bring it up to date."""
    settings = load_settings()
    migrate.upgrade(settings.database_url, revision)
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
