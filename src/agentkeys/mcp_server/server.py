"""The MCP server itself (the SDK's low-level ``Server``): lists the tools, and runs each as one
HTTP API call with the key this MCP session holds, answering the API's JSON as the tool result.

The low-level server rather than FastMCP: a tool's input schema is exactly the route's request
model's (FastMCP derives one from a function's signature), and arguments reach the API as sent,
so an invalid one is refused by the API's own validation, in its 400 envelope.
"""

from __future__ import annotations

import json
import weakref
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from mcp import types
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.lowlevel import Server
from mcp.server.session import ServerSession
from starlette.requests import Request

from agentkeys import __version__
from agentkeys.errors import ErrorCode, FieldError, ValidationFailed, echo
from agentkeys.ids import new_request_id
from agentkeys.mcp_server.api import Api, ApiAnswer, Origin
from agentkeys.mcp_server.tools import CREDENTIAL_ID, TOOLS, TOOLS_BY_NAME, ToolSpec
from agentkeys.redaction import redact

INSTRUCTIONS = (
    "agentkeys: self-serve, sandbox-only API keys for AI agents, and the sandbox API they open. "
    "Call request_credential first (organization_name, user_name, assignment, "
    "requested_scopes); on needs_more_info add what it names and call again. The issued key is "
    "held by this MCP session and used by every later tool call; it is shown once. Errors come "
    "back as tool errors holding the API's JSON envelope (error_code, message, "
    "recovery_action, field_errors). Call revoke_credential when you are done."
)
ISSUED = "issued"


@dataclass
class SessionKey:
    """The key an MCP session obtained with request_credential (memory only, never logged)."""

    key: str | None = None
    credential_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Caller:
    """What a tool call knows of its caller: the session's key, the key its HTTP request
    presented (streamable HTTP only) and where the request came from."""

    session_key: SessionKey
    presented_key: str | None
    origin: Origin | None

    @property
    def key(self) -> str | None:
        # The key this session obtained wins over the one its requests present: the agent asked
        # for it in this session to use it.
        return self.session_key.key or self.presented_key


def build_server(api: Api, *, initial_key: str | None = None) -> Server[Any, Any]:
    """The MCP server over ``api``; ``initial_key`` starts every session with a key (stdio)."""
    server: Server[Any, Any] = Server("agentkeys", version=__version__, instructions=INSTRUCTIONS)
    sessions: weakref.WeakKeyDictionary[ServerSession, SessionKey] = weakref.WeakKeyDictionary()
    tools = [
        types.Tool(
            name=spec.name,
            description=spec.description,
            inputSchema=spec.input_schema(),
            annotations=types.ToolAnnotations(
                readOnlyHint=spec.read_only,
                destructiveHint=spec.destructive,
                openWorldHint=False,
            ),
        )
        for spec in TOOLS
    ]

    @server.list_tools()  # type: ignore[no-untyped-call,untyped-decorator]
    async def list_tools() -> list[types.Tool]:
        return tools

    def caller() -> Caller:
        context = server.request_context
        session_key = sessions.get(context.session)
        if session_key is None:
            session_key = sessions[context.session] = SessionKey(key=initial_key)
        request = context.request if isinstance(context.request, Request) else None
        return Caller(
            session_key=session_key,
            presented_key=_presented_key(request),
            origin=_origin(request),
        )

    # The API validates the arguments: its 400 envelope is the answer, not the SDK's text.
    @server.call_tool(validate_input=False)  # type: ignore[untyped-decorator]
    async def call_tool(name: str, arguments: dict[str, Any]) -> types.CallToolResult:
        spec = TOOLS_BY_NAME.get(name)
        if spec is None:
            return _local_error(f"No tool is named '{echo(redact(name))}'.", field="name")
        try:
            return await run_tool(api, spec, dict(arguments), caller())
        except httpx.TransportError as error:
            return _unreachable(error)

    return server


async def run_tool(
    api: Api, spec: ToolSpec, arguments: dict[str, Any], who: Caller
) -> types.CallToolResult:
    """One tool call: the path filled from its parameter, the rest sent as the JSON body."""
    path = spec.path
    if spec.path_parameter is not None:
        value = arguments.pop(spec.path_parameter, None)
        if value is None and spec.path_parameter == CREDENTIAL_ID:
            value, refusal = await _own_credential_id(api, who)
            if refusal is not None:
                return _result(refusal)
        if not isinstance(value, str) or not value:
            return _local_error(
                f"'{spec.path_parameter}' must be a non-empty string.", field=spec.path_parameter
            )
        path = path.replace("{" + spec.path_parameter + "}", quote(value, safe=""))
    answer = await api.call(
        method=spec.method,
        path=path,
        body=arguments if spec.body is not None else None,
        key=who.key if spec.needs_key else None,
        origin=who.origin,
    )
    if spec.name == "request_credential":
        _keep_issued_key(answer, who.session_key)
    return _result(answer)


async def _own_credential_id(api: Api, who: Caller) -> tuple[str | None, ApiAnswer | None]:
    if who.session_key.key is not None and who.session_key.credential_id is not None:
        return who.session_key.credential_id, None
    answer = await api.call(
        method="GET",
        path=TOOLS_BY_NAME["whoami"].path,
        body=None,
        key=who.key,
        origin=who.origin,
    )
    if answer.status != httpx.codes.OK or not isinstance(answer.body, dict):
        return None, answer
    credential_id = answer.body.get("credential_id")
    return (credential_id if isinstance(credential_id, str) else None), None


def _keep_issued_key(answer: ApiAnswer, session_key: SessionKey) -> None:
    body = answer.body
    if answer.status == httpx.codes.OK and isinstance(body, dict) and body.get("outcome") == ISSUED:
        key, credential_id = body.get("credential"), body.get("credential_id")
        if isinstance(key, str) and isinstance(credential_id, str):
            session_key.key, session_key.credential_id = key, credential_id


def _result(answer: ApiAnswer) -> types.CallToolResult:
    """The API's JSON as the tool's result; a 4xx or 5xx answer (its envelope) is a tool error."""
    text = json.dumps(answer.body, ensure_ascii=False)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=text)],
        structuredContent=answer.body if isinstance(answer.body, dict) else None,
        isError=answer.status >= httpx.codes.BAD_REQUEST,
    )


def _envelope_result(envelope: dict[str, Any]) -> types.CallToolResult:
    return _result(ApiAnswer(status=httpx.codes.BAD_REQUEST, body=envelope))


def _local_error(message: str, *, field: str) -> types.CallToolResult:
    """A refusal made before any API call (no path to call), in the API's validation envelope."""
    failed = ValidationFailed([FieldError(field, message)])
    return _envelope_result(
        {
            "request_id": new_request_id(),
            "error_code": failed.code,
            "message": failed.message,
            "recovery_action": failed.recovery_action,
            "field_errors": [{"field": field, "message": message}],
        }
    )


def _unreachable(error: httpx.TransportError) -> types.CallToolResult:
    return _envelope_result(
        {
            "request_id": new_request_id(),
            "error_code": ErrorCode.SERVICE_UNAVAILABLE,
            "message": f"The agentkeys server could not be reached ({type(error).__name__}).",
            "recovery_action": "Check that the server at --url is running, then retry.",
        }
    )


def _presented_key(request: Request | None) -> str | None:
    # Set by the SDK's bearer backend once our token verifier accepted the key (``http.py``).
    user = request.scope.get("user") if request is not None else None
    return user.access_token.token if isinstance(user, AuthenticatedUser) else None


def _origin(request: Request | None) -> Origin | None:
    if request is None:
        return None
    peer = (request.client.host, request.client.port) if request.client is not None else None
    return Origin(peer=peer, forwarded_for=tuple(request.headers.getlist("x-forwarded-for")))
