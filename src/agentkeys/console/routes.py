"""The operator console (``/console``): server-rendered pages over the admin API's services.

Thin, as every route: parse, call the admin API's own service (one code path: a revocation here
is the admin API's, recorded as ``admin:<name>`` and announced on the revocation bus), render.
Every page needs a session (else 303 to the sign-in page); every POST carries the session's CSRF
token. None of these routes is in the OpenAPI document.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from ipaddress import ip_network
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import RedirectResponse, Response

from agentkeys.admin.deps import (
    AdminCredentialServiceDep,
    AdminDecisionServiceDep,
    admin_wiring,
)
from agentkeys.admin.schemas import (
    ORGANIZATION_MAX_LENGTH,
    REASON_MAX_LENGTH,
    AdminBulkRevokeRequestDto,
    AdminCredentialDetailDto,
)
from agentkeys.admin.service import AdminCredentialService, CredentialQuery, DecisionQuery
from agentkeys.api.context import app_context, request_id_of
from agentkeys.api.deps import JsonBodyRoute, describe_rate
from agentkeys.api.errors import STATUS_BY_CODE, field_errors_from
from agentkeys.console.charts import OUTCOMES, policy_parts, stacked_chart
from agentkeys.console.deps import (
    CONSOLE_ROLES,
    CSRF_FIELD,
    BadForm,
    CheckedFormDep,
    ConsoleSession,
    ConsoleSessionDep,
    CsrfRefused,
    SignInRequired,
    client_address_of,
    console_session,
    console_wiring,
    read_form,
    single_header,
)
from agentkeys.console.durations import human_duration
from agentkeys.console.rendering import SECURITY_HEADERS, with_security_headers
from agentkeys.credentials.repository import CredentialOrder
from agentkeys.durations import parse_duration
from agentkeys.errors import DomainError, FieldError, Forbidden, ValidationFailed, echo
from agentkeys.ratelimit.base import RateDecision
from agentkeys.validation import parse_instant
from agentkeys.webhooks.deps import WebhookServiceDep

logger = logging.getLogger(__name__)

PREFIX = "/console"
SIGN_IN = f"{PREFIX}/login"
PER_PAGE_CHOICES = (10, 25, 50, 100)
DEFAULT_PER_PAGE = 25
TABLE_ID = "credentials-table"
STATUSES = ("active", "expired", "revoked")
DIRECTIONS = ("asc", "desc")
DECISIONS_PER_PAGE = 50
WEBHOOK_ATTEMPTS_SHOWN = 10
DAYS_CHARTED = 30
MAX_PAGE = 1_000_000
# A banner a redirect asks for names one of these codes; its text is the server's. An unknown
# code shows nothing: a link must never put its own words in the console's voice.
BULK_REVOKED = "bulk-revoked"
TEST_SENT = "test-sent"
NOTICES = {
    BULK_REVOKED: "Revoked {count} active credential{plural}: the agents' next requests are "
    "refused, on every replica.",
    TEST_SENT: "Test event queued; it is delivered like any event.",
}


class ConsoleRoute(JsonBodyRoute):
    """Answers in HTML, never the API's JSON envelope: no session → 303 to the sign-in page,
    a missing CSRF token → 403 page, a bad parameter → 400 page, a domain error → its status
    with its message. Every answer carries the console's security headers. (A ``JsonBodyRoute``
    like every route, though the console's bodies are forms, read by ``deps.read_form``.)"""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                response = RedirectResponse(SIGN_IN, status_code=303)
                _drop_cookie(response, request, console_wiring(request).session_cookie)
            except CsrfRefused:
                response = await _error_page(
                    request,
                    status=403,
                    title="Refused: the form's security token is missing or wrong",
                    messages=["Reload the page and submit the form again."],
                )
            except BadForm:
                response = await _error_page(
                    request, status=400, title="Not a form", messages=["Send the page's form."]
                )
            except RequestValidationError as error:
                response = await _validation_page(request, field_errors_from(error.errors()))
            except ValidationFailed as error:
                response = await _validation_page(request, list(error.field_errors))
            except DomainError as error:
                response = await _error_page(
                    request,
                    status=STATUS_BY_CODE.get(error.code, 500),
                    title=error.message,
                    messages=[error.recovery_action] if error.recovery_action else [],
                )
            return with_security_headers(response)

        return handle


router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


def _drop_cookie(response: Response, request: Request, name: str) -> None:
    """Expire a cookie with the attributes it was set with: a browser ignores a ``__Host-``
    cookie (a deletion included) without ``Secure``, and the session would outlive sign-out."""
    response.delete_cookie(
        name,
        path="/",
        secure=console_wiring(request).secure_cookies,
        httponly=True,
        samesite="strict",
    )


async def _signed_in(request: Request) -> ConsoleSession | None:
    """The operator's session for an error page (its header and nav), if the request has one:
    the one the route's guard already read, else read now. None without one, or should it
    not be readable (the database down): the page is still answered, without the nav."""
    known: ConsoleSession | None = getattr(request.state, "console_session", None)
    if known is not None:
        return known
    try:
        return await console_session(request)
    except SignInRequired:
        return None
    except Exception:
        logger.warning("console error page without its session", exc_info=True)
        return None


async def _error_page(
    request: Request, *, status: int, title: str, messages: list[str]
) -> Response:
    """An error in the console's layout: with its header and nav when signed in."""
    console = await _signed_in(request)
    return console_wiring(request).renderer.page(
        "error.html",
        {
            "console": console,
            "csrf_token": console.csrf_token if console is not None else "",
            "title": title,
            "messages": messages,
            "status": status,
            "request_id": request_id_of(request),
            "nav": "",
        },
        status=status,
    )


async def _validation_page(request: Request, errors: list[FieldError]) -> Response:
    return await _error_page(
        request,
        status=400,
        title="Bad request: a parameter is invalid",
        messages=[f"{error.field}: {error.message}" for error in errors],
    )


def _page(
    request: Request,
    console: ConsoleSession,
    template: str,
    *,
    nav: str,
    status: int = 200,
    **context: Any,
) -> Response:
    return console_wiring(request).renderer.page(
        template,
        {"console": console, "csrf_token": console.csrf_token, "nav": nav, **context},
        status=status,
    )


def _blank_to_none(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


def _choice(field: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    value = _blank_to_none(value)
    if value is not None and value not in allowed:
        raise ValidationFailed([FieldError(field, "Must be one of: " + ", ".join(allowed))])
    return value


def _instant_or_ago(field: str, value: str | None, *, now: datetime) -> datetime | None:
    """An ISO 8601 instant (a date alone: its midnight; no offset: UTC), or a time ago
    (``90m``, ``24h``, ``7d``) as the CLI's ``--since`` takes it; else a 400 naming it."""
    if value is None:
        return None
    with contextlib.suppress(ValueError):
        return now - parse_duration(value)
    try:
        return parse_instant(value)
    except ValueError:
        raise ValidationFailed(
            [
                FieldError(
                    field,
                    f"'{echo(value)}' is not a date and time, like 2026-03-01T12:00 (UTC), "
                    "or a time ago, like 90m, 24h or 7d",
                )
            ]
        ) from None


def _local_input(instant: datetime | None) -> str:
    """A conforming ``datetime-local`` value (UTC, the label says so), or empty."""
    if instant is None:
        return ""
    utc = instant.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S" if utc.second else "%Y-%m-%dT%H:%M")


def _address(field: str, value: str | None) -> str | None:
    """One IP address (a one-address CIDR, ``/32`` or ``/128``, is that address); else 400."""
    if value is None:
        return None
    try:
        network = ip_network(value.split("%", 1)[0], strict=False)
    except ValueError:
        raise ValidationFailed(
            [FieldError(field, f"'{echo(value)}' is not an IP address, like 203.0.113.7")]
        ) from None
    if network.num_addresses != 1:
        raise ValidationFailed(
            [
                FieldError(
                    field,
                    f"'{echo(value)}' is a network of {network.num_addresses} addresses: "
                    "give one address",
                )
            ]
        )
    return str(network.network_address)


# Static assets, from the package.


@router.get("/static/{name}")
async def static_asset(request: Request, name: Annotated[str, Path(max_length=64)]) -> Response:
    asset = console_wiring(request).static_assets.get(name)
    if asset is None:
        return await _error_page(request, status=404, title="No such file", messages=[])
    return Response(
        asset.body,
        media_type=asset.media_type,
        headers={**SECURITY_HEADERS, "Cache-Control": "public, max-age=300"},
    )


# Signing in and out.


def _sign_in_page(request: Request, *, status: int = 200, message: str | None = None) -> Response:
    """The sign-in form, with a pre-session cookie holding its CSRF secret: the one the browser
    holds while it is valid (two tabs' forms both work), else a new one."""
    wiring = console_wiring(request)
    now = app_context(request).clock.now()
    held = wiring.signer.decode(request.cookies.get(wiring.sign_in_cookie), now=now)
    claims = held if held is not None and not held.admin_key_id else None
    claims = claims or wiring.signer.new_sign_in(now=now)
    response = wiring.renderer.page(
        "login.html",
        {
            "console": None,
            "nav": "",
            "csrf_token": wiring.signer.csrf_token(claims),
            "message": message,
            "session_seconds": int(wiring.signer.session_lifetime.total_seconds()),
        },
        status=status,
    )
    response.set_cookie(
        wiring.sign_in_cookie,
        wiring.signer.encode(claims),
        max_age=max(1, int((claims.expires_at - now).total_seconds())),
        path="/",
        secure=wiring.secure_cookies,
        httponly=True,
        samesite="strict",
    )
    return response


@router.get("/login")
async def sign_in_form(request: Request) -> Response:
    return _sign_in_page(request)


@router.post("/login")
async def sign_in(request: Request) -> Response:
    """A right admin key (role admin or viewer) opens a session (8 hours unless
    ``AGENTKEYS_CONSOLE_SESSION_SECONDS`` says otherwise); a wrong one is
    answered 401 with the form again and counted against the client address's rate. Once
    the address is over that rate, every sign-in from it is answered 429 before the key is
    looked at: a right key too, else the limit would not stop a guesser testing keys."""
    wiring = console_wiring(request)
    now = app_context(request).clock.now()
    fields = await read_form(request)
    pre_session = wiring.signer.decode(request.cookies.get(wiring.sign_in_cookie), now=now)
    if pre_session is None or not wiring.signer.csrf_matches(pre_session, fields.get(CSRF_FIELD)):
        raise CsrfRefused
    address = client_address_of(request)
    # Cost 0: reads the address's standing without counting this attempt.
    standing = await wiring.sign_in_failures.hit(address, cost=0)
    if standing.remaining <= 0 and not standing.degraded:
        return _locked_out(request, address, standing)
    presented = fields.get("admin_key", "").strip()
    try:
        admin = await admin_wiring(request).verifier.authenticate(presented or None)
    except DomainError:
        return await _failed_sign_in(request, address)
    if admin.role.value not in CONSOLE_ROLES:
        return _sign_in_page(
            request,
            status=403,
            message="This key's role may not sign in to the console (admin or viewer only).",
        )
    claims = wiring.signer.new_session(admin.id, now=now)
    response = RedirectResponse(PREFIX, status_code=303)
    response.set_cookie(
        wiring.session_cookie,
        wiring.signer.encode(claims),
        max_age=int((claims.expires_at - now).total_seconds()),
        path="/",
        secure=wiring.secure_cookies,
        httponly=True,
        samesite="strict",
    )
    _drop_cookie(response, request, wiring.sign_in_cookie)
    logger.info("console sign-in", extra={"admin_key_id": admin.id})
    return response


async def _failed_sign_in(request: Request, address: str) -> Response:
    decision = await console_wiring(request).sign_in_failures.hit(address)
    if not decision.allowed:
        return _locked_out(request, address, decision)
    describe_rate(request, "console-sign-in-failed", decision)
    logger.info("console sign-in refused", extra={"client_address": address, "rate_limited": False})
    return _sign_in_page(
        request,
        status=401,
        message="That is not a valid admin key. Paste the whole key (wsk_admin_…).",
    )


def _locked_out(request: Request, address: str, decision: RateDecision) -> Response:
    """429 with Retry-After: the address is over its failed sign-in rate."""
    describe_rate(request, "console-sign-in-failed", decision)
    logger.info("console sign-in refused", extra={"client_address": address, "rate_limited": True})
    response = _sign_in_page(
        request,
        status=429,
        message=(
            f"Too many failed sign-ins from this address ({decision.limit} in "
            f"{human_duration(decision.window_seconds)}). Every sign-in from it is refused "
            f"for {human_duration(decision.reset_seconds)}."
        ),
    )
    response.headers["Retry-After"] = str(decision.reset_seconds)
    return response


@router.post("/logout")
async def sign_out(request: Request, form: CheckedFormDep) -> Response:
    del form  # the CSRF check is the point: no page may sign an operator out
    response = RedirectResponse(SIGN_IN, status_code=303)
    _drop_cookie(response, request, console_wiring(request).session_cookie)
    return response


# The overview.


@router.get("")
async def overview(
    request: Request,
    console: ConsoleSessionDep,
    decisions: AdminDecisionServiceDep,
) -> Response:
    stats = await decisions.stats("24h")
    daily = await decisions.daily(days=DAYS_CHARTED)
    context = app_context(request)
    # Buckets are UTC hours and days (the database groups by them), labelled as such with
    # their dates: the page's other times are the browser's, and an hour alone ("14:00 …
    # 14:00") does not say which day.
    hourly_chart = stacked_chart(
        "Decisions per hour, last 24 hours (UTC hours)",
        [
            (parse_instant(hour.hour), hour.by_outcome.model_dump())
            for hour in stats.decisions_by_hour
        ],
        label_format="%Y-%m-%d %H:00 UTC",
    )
    daily_chart = stacked_chart(
        f"Decisions per day, last {DAYS_CHARTED} days (UTC days)",
        [(day.day, day.by_outcome) for day in daily],
        label_format="%Y-%m-%d UTC",
    )
    return _page(
        request,
        console,
        "overview.html",
        nav="overview",
        stats=stats,
        charts=[("hourly", hourly_chart), ("daily", daily_chart)],
        policy=policy_parts(context.policy),
    )


# Credentials.


def _credentials_url(params: dict[str, Any], **changes: Any) -> str:
    merged = {**params, **changes}
    shown = {name: value for name, value in merged.items() if value not in (None, "")}
    return f"{PREFIX}/credentials" + (f"?{urlencode(shown)}" if shown else "")


@router.get("/credentials")
async def credentials(
    *,
    request: Request,
    console: ConsoleSessionDep,
    service: AdminCredentialServiceDep,
    q: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    organization: Annotated[str | None, Query(max_length=255)] = None,
    scope: Annotated[str | None, Query(max_length=64)] = None,
    sort: Annotated[str | None, Query(max_length=16)] = None,
    direction: Annotated[str | None, Query(alias="dir", max_length=4)] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = DEFAULT_PER_PAGE,
    notice: Annotated[str | None, Query(max_length=200)] = None,
    count: Annotated[int | None, Query(ge=0, le=10_000_000)] = None,
) -> Response:
    """The table of every credential: search, filters, one sort column, numbered pages. htmx
    asks for the table alone (``HX-Request``); the URL holds everything, so it can be shared."""
    if per_page not in PER_PAGE_CHOICES:
        raise ValidationFailed(
            [FieldError("per_page", "Must be one of: " + ", ".join(map(str, PER_PAGE_CHOICES)))]
        )
    sort_by = CredentialOrder(
        _choice("sort", sort, tuple(order.value for order in CredentialOrder)) or "created"
    )
    descending = (_choice("dir", direction, DIRECTIONS) or "desc") == "desc"
    search = _blank_to_none(q)
    query = CredentialQuery(
        organization=_blank_to_none(organization),
        status=_choice("status", status, STATUSES),
        scope=_blank_to_none(scope),
    )
    params: dict[str, Any] = {
        "q": search,
        "status": query.status,
        "organization": query.organization,
        "scope": query.scope,
        "sort": sort_by.value,
        "dir": "desc" if descending else "asc",
        "per_page": per_page,
    }
    table = await service.table(
        query,
        search=search,
        order=sort_by,
        descending=descending,
        offset=(page - 1) * per_page,
        limit=per_page,
    )
    pages = max(1, -(-table.total // per_page))
    if page > pages:
        raise ValidationFailed(
            [FieldError("page", f"Must be from 1 to {pages} (the last page) for these filters")]
        )
    context: dict[str, Any] = {
        "table": table,
        "params": params,
        "page": page,
        "pages": pages,
        "url": lambda **changes: _credentials_url(params, **changes),
        "sortable": [order.value for order in CredentialOrder],
        "statuses": STATUSES,
        "scopes": app_context(request).policy.catalog.grantable_names(),
        "per_page_choices": PER_PAGE_CHOICES,
        "notice": _notice(notice, allowed=(BULK_REVOKED,), count=count),
    }
    if _wants_table_only(request):
        return _page(request, console, "credentials_table.html", nav="credentials", **context)
    return _page(request, console, "credentials.html", nav="credentials", **context)


def _notice(code: str | None, *, allowed: tuple[str, ...], count: int | None = None) -> str | None:
    """The server's text for a banner code this page shows; None for any other code (or for
    a count-taking notice without its count)."""
    if code not in allowed:
        return None
    template = NOTICES[code]
    if "{count}" in template:
        if count is None:
            return None
        return template.format(count=count, plural="" if count == 1 else "s")
    return template


def _wants_table_only(request: Request) -> bool:
    """htmx swapping the table (never a history restore, which needs the whole page)."""
    return (
        single_header(request, "hx-request") == "true"
        and single_header(request, "hx-target") == TABLE_ID
        and not request.headers.getlist("hx-history-restore-request")
    )


CredentialIdPath = Annotated[str, Path(max_length=128)]


@router.get("/credentials/{credential_id}")
async def credential(
    request: Request,
    console: ConsoleSessionDep,
    service: AdminCredentialServiceDep,
    credential_id: CredentialIdPath,
    revoked: Annotated[str | None, Query(max_length=1)] = None,
) -> Response:
    """One credential: the request as the agent sent it, its decision, its activity."""
    detail = await service.get(credential_id)
    return _page(
        request,
        console,
        "credential.html",
        nav="credentials",
        credential=detail,
        # Only when it is so: a link's ?revoked=1 must not call an active credential revoked.
        just_revoked=revoked == "1" and detail.revoked_at is not None,
    )


@router.get("/credentials/{credential_id}/revoke")
async def confirm_revocation(
    request: Request,
    console: ConsoleSessionDep,
    service: AdminCredentialServiceDep,
    credential_id: CredentialIdPath,
) -> Response:
    """The confirmation step: what will be revoked, and why (the reason is asked here). A
    viewer is refused (403), as its POST would be; a revoked credential offers no form."""
    console.admin.require_admin()
    detail = await service.get(credential_id)
    return _revoke_page(request, console, detail)


def _revoke_page(
    request: Request,
    console: ConsoleSession,
    detail: AdminCredentialDetailDto,
    *,
    status: int = 200,
    reason: str = "",
    errors: dict[str, str] | None = None,
) -> Response:
    return _page(
        request,
        console,
        "revoke.html",
        nav="credentials",
        status=status,
        credential=detail,
        reason=reason,
        errors=errors or {},
        reason_max_length=REASON_MAX_LENGTH,
    )


@router.post("/credentials/{credential_id}/revoke")
async def revoke(
    request: Request,
    form: CheckedFormDep,
    service: AdminCredentialServiceDep,
    credential_id: CredentialIdPath,
) -> Response:
    """The admin API's revocation (a viewer is refused there, 403): refused at once on every
    replica, recorded as ``admin:<name>`` with the reason. A bad reason shows the form again
    with the message by the field; an already revoked credential says when and by whom (409),
    never success, and keeps its first reason."""
    form.console.admin.require_admin()
    typed = form.text("reason")
    problem = _text_problem(typed, REASON_MAX_LENGTH, missing=MISSING_REASON)
    if problem is not None:
        detail = await service.get(credential_id)
        return _revoke_page(
            request,
            form.console,
            detail,
            status=409 if detail.revoked_at is not None else 400,
            reason=typed,
            errors={"reason": problem},
        )
    _, revoked = await service.revoke_reporting(
        credential_id, admin=form.console.admin, reason=typed.strip()
    )
    if not revoked:
        return _revoke_page(
            request, form.console, await service.get(credential_id), status=409, reason=typed
        )
    return RedirectResponse(f"{PREFIX}/credentials/{credential_id}?revoked=1", status_code=303)


MISSING_REASON = "Give a reason: it is recorded with the revocation."
MISSING_ORGANIZATION = "Give the organization whose active credentials to revoke."


def _text_problem(value: str, max_length: int, *, missing: str) -> str | None:
    """What is wrong with a form's text field, in the form's terms; None when it is fine."""
    stripped = value.strip()
    if not stripped:
        return missing
    if len(stripped) > max_length:
        return f"At most {max_length} characters (this one has {len(stripped)})."
    return None


@router.get("/bulk-revoke")
async def confirm_bulk_revocation(
    request: Request,
    console: ConsoleSessionDep,
    service: AdminCredentialServiceDep,
    organization: Annotated[str | None, Query(max_length=ORGANIZATION_MAX_LENGTH)] = None,
) -> Response:
    """Pick an organization; then see how many active credentials a revocation would take,
    before confirming it. A viewer is refused (403), as its POST would be."""
    console.admin.require_admin()
    return await _bulk_page(request, console, service, _blank_to_none(organization))


async def _bulk_page(
    request: Request,
    console: ConsoleSession,
    service: AdminCredentialService,
    organization: str | None,
    *,
    status: int = 200,
    reason: str = "",
    errors: dict[str, str] | None = None,
) -> Response:
    count = names = None
    if organization is not None and len(organization) <= ORGANIZATION_MAX_LENGTH:
        count = await service.count_revocable(organization)
        names = await service.revocable_organization_names(organization)
    return _page(
        request,
        console,
        "bulk_revoke.html",
        nav="credentials",
        status=status,
        organization=organization,
        names=names,
        count=count,
        reason=reason,
        errors=errors or {},
        reason_max_length=REASON_MAX_LENGTH,
        organization_max_length=ORGANIZATION_MAX_LENGTH,
    )


@router.post("/bulk-revoke")
async def bulk_revoke(
    request: Request,
    form: CheckedFormDep,
    service: AdminCredentialServiceDep,
) -> Response:
    """The admin API's bulk revocation of an organization's active credentials, then a 303 to
    the credentials list filtered by that organization (a reload never revokes again). A bad
    field shows the form again, with the message by the field and what was typed."""
    form.console.admin.require_admin()
    organization, reason = form.text("organization"), form.text("reason")
    errors = {
        name: problem
        for name, problem in (
            (
                "organization",
                _text_problem(organization, ORGANIZATION_MAX_LENGTH, missing=MISSING_ORGANIZATION),
            ),
            ("reason", _text_problem(reason, REASON_MAX_LENGTH, missing=MISSING_REASON)),
        )
        if problem is not None
    }
    if errors:
        return await _bulk_page(
            request,
            form.console,
            service,
            _blank_to_none(organization),
            status=400,
            reason=reason,
            errors=errors,
        )
    body = AdminBulkRevokeRequestDto(organization=organization.strip(), reason=reason.strip())
    result = await service.revoke_matching(body, admin=form.console.admin)
    # Post-redirect-get: a reload shows the result, never revokes again. The list is filtered
    # by the organization as stored (the agents' spelling), never as the operator typed it.
    names = await service.organization_names_of(result.credential_ids)
    target = {
        "organization": names[0] if names else body.organization,
        "notice": BULK_REVOKED,
        "count": result.revoked,
    }
    return RedirectResponse(f"{PREFIX}/credentials?{urlencode(target)}", status_code=303)


# Decisions.


@router.get("/decisions")
async def decisions(
    *,
    request: Request,
    console: ConsoleSessionDep,
    service: AdminDecisionServiceDep,
    outcome: Annotated[str | None, Query(max_length=32)] = None,
    organization: Annotated[str | None, Query(max_length=255)] = None,
    address: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[str | None, Query(max_length=64)] = None,
    until: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """The decision ledger, newest first, a page at a time, with what each answer asked for.
    ``since``/``until`` take an instant (a date alone is its midnight, UTC) or a time ago as
    the CLI's ``--since`` does (``1h``, ``24h``, ``7d``); ``address`` is one IP address."""
    now = app_context(request).clock.now()
    params = {
        "outcome": _choice("outcome", outcome, OUTCOMES),
        "organization": _blank_to_none(organization),
        "address": _blank_to_none(address),
        "since": _blank_to_none(since),
        "until": _blank_to_none(until),
    }
    since_at = _instant_or_ago("since", params["since"], now=now)
    until_at = _instant_or_ago("until", params["until"], now=now)
    page = await service.list(
        DecisionQuery(
            outcome=params["outcome"],
            organization=params["organization"],
            client_address=_address("address", params["address"]),
            since=since_at,
            until=until_at,
        ),
        cursor=_blank_to_none(cursor),
        limit=DECISIONS_PER_PAGE,
    )
    shown = {name: value for name, value in params.items() if value is not None}
    next_url = (
        f"{PREFIX}/decisions?" + urlencode({**shown, "cursor": page.next_cursor})
        if page.next_cursor
        else None
    )
    return _page(
        request,
        console,
        "decisions.html",
        nav="decisions",
        page=page,
        params=params,
        outcomes=OUTCOMES,
        next_url=next_url,
        first_url=f"{PREFIX}/decisions" + (f"?{urlencode(shown)}" if shown else ""),
        paged=cursor is not None,
        # What the datetime-local inputs can hold: the instant, to the minute (or second).
        inputs={"since": _local_input(since_at), "until": _local_input(until_at)},
    )


# Webhooks.


@router.get("/webhooks")
async def webhooks(
    request: Request,
    console: ConsoleSessionDep,
    service: WebhookServiceDep,
    notice: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """Every endpoint with its latest deliveries and failures. Never a secret."""
    endpoints = (await service.list()).items
    attempts = {
        endpoint.endpoint_id: (
            await service.attempts(endpoint.endpoint_id, limit=WEBHOOK_ATTEMPTS_SHOWN)
        ).items
        for endpoint in endpoints
    }
    return _page(
        request,
        console,
        "webhooks.html",
        nav="webhooks",
        endpoints=endpoints,
        attempts=attempts,
        notice=_notice(notice, allowed=(TEST_SENT,)),
    )


@router.post("/webhooks/{endpoint_id}/test")
async def send_test_event(
    request: Request,
    form: CheckedFormDep,
    service: WebhookServiceDep,
    endpoint_id: Annotated[str, Path(max_length=128)],
) -> Response:
    """A ``webhook.test`` message for this endpoint (admins only), delivered like any event."""
    if not form.console.can_revoke:
        raise Forbidden(
            f"The admin key '{form.console.admin.name}' has the role 'viewer', which may read "
            "but not send test events."
        )
    sent = await service.send_test(endpoint_id)
    logger.info(
        "console test event queued",
        extra={"endpoint_id": endpoint_id, "message_id": sent.message_id},
    )
    return RedirectResponse(
        f"{PREFIX}/webhooks?" + urlencode({"notice": TEST_SENT}), status_code=303
    )


# Last: any other path under /console is the console's 404 page (with the nav when signed
# in), never the API's JSON envelope.


@router.api_route("/{path:path}", methods=["GET", "HEAD", "POST"])
async def unknown_page(request: Request, path: str) -> Response:
    if not path:
        return RedirectResponse(PREFIX, status_code=307)
    return await _error_page(
        request,
        status=404,
        title="No such page",
        messages=["The console has no page at this address."],
    )
