"""``POST /v1/agent-credentials/leaked``: report leaked keys, signed by GitHub or by nobody."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import ValidationError

from agentkeys.api.context import app_context
from agentkeys.api.deps import JsonBodyRoute, SessionDep, describe_rate, network_of_request
from agentkeys.api.errors import field_errors_from
from agentkeys.api.openapi import error_responses
from agentkeys.credentials.deps import credential_wiring
from agentkeys.credentials.leaks import (
    GITHUB_REPORT,
    LEAK_FEEDBACK,
    RECEIVED,
    GitHubLeakMatchDto,
    LeakFeedbackDto,
    LeakReportDto,
    LeakReportReceivedDto,
    LeakReports,
    ReportedToken,
    reason_of,
    token_hash,
)
from agentkeys.errors import FieldError, InvalidApiKey, ValidationFailed, echo
from agentkeys.validation import decode_json

LEAKED_PATH = "/v1/agent-credentials/leaked"
IDENTIFIER_HEADER = "Github-Public-Key-Identifier"
SIGNATURE_HEADER = "Github-Public-Key-Signature"

router = APIRouter(
    prefix="/v1/agent-credentials", tags=["agent credentials"], route_class=JsonBodyRoute
)

# The body is read raw (the signature covers the bytes as sent), so FastAPI does not see it:
# its schemas are declared here and added to the description's components by ``api.openapi``.
OPENAPI_SCHEMAS = {
    model.__name__: model.model_json_schema(ref_template="#/components/schemas/{model}")
    for model in (LeakReportDto, GitHubLeakMatchDto, LeakFeedbackDto)
}


async def leak_report_body(request: Request) -> bytes:
    # Read first, before any database work: a client sending its body slowly holds no session,
    # transaction or lock meanwhile.
    return await request.body()


LeakReportBody = Annotated[bytes, Depends(leak_report_body)]


async def leak_reports(request: Request, _body: LeakReportBody, session: SessionDep) -> LeakReports:
    context = app_context(request)
    return LeakReports(
        session,
        clock=context.clock,
        server_secret=context.server_secret,
        revocations=credential_wiring(request).revocations,
    )


LeakReportsDep = Annotated[LeakReports, Depends(leak_reports)]


def bad_signature(message: str) -> InvalidApiKey:
    return InvalidApiKey(
        f"{message} A report in GitHub's secret scanning format must be signed with a key "
        f"the operator trusts ({IDENTIFIER_HEADER}, {SIGNATURE_HEADER}); anyone may instead "
        'send one key unsigned: {"credential": "wsk_agent_…", "url": "…"}.'
    )


def _one_header(request: Request, name: str) -> str | None:
    values = request.headers.getlist(name)
    return values[0] if len(values) == 1 else None


def verify_signed(request: Request, body: bytes) -> None:
    """Refuses (401) a report whose signature is missing, malformed or not verified."""
    keys = credential_wiring(request).leak_report_keys
    identifier = _one_header(request, IDENTIFIER_HEADER)
    signature = _one_header(request, SIGNATURE_HEADER)
    if identifier is None or signature is None:
        raise bad_signature("Send each signature header once.")
    if keys is None or not keys.knows(identifier):
        raise bad_signature(f"No trusted key has the identifier '{echo(identifier)}'.")
    if not keys.verify(identifier, signature, body):
        raise bad_signature("The signature does not verify over the body as sent.")


def _decoded(body: bytes) -> Any:
    if not body.strip():
        raise ValidationFailed([FieldError("body", "A JSON body is required")])
    try:
        return decode_json(body)
    except (ValueError, RecursionError):
        raise ValidationFailed([FieldError("body", "Malformed JSON")]) from None


async def limit_leak_reports(request: Request) -> None:
    """Unsigned reports per client network: each may look a key up, so they are counted."""
    limiter = credential_wiring(request).leak_report_rate_limiter
    if limiter is None:
        return
    network = network_of_request(request)
    decision = await limiter.hit(network)
    describe_rate(request, "leak-report", decision)
    if not decision.allowed:
        raise decision.refusal(
            f"This client network ({network}) may report {decision.limit} leaked keys per "
            f"{decision.window_seconds} seconds."
        )


SIGNED_EXAMPLE = [
    {
        "token": "wsk_agent_…",
        "type": "agentkeys_agent_key",
        "url": "https://github.com/octo-org/octo-repo/blob/1f2e3d/config.env",
        "source": "content",
    }
]


@router.post(
    "/leaked",
    operation_id="reportLeakedAgentCredentials",
    summary="Report leaked agent keys (GitHub secret scanning, or anyone)",
    status_code=202,
    response_model=LeakReportReceivedDto,
    responses={
        **error_responses(
            400,
            401,
            429,
            descriptions={
                401: "AUTH_INVALID_API_KEY: a signed report whose key identifier is unknown or "
                "whose signature does not verify, or an array sent unsigned. Nothing is revoked."
            },
        ),
        200: {
            "description": "A signed report: per match, whether it was a key of this service "
            "(GitHub's feedback format).",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/LeakFeedbackDto"},
                    }
                }
            },
        },
        202: {
            "description": "An unsigned report: always this same answer, whatever the key.",
            "content": {"application/json": {"example": RECEIVED.model_dump()}},
        },
    },
    openapi_extra={
        "security": [],
        "requestBody": {
            "required": True,
            "description": "Unsigned: one key, as `LeakReportDto`. Signed by GitHub's secret "
            f"scanning (`{IDENTIFIER_HEADER}` and `{SIGNATURE_HEADER}`: ECDSA P-256 with "
            "SHA-256 over the raw body, base64): a JSON array of `GitHubLeakMatchDto` "
            "(`x-signed-body` gives its schema).",
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/LeakReportDto"},
                    "examples": {
                        "unsigned": {
                            "summary": "One key, unsigned",
                            "value": {
                                "credential": "wsk_agent_…",
                                "url": "https://pastebin.example/abc",
                            },
                        }
                    },
                }
            },
            "x-signed-body": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/GitHubLeakMatchDto"},
                "example": SIGNED_EXAMPLE,
            },
        },
    },
)
async def report_leaked_credentials(
    request: Request, body: LeakReportBody, reports: LeakReportsDep, response: Response
) -> Any:
    """Revoke leaked keys at once (`revoked_by: leak`; the reporting URL is stored).

    GitHub's secret scanning partner program posts a signed array of matches and is answered
    200 with its feedback format (`token_hash` = SHA-256 hex of the token, `label`
    `true_positive` for any key this service issued, revoked or expired included). Anyone
    else may post one key unsigned: always 202 with the same body, whatever it names, so the
    answer never says whether a key was valid (RFC 7009 §2.2); unsigned reports are rate-limited
    per client network. Bad JSON or shape: 400."""
    response.headers["Cache-Control"] = "no-store"
    signed = IDENTIFIER_HEADER in request.headers or SIGNATURE_HEADER in request.headers
    if signed:
        verify_signed(request, body)
        return await _signed(reports, _decoded(body))
    document = _decoded(body)
    if isinstance(document, list):
        raise bad_signature("This report is unsigned.")
    try:
        report = LeakReportDto.model_validate(document)
    except ValidationError as error:
        raise ValidationFailed(field_errors_from(error.errors())) from None
    await limit_leak_reports(request)
    await reports.revoke_reported(
        [ReportedToken(report.credential, reason_of(report.url, source=None, signed=False))]
    )
    return RECEIVED


async def _signed(reports: LeakReports, document: Any) -> Response:
    try:
        matches = GITHUB_REPORT.validate_python(document)
    except ValidationError as error:
        raise ValidationFailed(field_errors_from(error.errors())) from None
    ours = await reports.revoke_reported(
        [
            ReportedToken(match.token, reason_of(match.url, source=match.source, signed=True))
            for match in matches
        ]
    )
    feedback = [
        LeakFeedbackDto(
            token_hash=token_hash(match.token),
            token_type=match.type,
            label="true_positive" if found else "false_positive",
        )
        for match, found in zip(matches, ours, strict=True)
    ]
    return Response(
        LEAK_FEEDBACK.dump_json(feedback),
        status_code=200,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
