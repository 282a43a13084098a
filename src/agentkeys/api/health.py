"""Liveness and readiness probes, for operators and orchestrators (metrics: ``metrics_route``)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from agentkeys.api.context import app_context, request_id_of
from agentkeys.api.deps import JsonBodyRoute
from agentkeys.api.errors import error_response
from agentkeys.api.openapi import error_responses
from agentkeys.db import migrate
from agentkeys.errors import ErrorCode
from agentkeys.validation import DescribedModel

logger = logging.getLogger(__name__)
router = APIRouter(tags=["operations"], route_class=JsonBodyRoute)
NOT_READY_RETRY_SECONDS = 5


class HealthDto(DescribedModel):
    status: str
    """ok (liveness) or ready (readiness)."""


@router.get(
    "/healthz",
    operation_id="getLiveness",
    response_model=HealthDto,
    summary="Liveness: the process answers",
    # Never an error of its own, but the transport's (405 for another method, 408, 431...).
    responses=error_responses(),
)
async def healthz() -> HealthDto:
    return HealthDto(status="ok")


@router.get(
    "/readyz",
    operation_id="getReadiness",
    response_model=HealthDto,
    summary="Readiness: the database answers and its schema is at the current revision",
    responses=error_responses(503),
)
async def readyz(request: Request) -> HealthDto | JSONResponse:
    try:
        async with app_context(request).session_factory() as session:
            connection = await session.connection()
            state = await migrate.schema_state(connection)
    except Exception as error:  # any failure means "not ready"; the cause goes to the log
        # One line, the error's class and message: a probe every few seconds must not fill the
        # log with tracebacks while the database is away.
        # (SQLAlchemy appends the statement and a link on lines of their own: the first only.)
        first_line = next(iter(str(error).splitlines()), "")
        logger.warning("readiness check failed: %s: %s", type(error).__name__, first_line)
        return not_ready(request, "The database is not reachable.", "Retry shortly.")
    problem = state.problem()
    if problem is not None:
        logger.warning("not ready: %s", problem)
        return not_ready(
            request,
            "The database schema is not at this version's revision.",
            f"An operator must act: {problem}.",
        )
    return HealthDto(status="ready")


def not_ready(request: Request, message: str, recovery_action: str) -> JSONResponse:
    return error_response(
        request_id_of(request),
        status=503,
        code=ErrorCode.SERVICE_UNAVAILABLE,
        message=message,
        recovery_action=recovery_action,
        retry_after_seconds=NOT_READY_RETRY_SECONDS,
    )
