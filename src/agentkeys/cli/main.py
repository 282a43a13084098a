"""``agentkeys serve`` and ``agentkeys db upgrade``."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError

from agentkeys.config import Settings
from agentkeys.db import migrate
from agentkeys.db.engine import is_sqlite
from agentkeys.logs import configure_logging

app = typer.Typer(help="Self-serve sandbox credentials for AI agents.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            field = ".".join(str(part) for part in problem["loc"]) or "settings"
            typer.echo(f"configuration error: {field}: {problem['msg']}", err=True)
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
    if is_sqlite(settings.database_url):
        migrate.upgrade(settings.database_url)
    uvicorn.run(
        "agentkeys.api.asgi:app",
        host=host,
        port=port,
        workers=workers,
        factory=False,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        server_header=False,
    )


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Create the schema, or bring it up to date."""
    settings = load_settings()
    migrate.upgrade(settings.database_url, revision)
    typer.echo(f"database at {revision}")
