"""Routes of discovery: ``/llms.txt``, ``/docs/md/<operationId>.md`` and
``/.well-known/agent-credentials``. No key; each answer is bytes built once per application."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from agentkeys.api.context import app_context
from agentkeys.api.deps import JsonBodyRoute
from agentkeys.api.openapi import error_responses
from agentkeys.discovery.documents import documents_of
from agentkeys.discovery.llms import LLMS_PATH, WELL_KNOWN_PATH
from agentkeys.discovery.well_known import (
    SECURITY_TXT_LIFETIME,
    SECURITY_TXT_PATH,
    AgentCredentialsDiscoveryDto,
    security_txt,
)
from agentkeys.errors import NotFound, echo

router = APIRouter(tags=["discovery"], route_class=JsonBodyRoute)

# The documents change only with the policy or the code, both fixed for a process's life.
CACHE_CONTROL = "public, max-age=300"
MARKDOWN = "text/markdown; charset=utf-8"
PLAIN_TEXT = "text/plain; charset=utf-8"


@router.get(
    LLMS_PATH,
    operation_id="getLlmsTxt",
    summary="A guide for agents (llmstxt.org format)",
    response_class=Response,
    responses={
        200: {
            "description": "How to get, use and revoke a key; the scopes and the limits in force.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **error_responses(),
    },
)
async def get_llms_txt(request: Request) -> Response:
    """No key. Generated from the issuing policy and this OpenAPI document."""
    return _answer(documents_of(request.app).llms_txt, PLAIN_TEXT)


@router.get(
    "/docs/md/{operationId}.md",
    operation_id="getOperationMarkdown",
    summary="One operation of this API as a Markdown page",
    response_class=Response,
    responses={
        200: {
            "description": "The operation's summary, access, parameters, body and answers.",
            "content": {"text/markdown": {"schema": {"type": "string"}}},
        },
        **error_responses(404),
    },
)
async def get_operation_markdown(
    request: Request,
    operation_id: Annotated[
        str, Path(alias="operationId", description="An operationId of the OpenAPI document.")
    ],
) -> Response:
    """No key. `operationId` as in the OpenAPI document; /llms.txt links every page."""
    page = documents_of(request.app).pages.get(operation_id)
    if page is None:
        raise NotFound(
            f"No operation '{echo(operation_id)}' is documented.",
            recovery_action=f"Follow a link from {LLMS_PATH} or use an operationId of "
            "/openapi.json.",
        )
    return _answer(page, MARKDOWN)


@router.get(
    WELL_KNOWN_PATH,
    operation_id="getAgentCredentialsDiscovery",
    summary="How to get, use and revoke an agent key, as JSON",
    response_model=AgentCredentialsDiscoveryDto,
    responses=error_responses(),
)
async def get_agent_credentials_discovery(request: Request) -> Response:
    """No key. The issuance endpoint, the request schema, the scope catalog, the limits in force,
    the key's header and format, the revocation path and the MCP endpoint."""
    return _answer(documents_of(request.app).well_known, "application/json")


@router.get(
    SECURITY_TXT_PATH,
    operation_id="getSecurityTxt",
    summary="Where to report security problems and leaked keys (RFC 9116)",
    response_class=Response,
    responses={
        200: {
            "description": "`Contact`, `Expires` and `Preferred-Languages` fields, and comments "
            "naming the leaked-key endpoint.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **error_responses(),
    },
)
async def get_security_txt(request: Request) -> Response:
    """No key. `Contact` is the operator's (AGENTKEYS_SECURITY_CONTACT); `Expires` is always
    180 days ahead, so the file never goes stale while the server runs."""
    contact: str = request.app.state.security_contact
    expires = app_context(request).clock.now() + SECURITY_TXT_LIFETIME
    return _answer(security_txt(contact, expires).encode("utf-8"), PLAIN_TEXT)


def _answer(content: bytes, media_type: str) -> Response:
    return Response(content, media_type=media_type, headers={"Cache-Control": CACHE_CONTROL})
