"""The console's wiring (built once by ``create_app``), its session guard, and its forms with
their CSRF check. The services are the admin API's own (``admin.deps``, ``webhooks.deps``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import Depends, Request

from agentkeys.admin.service import AdminKeyService
from agentkeys.api.context import app_context, note_admin_key
from agentkeys.api.deps import address_of_request
from agentkeys.console.rendering import Renderer, StaticAsset
from agentkeys.console.session import SessionClaims, SessionSigner
from agentkeys.credentials.identity import AdminIdentity, AdminRole
from agentkeys.ratelimit.base import RequestRate, RequestRateLimiter

# The roles that may sign in; any other (a key for another purpose) is refused.
CONSOLE_ROLES = frozenset({AdminRole.ADMIN.value, AdminRole.VIEWER.value})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 20
# Failed sign-ins per client address: a person mistyping stays well under it; a script guessing
# keys (hopeless against 256 bits anyway) is slowed and shows up in the logs and metrics.
SIGN_IN_FAILURES = RequestRate(limit=10, window=timedelta(minutes=15))


@dataclass(frozen=True, slots=True)
class ConsoleWiring:
    """What only the console routes share, built once by ``create_app`` (``app.state.console``)."""

    signer: SessionSigner
    renderer: Renderer
    static_assets: dict[str, StaticAsset]
    # Secure cookies (and the ``__Host-`` prefix) everywhere but development mode over http.
    secure_cookies: bool
    # Failed sign-ins per client address (a wrong key counts; a right one does not).
    sign_in_failures: RequestRateLimiter

    @property
    def session_cookie(self) -> str:
        return "__Host-agentkeys_console" if self.secure_cookies else "agentkeys_console"

    @property
    def sign_in_cookie(self) -> str:
        return (
            "__Host-agentkeys_console_sign_in"
            if self.secure_cookies
            else "agentkeys_console_sign_in"
        )


def console_wiring(request: Request) -> ConsoleWiring:
    wiring: ConsoleWiring = request.app.state.console
    return wiring


class SignInRequired(Exception):
    """No valid session (none, expired, altered, or its admin key gone): to the sign-in page."""


class CsrfRefused(Exception):
    """A form without this session's CSRF token: refused (403)."""


class BadForm(Exception):
    """A POST whose body is not a form."""


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A signed-in operator: the admin key (checked on this request) and the CSRF token."""

    admin: AdminIdentity
    claims: SessionClaims
    csrf_token: str

    @property
    def can_revoke(self) -> bool:
        return self.admin.role is AdminRole.ADMIN


async def console_session(request: Request) -> ConsoleSession:
    """The session of a valid cookie whose admin key still exists, unrevoked, with a console
    role, read from the database on every request: a revoked key's sessions end at once.

    Read in a short session of its own, as the admin key verifier does: the request's unit of
    work must start with the write lock when the route revokes (``begin_write``)."""
    wiring = console_wiring(request)
    context = app_context(request)
    claims = wiring.signer.decode(
        request.cookies.get(wiring.session_cookie), now=context.clock.now()
    )
    if claims is None or not claims.admin_key_id:
        raise SignInRequired
    async with context.session_factory() as session:
        record = await AdminKeyService(
            session, clock=context.clock, server_secret=context.server_secret
        ).active(claims.admin_key_id)
    if record is None or record.role not in CONSOLE_ROLES:
        raise SignInRequired
    note_admin_key(request, record.id)
    signed_in = ConsoleSession(
        admin=AdminIdentity(id=record.id, name=record.name, role=AdminRole(record.role)),
        claims=claims,
        csrf_token=wiring.signer.csrf_token(claims),
    )
    # For an error page of this request (its header and nav), without reading the key again.
    request.state.console_session = signed_in
    return signed_in


ConsoleSessionDep = Annotated[ConsoleSession, Depends(console_session)]


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form's fields (the first of a repeated name); an empty body is no fields."""
    body = await request.body()
    if not body:
        return {}
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != FORM_MEDIA_TYPE:
        raise BadForm
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise BadForm from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


@dataclass(frozen=True, slots=True)
class CheckedForm:
    """A form posted by a signed-in operator with this session's CSRF token."""

    console: ConsoleSession
    fields: dict[str, str]

    def text(self, name: str) -> str:
        return self.fields.get(name, "").strip()


async def checked_form(request: Request, console: ConsoleSessionDep) -> CheckedForm:
    """Every console POST: the token in the form (``csrf_token``) or, from htmx, the
    ``X-CSRF-Token`` header; missing or wrong is refused (403) before anything is done."""
    fields = await read_form(request)
    presented = fields.get(CSRF_FIELD) or single_header(request, CSRF_HEADER)
    if not console_wiring(request).signer.csrf_matches(console.claims, presented):
        raise CsrfRefused
    return CheckedForm(console=console, fields=fields)


CheckedFormDep = Annotated[CheckedForm, Depends(checked_form)]


def single_header(request: Request, name: str) -> str | None:
    """A header sent on exactly one line, else None: which of several copies counts is for no
    one to guess (a CSRF token sent twice is no token)."""
    values = request.headers.getlist(name)
    return values[0] if len(values) == 1 else None


def client_address_of(request: Request) -> str:
    return address_of_request(request)
