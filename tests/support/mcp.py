"""MCP sessions for tests, with the SDK's own client: on the app in process, or over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, TextContent

from tests.support.app import client_for


@asynccontextmanager
async def mcp_on_app(
    app: FastAPI, *, client_address: str = "203.0.113.7"
) -> AsyncIterator[ClientSession]:
    """An initialized MCP session on ``app``'s ``/mcp`` from ``client_address``, lifespan
    included, no socket."""
    async with (
        client_for(app, client_address=client_address) as http,
        mcp_over(http, "http://agentkeys.test/mcp") as session,
    ):
        yield session


@asynccontextmanager
async def mcp_over(http: httpx.AsyncClient | None, url: str) -> AsyncIterator[ClientSession]:
    """An initialized MCP session at ``url``, through ``http`` (None: the SDK's own client)."""
    async with (
        streamable_http_client(url, http_client=http) as (read, write, _session_id),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        yield session


def answer_of(result: CallToolResult) -> Any:
    """The API's JSON a tool answered (its one text content)."""
    assert len(result.content) == 1, result
    content = result.content[0]
    assert isinstance(content, TextContent), content
    return json.loads(content.text)


def ok(result: CallToolResult) -> Any:
    assert not result.isError, result
    return answer_of(result)


def tool_error(result: CallToolResult, *, code: str) -> dict[str, Any]:
    """The tool error holds the API's envelope with ``code``."""
    assert result.isError, result
    envelope: dict[str, Any] = answer_of(result)
    assert envelope["error_code"] == code, envelope
    assert envelope["message"].strip()
    assert envelope["request_id"]
    assert result.structuredContent == envelope
    return envelope
