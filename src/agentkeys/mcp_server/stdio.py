"""``agentkeys mcp --url BASE``: the MCP server on stdin/stdout, for agents that launch MCP
servers as subprocesses; its tools call the running server at ``BASE`` over HTTP.

The key it obtains (or is started with) lives in this process's memory only: never written to a
file, never logged. stdout carries the protocol alone.
"""

from __future__ import annotations

from mcp.server.stdio import stdio_server

from agentkeys.mcp_server.api import RemoteApi
from agentkeys.mcp_server.server import build_server


async def serve_stdio(base_url: str, *, initial_key: str | None = None) -> None:
    """Serve one MCP session on stdin/stdout until the client closes it."""
    api = RemoteApi(base_url)
    server = build_server(api, initial_key=initial_key)
    try:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
    finally:
        await api.aclose()
