"""``agentkeys mcp --url BASE``: the MCP server over stdio, talking HTTP to a running server."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from agentkeys.cli.main import app, fail

KEY_VARIABLE = "WATTSHIFT_API_KEY"


@app.command()
def mcp(
    url: Annotated[
        str,
        typer.Option(help="Base URL of a running agentkeys server, e.g. http://127.0.0.1:8080."),
    ],
) -> None:
    """Serve the MCP tools on stdin/stdout (for MCP clients that launch servers as
    subprocesses). The key request_credential obtains is held in memory only; a key in
    WATTSHIFT_API_KEY, if set, is used until then."""
    if not url.startswith(("http://", "https://")):
        fail(f"--url {url!r} must be an http:// or https:// URL", code=2)
    from agentkeys.mcp_server.stdio import serve_stdio

    asyncio.run(serve_stdio(url, initial_key=os.environ.get(KEY_VARIABLE) or None))
