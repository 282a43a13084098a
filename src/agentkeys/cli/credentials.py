"""``agentkeys credentials list / show / revoke``: every agent credential, database-direct.

Through the admin API's own service (``AdminCredentialService``), so the command line and
``/v1/admin/credentials`` answer the same items and record revocations the same way: as
``admin:cli``, announced on Redis (when set) so running servers refuse the keys at once.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from pydantic import BaseModel, ValidationError

from agentkeys.cli.main import (
    announce_revoked,
    app,
    checked_policy,
    fail,
    load_settings,
    run_in_database,
)
from agentkeys.clock import Clock, SystemClock
from agentkeys.config import Settings

if TYPE_CHECKING:
    from rich.table import Table
    from sqlalchemy.ext.asyncio import AsyncSession

    from agentkeys.admin.schemas import AdminCredentialDto
    from agentkeys.admin.service import AdminCredentialService, CredentialQuery, CursorCodec
    from agentkeys.credentials.policy import ScopeCatalog

credentials_app = typer.Typer(
    help="Agent credentials (wsk_agent_…): list, show, revoke. Database-direct.",
    no_args_is_help=True,
)
app.add_typer(credentials_app, name="credentials")

# What "active" and "expired" are judged against (tests put a frozen clock here).
clock: Clock = SystemClock()
# The admin API's largest page: the listing reads this many at a time.
PAGE = 200
# A listing is held in memory to be aligned: more is for the admin API's cursor pages.
LARGEST_LIMIT = 10_000
# Wide enough that no column is ever cut: a terminal narrower than a row wraps it.
CONSOLE_WIDTH = 1000
ORGANIZATION_MAX_LENGTH = 255
LIST_COLUMNS = (
    "credential_id",
    "organization_name",
    "user_email",
    "status",
    "scopes",
    "created_at",
    "expires_at",
    "revoked_by",
)


class Status(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


class AnnouncedOnCommit:
    """The revocation bus of one command: collects what the unit of work announces once it has
    committed, for ``announce_revoked`` to tell running servers in one Redis connection."""

    def __init__(self) -> None:
        self.credential_ids: list[str] = []

    async def publish(self, credential_id: str) -> None:
        self.credential_ids.append(credential_id)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class Wiring:
    """What every command's service needs, read once before the database is touched (a bad
    policy file is refused first, naming its line)."""

    catalog: ScopeCatalog
    cursors: CursorCodec

    @classmethod
    def of(cls, settings: Settings) -> Wiring:
        from agentkeys.admin.service import CursorCodec

        return cls(
            catalog=checked_policy(settings.policy).catalog,
            cursors=CursorCodec(settings.secret.get_secret_value().encode("utf-8")),
        )

    def service(
        self, session: AsyncSession, announced: AnnouncedOnCommit | None = None
    ) -> AdminCredentialService:
        from agentkeys.admin.service import AdminCredentialService
        from agentkeys.credentials.service import CredentialAdministration

        return AdminCredentialService(
            CredentialAdministration(
                session, clock=clock, revocations=announced or AnnouncedOnCommit()
            ),
            catalog=self.catalog,
            cursors=self.cursors,
        )


def echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def print_table(table: Table) -> None:
    from rich.console import Console

    Console(width=CONSOLE_WIDTH).print(table)


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ",".join(str(item) for item in value) or "-"
    return str(value)


def checked(model: type[BaseModel], **fields: Any) -> Any:
    """The fields as the admin API checks its bodies; a refusal is one line per field, exit 2."""
    try:
        return model(**fields)
    except ValidationError as error:
        for problem in error.errors():
            where = ".".join(str(part) for part in problem["loc"])
            option = f"--{where.replace('_', '-')}: " if where else ""
            typer.echo(f"error: {option}{problem['msg']}", err=True)
        raise typer.Exit(code=2) from None


def check_organization(organization: str) -> None:
    """As the admin API's ``organization`` filter: not blank, at most 255 characters."""
    if not organization.strip() or len(organization) > ORGANIZATION_MAX_LENGTH:
        fail(f"--organization: 1-{ORGANIZATION_MAX_LENGTH} characters, not blank", code=2)


async def matching(
    service: AdminCredentialService, query: CredentialQuery, *, limit: int | None
) -> tuple[list[AdminCredentialDto], bool]:
    """Up to ``limit`` (None: all) credentials matching, newest first, page by page; and whether
    more exist beyond them."""
    found: list[AdminCredentialDto] = []
    cursor: str | None = None
    while True:
        wanted = PAGE if limit is None else min(PAGE, limit - len(found))
        page = await service.list(query, cursor=cursor, limit=wanted)
        found += page.items
        cursor = page.next_cursor
        if cursor is None or (limit is not None and len(found) >= limit):
            return found, cursor is not None


OrganizationOption = Annotated[
    str | None,
    typer.Option(
        help="Only this organization, by its quota identity: case, accents, width, look-alike "
        "letters and punctuation do not matter.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="JSON for scripts.")]


@credentials_app.command("list")
def credentials_list(
    organization: OrganizationOption = None,
    status: Annotated[Status | None, typer.Option(help="Only credentials in this state.")] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=LARGEST_LIMIT, help="At most this many, newest first.")
    ] = 50,
    as_json: JsonOption = False,
) -> None:
    """List credentials, newest first (never their keys: only digests are stored)."""
    from rich import box
    from rich.table import Table

    from agentkeys.admin.service import CredentialQuery

    settings = load_settings()
    wiring = Wiring.of(settings)
    if organization is not None:
        check_organization(organization)
    query = CredentialQuery(
        organization=organization, status=status.value if status is not None else None
    )
    items, more = run_in_database(
        settings,
        lambda session: matching(wiring.service(session), query, limit=limit),
    )
    if as_json:
        echo_json([item.model_dump() for item in items])
    else:
        table = Table(box=box.SIMPLE)
        for column in LIST_COLUMNS:
            table.add_column(column, no_wrap=True)
        for item in items:
            row = item.model_dump()
            table.add_row(*(cell(row[column]) for column in LIST_COLUMNS))
        print_table(table)
        if not items:
            typer.echo("(no credentials match)", err=True)
    if more:
        typer.echo(f"(the newest {limit} shown; more match: raise --limit)", err=True)


@credentials_app.command("show")
def credentials_show(
    credential_id: Annotated[str, typer.Argument(metavar="ID", help="The credential's id.")],
    as_json: JsonOption = False,
) -> None:
    """Show one credential and the decision that issued it."""
    from rich import box
    from rich.table import Table

    settings = load_settings()
    wiring = Wiring.of(settings)
    detail = run_in_database(settings, lambda session: wiring.service(session).get(credential_id))
    if as_json:
        echo_json(detail.model_dump())
        return
    fields = detail.model_dump()
    decision = fields.pop("decision")
    table = Table(box=box.SIMPLE, show_header=False)
    table.add_column("field", no_wrap=True, style="bold")
    table.add_column("value", no_wrap=True)
    for name, value in fields.items():
        table.add_row(name, cell(value))
    for name, value in decision.items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else cell(value)
        table.add_row(f"decision.{name}", shown)
    print_table(table)


@credentials_app.command("revoke")
def credentials_revoke(
    reason: Annotated[
        str, typer.Option(help="Why, recorded with the revocation (1-255 characters).")
    ],
    credential_id: Annotated[
        str | None,
        typer.Argument(metavar="ID", help="The credential to revoke (or --organization)."),
    ] = None,
    organization: Annotated[
        str | None,
        typer.Option(
            help="Revoke every active credential of this organization (its quota identity), "
            "after confirmation.",
        ),
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Revoke without asking for confirmation.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Revoke one credential, or every active one of an organization; running servers refuse
    the keys at once (announced on Redis, when AGENTKEYS_REDIS_URL is set)."""
    if credential_id is not None and organization is None:
        revoke_one(load_settings(), credential_id, reason=reason, as_json=as_json)
    elif organization is not None and credential_id is None:
        revoke_organization(load_settings(), organization, reason=reason, yes=yes, as_json=as_json)
    else:
        fail("give exactly one of ID or --organization", code=2)


def revoke_one(settings: Settings, credential_id: str, *, reason: str, as_json: bool) -> None:
    from agentkeys.admin.schemas import AdminRevokeRequestDto
    from agentkeys.admin.service import COMMAND_LINE

    body: AdminRevokeRequestDto = checked(AdminRevokeRequestDto, reason=reason)
    wiring = Wiring.of(settings)
    announced = AnnouncedOnCommit()
    item = run_in_database(
        settings,
        lambda session: wiring.service(session, announced).revoke(
            credential_id, admin=COMMAND_LINE, reason=body.reason
        ),
    )
    announce_revoked(settings, announced.credential_ids)
    revoked_now = item.credential_id in announced.credential_ids
    if as_json:
        echo_json({"revoked_now": revoked_now, "credential": item.model_dump()})
    elif revoked_now:
        typer.echo(f"revoked credential {item.credential_id} ({item.organization_name})")
    else:
        typer.echo(
            f"credential {item.credential_id} ({item.organization_name}) was already revoked "
            f"at {item.revoked_at} by {item.revoked_by}"
        )


def revoke_organization(
    settings: Settings, organization: str, *, reason: str, yes: bool, as_json: bool
) -> None:
    from agentkeys.admin.schemas import AdminBulkRevokeRequestDto
    from agentkeys.admin.service import COMMAND_LINE, CredentialQuery

    body: AdminBulkRevokeRequestDto = checked(
        AdminBulkRevokeRequestDto, organization=organization, reason=reason
    )
    wiring = Wiring.of(settings)
    query = CredentialQuery(organization=organization, status=Status.ACTIVE.value)
    active, _ = run_in_database(
        settings,
        lambda session: matching(wiring.service(session), query, limit=None),
    )
    if not active:
        nothing = f"no active credentials of organization '{organization}': nothing to revoke"
        if as_json:
            echo_json({"revoked": 0, "credential_ids": []})
        typer.echo(nothing, err=as_json)
        return
    if not yes:
        confirm_or_stop(f"Revoke {plural(len(active))} of organization '{organization}'?")
    announced = AnnouncedOnCommit()
    revoked = run_in_database(
        settings,
        lambda session: wiring.service(session, announced).revoke_matching(
            body, admin=COMMAND_LINE
        ),
    )
    announce_revoked(settings, announced.credential_ids)
    if as_json:
        echo_json(revoked.model_dump())
    else:
        typer.echo(f"revoked {plural(revoked.revoked)} of organization '{organization}'")


def plural(count: int) -> str:
    return f"{count} active credential" + ("" if count == 1 else "s")


def confirm_or_stop(question: str) -> None:
    """Ask on stderr, read one line: only y or yes goes on. Nothing is written to stdout (which
    may be a script's JSON), and no answer (stdin closed) is never a yes."""
    typer.echo(f"{question} [y/N]: ", nl=False, err=True)
    answer = sys.stdin.readline()
    if not answer:
        typer.echo("", err=True)
    if answer.strip().casefold() not in {"y", "yes"}:
        fail("nothing revoked (answer y, or pass --yes)")
