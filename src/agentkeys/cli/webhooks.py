"""``agentkeys webhooks create / list / show / update / disable / delete / rotate / test``:
webhook endpoints, database-direct, through the admin API's own service (``WebhookService``), so
the command line and ``/v1/admin/webhooks`` check and store them the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from agentkeys.cli.credentials import cell, checked, echo_json, print_table
from agentkeys.cli.main import app, fail, load_settings, run_in_database
from agentkeys.clock import Clock, SystemClock
from agentkeys.config import Settings

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncSession

    from agentkeys.webhooks.service import WebhookService

webhooks_app = typer.Typer(
    help="Webhook endpoints (signed event notifications): create, list, show, update, disable, "
    "delete, rotate, test. Database-direct.",
    no_args_is_help=True,
)
app.add_typer(webhooks_app, name="webhooks")

# Tests put a frozen clock here.
clock: Clock = SystemClock()

EndpointId = Annotated[str, typer.Argument(help="The endpoint's id (ws_webhook_…).")]
EventsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--event",
        help="An event type to send (repeat): credential.issued, credential.denied, "
        "credential.revoked, credential.leaked, credential.expired.",
    ),
]


def _run(settings: Settings, call: Callable[[WebhookService], Awaitable[Any]]) -> Any:
    """``call`` on the service in one unit of work; a refused field is one line, exit 2."""
    from agentkeys.errors import ValidationFailed
    from agentkeys.webhooks.sealing import SecretBox
    from agentkeys.webhooks.service import WebhookService

    async def operation(session: AsyncSession) -> Any:
        service = WebhookService(
            session,
            clock=clock,
            box=SecretBox(settings.secret.get_secret_value().encode("utf-8")),
            allow_private=settings.webhooks_allow_private,
        )
        try:
            return await call(service)
        except ValidationFailed as refused:
            for problem in refused.field_errors:
                typer.echo(f"error: --{problem.field}: {problem.message}", err=True)
            raise typer.Exit(code=2) from None

    return run_in_database(settings, operation)


def _dumped(value: Any) -> Any:
    return value.model_dump(mode="json")


@webhooks_app.command("create")
def webhooks_create(
    url: Annotated[str, typer.Option(help="https URL to a public address.")],
    events: EventsOption = None,
    description: Annotated[str, typer.Option(help="Free text for operators.")] = "",
) -> None:
    """Create an endpoint; prints it with its secret (whsec_…), shown this once."""
    from agentkeys.webhooks.schemas import WebhookCreateRequestDto

    body = checked(WebhookCreateRequestDto, url=url, events=events or [], description=description)
    echo_json(_dumped(_run(load_settings(), lambda service: service.create(body))))


@webhooks_app.command("list")
def webhooks_list(
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts.")] = False,
) -> None:
    """Every endpoint (never a secret)."""
    from rich import box
    from rich.table import Table

    endpoints = _run(load_settings(), lambda service: service.list()).items
    if as_json:
        echo_json([_dumped(endpoint) for endpoint in endpoints])
        return
    table = Table(box=box.SIMPLE)
    for column in ("endpoint_id", "url", "events", "enabled", "disabled_reason", "description"):
        table.add_column(column)
    for endpoint in endpoints:
        table.add_row(
            endpoint.endpoint_id,
            endpoint.url,
            cell(endpoint.events),
            cell(endpoint.enabled),
            cell(endpoint.disabled_reason),
            cell(endpoint.description or None),
        )
    print_table(table)


@webhooks_app.command("show")
def webhooks_show(endpoint_id: EndpointId) -> None:
    """One endpoint and its latest delivery attempts."""

    async def both(service: WebhookService) -> dict[str, Any]:
        endpoint = await service.get(endpoint_id)
        attempts = await service.attempts(endpoint_id, limit=20)
        return {**_dumped(endpoint), "attempts": _dumped(attempts)["items"]}

    echo_json(_run(load_settings(), both))


@webhooks_app.command("update")
def webhooks_update(
    endpoint_id: EndpointId,
    url: Annotated[str | None, typer.Option(help="A new URL.")] = None,
    events: EventsOption = None,
    description: Annotated[str | None, typer.Option(help="A new description.")] = None,
    enable: Annotated[
        bool | None, typer.Option("--enable/--no-enable", help="Re-enable a disabled endpoint.")
    ] = None,
) -> None:
    """Change only what is given."""
    from agentkeys.webhooks.schemas import WebhookUpdateRequestDto

    if enable is False:
        fail("use `agentkeys webhooks disable` to disable an endpoint", code=2)
    body = checked(
        WebhookUpdateRequestDto,
        url=url,
        events=events or None,
        description=description,
        enabled=enable,
    )
    echo_json(_dumped(_run(load_settings(), lambda service: service.update(endpoint_id, body))))


@webhooks_app.command("disable")
def webhooks_disable(endpoint_id: EndpointId) -> None:
    """Stop deliveries (messages wait; `update --enable` resumes them)."""
    echo_json(_dumped(_run(load_settings(), lambda service: service.disable(endpoint_id))))


@webhooks_app.command("delete")
def webhooks_delete(
    endpoint_id: EndpointId,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False,
) -> None:
    """Delete an endpoint with its pending messages and attempts."""
    if not yes:
        typer.confirm(f"Delete {endpoint_id} and its pending messages?", abort=True)
    _run(load_settings(), lambda service: service.delete(endpoint_id))
    typer.echo(f"deleted {endpoint_id}")


@webhooks_app.command("rotate")
def webhooks_rotate(endpoint_id: EndpointId) -> None:
    """A new secret, printed this once; the previous one keeps signing for 24 h."""
    echo_json(_dumped(_run(load_settings(), lambda service: service.rotate(endpoint_id))))


@webhooks_app.command("test")
def webhooks_test(endpoint_id: EndpointId) -> None:
    """Queue a webhook.test message; a running server delivers it."""
    echo_json(_dumped(_run(load_settings(), lambda service: service.send_test(endpoint_id))))
