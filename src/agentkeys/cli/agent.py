"""``agentkeys request / whoami / revoke``: an agent's own key, over HTTP, kept in an env file.

``request`` asks a running server for a sandbox key and writes it to a file only its owner can
read (``WATTSHIFT_API_KEY=…``, the credential id and expiry as comments); ``whoami`` and
``revoke`` read it back (or ``WATTSHIFT_API_KEY`` from the environment). The key is printed only
with ``--print``. Exit codes: 0 issued (or done), 1 an error, 2 ``needs_more_info`` (what to add
is printed) or a bad option, 3 ``rate_limited``, 4 ``production_denied``.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from agentkeys.cli.main import app

if TYPE_CHECKING:
    from agentkeys.client import AgentKeysClient, AgentKeysError
    from agentkeys.credentials.schemas import AgentCredentialResponseDto

T = TypeVar("T")
KEY_VARIABLE = "WATTSHIFT_API_KEY"
URL_VARIABLE = "AGENTKEYS_URL"
DEFAULT_ENV_FILE = Path(".env")
# The lines of the env file this command owns: replaced together on --force.
ID_COMMENT = "# agentkeys credential_id: "
EXPIRY_COMMENT = "# agentkeys expires_at: "
OWNER_ONLY = 0o600
# The request's own flags, by the body field each sets: what to add is said in flags.
FLAG_OF_FIELD = {
    "organization_name": "--organization",
    "user_name": "--user-name",
    "user_email": "--email",
    "assignment": "--assignment",
    "requested_scopes": "--scopes",
    "requested_ttl_seconds": "--ttl",
    "requested_environment": "--environment",
    "agent": "--agent",
    "client": "--client",
    "tech_stack": "--tech-stack",
    "use_case": "--use-case",
    "company": "--company",
    "project": "--project",
    "device_segment": "--device-segment",
    "docs_context": "--docs-context",
}


class Exit(IntEnum):
    ISSUED = 0
    ERROR = 1
    NEEDS_MORE_INFO = 2
    RATE_LIMITED = 3
    PRODUCTION_DENIED = 4


class Environment(StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


UrlOption = Annotated[
    str,
    typer.Option("--url", envvar=URL_VARIABLE, help=f"The server's base URL (or ${URL_VARIABLE})."),
]
EnvFileOption = Annotated[
    Path | None,
    typer.Option(
        "--env-file",
        help=f"File holding {KEY_VARIABLE}=… (default: ${KEY_VARIABLE}, else ./.env).",
    ),
]


def _fail(message: str, *, code: int = Exit.ERROR) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=code)


def _comma_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [item.strip() for item in text.split(",") if item.strip()]


@app.command("request")
def request_key(  # one option per field of the request, as the API names them
    *,
    url: UrlOption,
    organization: Annotated[str, typer.Option(help="Your organization (organization_name).")],
    user_name: Annotated[str, typer.Option(help="The person the agent works for.")],
    assignment: Annotated[
        str, typer.Option(help="What the agent is building, in a sentence or two.")
    ],
    scopes: Annotated[
        str, typer.Option(help="Comma-separated scopes or aliases, e.g. homes,calculate.")
    ],
    email: Annotated[
        str | None, typer.Option(help="The person's e-mail (user_email; the policy may need it).")
    ] = None,
    ttl: Annotated[
        int | None, typer.Option(min=1, help="Requested lifetime in seconds (policy bounds it).")
    ] = None,
    output: Annotated[
        Path, typer.Option(help=f"Env file to write {KEY_VARIABLE}=… to (mode 0600).")
    ] = DEFAULT_ENV_FILE,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a key the file already holds.")
    ] = False,
    print_key: Annotated[
        bool, typer.Option("--print", help="Also print the key to stdout (it is a secret).")
    ] = False,
    agent: Annotated[str, typer.Option(help="The agent asking.")] = "agentkeys-cli",
    client: Annotated[str, typer.Option(help="How it asks.")] = "cli",
    tech_stack: Annotated[
        str | None, typer.Option(help="Comma-separated, e.g. python,fastapi.")
    ] = None,
    use_case: Annotated[str | None, typer.Option(help="The use case, in a few words.")] = None,
    company: Annotated[str | None, typer.Option(help="Company, if not the organization.")] = None,
    project: Annotated[str | None, typer.Option(help="Project name.")] = None,
    device_segment: Annotated[
        str | None, typer.Option(help="Devices concerned, e.g. residential batteries.")
    ] = None,
    docs_context: Annotated[
        str | None, typer.Option(help="URL of the docs page the agent is following.")
    ] = None,
    environment: Annotated[
        Environment, typer.Option(help="Only sandbox keys are issued.")
    ] = Environment.SANDBOX,
) -> None:
    """Ask the server for a sandbox key and store it in an env file (mode 0600).

    Exit 0 issued; 2 needs_more_info (what to add is printed); 3 rate_limited; 4
    production_denied; 1 any other error (a file already holding a key without --force, say).
    """
    if not force and _held_key(output) is not None:
        _fail(
            f"{output} already holds {KEY_VARIABLE}: pass --force to replace it, or --output "
            "another file (the old key stays valid until it expires or is revoked)"
        )
    body: dict[str, Any] = {
        "organization_name": organization,
        "user_name": user_name,
        "assignment": assignment,
        "requested_scopes": _comma_list(scopes),
        "agent": agent,
        "client": client,
        "requested_environment": environment.value,
    }
    optional = {
        "user_email": email,
        "requested_ttl_seconds": ttl,
        "tech_stack": _comma_list(tech_stack),
        "use_case": use_case,
        "company": company,
        "project": project,
        "device_segment": device_segment,
        "docs_context": docs_context,
    }
    body.update({name: value for name, value in optional.items() if value is not None})
    with _client(url, api_key=None) as http:
        answer = _or_fail(lambda: http.request_credential(body, use_issued_key=False))
        if answer.credential is not None:
            _store_or_revoke(http, output, key=answer.credential, answer=answer)
    raise typer.Exit(code=report_outcome(answer, output=output, print_key=print_key))


def _store_or_revoke(
    http: AgentKeysClient, output: Path, *, key: str, answer: AgentCredentialResponseDto
) -> None:
    """Write the key; if it cannot be written, revoke it at once: a key nobody holds is only a
    risk (it is never printed in its place)."""
    from agentkeys.client import AgentKeysError

    try:
        write_key(output, key=key, answer=answer)
    except OSError as error:
        http.use_api_key(key)
        try:
            http.revoke_credential(answer.credential_id, body={"reason": "could not be stored"})
            fate = "so it was revoked; fix the path and ask again"
        except AgentKeysError as refusal:
            fate = (
                f"and revoking it failed ({refusal.error_code}): it expires at {answer.expires_at}"
            )
        _fail(
            f"cannot write {output}: {error.strerror or error}; the key issued "
            f"({answer.credential_id}) was not stored, {fate}"
        )


def report_outcome(answer: AgentCredentialResponseDto, *, output: Path, print_key: bool) -> int:
    """Print the outcome (the key only with ``print_key``, once stored); the exit code."""
    typer.echo(f"outcome: {answer.outcome}")
    match answer.outcome:
        case "issued":
            typer.echo(f"credential_id: {answer.credential_id}")
            typer.echo(f"scopes: {','.join(answer.scopes or [])}")
            typer.echo(f"expires_at: {answer.expires_at}")
            typer.echo(f"written to: {output} ({KEY_VARIABLE}, mode 0600)")
            if print_key:
                typer.echo(f"{KEY_VARIABLE}={answer.credential}")
            typer.echo(f"next steps: {answer.next_steps}")
            return Exit.ISSUED
        case "needs_more_info":
            _what_to_add(answer)
            return Exit.NEEDS_MORE_INFO
        case "rate_limited":
            typer.echo(f"retry after: {answer.retry_after_seconds} seconds", err=True)
            typer.echo(f"next steps: {answer.next_steps}", err=True)
            return Exit.RATE_LIMITED
        case _:
            typer.echo(f"next steps: {answer.next_steps}", err=True)
            return Exit.PRODUCTION_DENIED


def _what_to_add(answer: AgentCredentialResponseDto) -> None:
    for field in answer.missing_fields or []:
        typer.echo(f"missing: {field} (add {FLAG_OF_FIELD.get(field, field)})", err=True)
    for field in answer.unclear_fields or []:
        flag = FLAG_OF_FIELD.get(field, field)
        typer.echo(f"unclear: {field} (say more in {flag})", err=True)
    if answer.unknown_scopes:
        typer.echo(f"unknown scopes: {','.join(answer.unknown_scopes)}", err=True)
        typer.echo(f"allowed scopes: {','.join(answer.allowed_scopes or [])}", err=True)
    typer.echo(f"next steps: {answer.next_steps}", err=True)


@app.command("whoami")
def whoami(url: UrlOption, env_file: EnvFileOption = None) -> None:
    """Describe the key in the env file (or $WATTSHIFT_API_KEY): id, scopes, expiry."""
    with _client(url, api_key=_key_from(env_file)) as http:
        me = _or_fail(http.whoami)
    typer.echo(f"credential_id: {me.credential_id}")
    typer.echo(f"scopes: {','.join(me.scopes)}")
    typer.echo(f"effective_scopes: {','.join(me.effective_scopes)}")
    typer.echo(f"environment: {me.environment}")
    typer.echo(f"created_at: {me.created_at}")
    typer.echo(f"expires_at: {me.expires_at}")


@app.command("revoke")
def revoke(
    *,
    url: UrlOption,
    env_file: EnvFileOption = None,
    reason: Annotated[str | None, typer.Option(help="Why, kept with the revocation.")] = None,
) -> None:
    """Revoke the key in the env file (or $WATTSHIFT_API_KEY) at once."""
    body = {"reason": reason} if reason is not None else None
    with _client(url, api_key=_key_from(env_file)) as http:
        revoked = _or_fail(lambda: http.revoke_credential(body=body))
    typer.echo(f"outcome: {revoked.outcome}")
    typer.echo(f"credential_id: {revoked.credential_id}")
    typer.echo(f"next steps: {revoked.next_steps}")


def _client(url: str, *, api_key: str | None) -> AgentKeysClient:
    from agentkeys.client import AgentKeysClient

    return AgentKeysClient(url, api_key=api_key)


def _or_fail(call: Callable[[], T]) -> T:
    from agentkeys.client import AgentKeysError

    try:
        return call()
    except AgentKeysError as error:
        _fail(_described(error))


def _described(error: AgentKeysError) -> str:
    lines = [f"{error.error_code}: {error.message}"]
    lines += [f"  {problem.field}: {problem.message}" for problem in error.field_errors]
    if error.recovery_action:
        lines.append(f"  recovery: {error.recovery_action}")
    if error.retry_after_seconds is not None:
        lines.append(f"  retry after: {error.retry_after_seconds} seconds")
    return "\n".join(lines)


# The env file.


def _assignments(text: str) -> dict[str, str]:
    """``NAME=value`` lines (``export`` and quotes allowed), as a shell or dotenv reads them."""
    found = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        name, value = stripped.removeprefix("export ").split("=", 1)
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        found[name.strip()] = value
    return found


def _held_key(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        _fail(f"cannot read {path}: {error.strerror or error}")
    return _assignments(text).get(KEY_VARIABLE) or None


def _key_from(env_file: Path | None) -> str:
    """An ``--env-file`` named; else ``$WATTSHIFT_API_KEY``; else ``./.env``."""
    if env_file is None and os.environ.get(KEY_VARIABLE):
        return os.environ[KEY_VARIABLE]
    path = env_file or DEFAULT_ENV_FILE
    key = _held_key(path)
    if key is None:
        _fail(
            f"no {KEY_VARIABLE} in {path} (nor in the environment): run `agentkeys request` "
            "first, or pass --env-file"
        )
    return key


def write_key(path: Path, *, key: str, answer: AgentCredentialResponseDto) -> None:
    """Put the key in ``path`` (replacing this command's lines, keeping every other line), as a
    new file of mode 0600 moved into place: never readable by others, even for an instant."""
    try:
        kept = [line for line in path.read_text(encoding="utf-8").splitlines() if not _ours(line)]
    except FileNotFoundError:
        kept = []
    lines = [
        *kept,
        f"{ID_COMMENT}{answer.credential_id}",
        f"{EXPIRY_COMMENT}{answer.expires_at}",
        f"{KEY_VARIABLE}={key}",
    ]
    directory = path.parent if str(path.parent) else Path()
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", text=True)
    try:
        os.fchmod(descriptor, OWNER_ONLY)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _ours(line: str) -> bool:
    stripped = line.strip().removeprefix("export ")
    return (
        stripped.startswith((ID_COMMENT, EXPIRY_COMMENT))
        or stripped.split("=", 1)[0].strip() == KEY_VARIABLE
    )
