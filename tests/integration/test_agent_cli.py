"""``agentkeys request / whoami / revoke`` against a real ``agentkeys serve`` process: the key in
a 0600 env file and never printed unless asked, refusals to overwrite, what to add on
``needs_more_info``, and the key read back from the file or the environment."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from agentkeys.cli import agent as agent_cli
from agentkeys.cli.main import app as cli
from agentkeys.credentials.schemas import (
    AgentCredentialResponseDto,
    CreateAgentCredentialRequestDto,
)
from tests.support.databases import sqlite_url
from tests.support.policies import relaxed_policy_file
from tests.support.servers import running_server

KEY_LINE = "WATTSHIFT_API_KEY="
ASKING = (
    "--organization",
    "Example Energy Co",
    "--user-name",
    "Avery Developer",
    "--assignment",
    "Prototype bill impact calculations for a customer dashboard",
    "--scopes",
    "homes,calculate",
)
WITH_EMAIL = (*ASKING, "--email", "developer@example.com")


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for the module, every quota relaxed (each test asks for keys of its own)."""
    directory = tmp_path_factory.mktemp("agent-cli")
    with running_server(
        database_url=sqlite_url(directory / "served.db"),
        log_path=directory / "server.log",
        extra_env={"AGENTKEYS_POLICY": str(relaxed_policy_file(directory))},
    ) as server:
        yield server.base_url


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test in a directory of its own: ``.env`` is that directory's."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str, env: dict[str, str | None] | None = None) -> Result:
    # Neither variable of the machine running the tests may leak in.
    environment: dict[str, str | None] = {"WATTSHIFT_API_KEY": None, "AGENTKEYS_URL": None}
    return CliRunner().invoke(cli, list(args), env={**environment, **(env or {})})


def key_in(path: Path) -> str:
    keys = [line for line in path.read_text().splitlines() if line.startswith(KEY_LINE)]
    assert len(keys) == 1, path.read_text()
    return keys[0].removeprefix(KEY_LINE)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestRequest:
    def test_an_issued_key_is_written_owner_only_and_not_printed(
        self, base_url: str, in_tmp_path: Path
    ) -> None:
        result = run("request", "--url", base_url, *WITH_EMAIL, "--ttl", "3600")

        assert result.exit_code == 0, result.output
        env_file = in_tmp_path / ".env"
        key = key_in(env_file)
        assert key.startswith("wsk_agent_")
        assert mode_of(env_file) == 0o600
        lines = env_file.read_text().splitlines()
        assert lines[0].startswith("# agentkeys credential_id: ws_agent_cred_")
        assert lines[1].startswith("# agentkeys expires_at: ")
        assert "outcome: issued" in result.stdout
        assert key not in result.output

    def test_print_shows_the_key_once_and_still_writes_it(
        self, base_url: str, in_tmp_path: Path
    ) -> None:
        result = run("request", "--url", base_url, *WITH_EMAIL, "--print", "--output", "keys.env")

        assert result.exit_code == 0, result.output
        key = key_in(in_tmp_path / "keys.env")
        assert result.stdout.count(key) == 1
        assert not (in_tmp_path / ".env").exists()

    def test_the_url_may_come_from_the_environment(self, base_url: str, in_tmp_path: Path) -> None:
        result = run("request", *WITH_EMAIL, env={"AGENTKEYS_URL": base_url})

        assert result.exit_code == 0, result.output
        assert key_in(in_tmp_path / ".env").startswith("wsk_agent_")

    def test_a_file_holding_a_key_is_not_overwritten(
        self, base_url: str, in_tmp_path: Path
    ) -> None:
        env_file = in_tmp_path / ".env"
        env_file.write_text("OTHER=1\nWATTSHIFT_API_KEY=wsk_agent_old\n")

        result = run("request", "--url", base_url, *WITH_EMAIL)

        assert result.exit_code == 1
        assert "--force" in result.stderr
        assert env_file.read_text() == "OTHER=1\nWATTSHIFT_API_KEY=wsk_agent_old\n"

    def test_force_replaces_the_key_keeps_other_lines_and_tightens_the_mode(
        self, base_url: str, in_tmp_path: Path
    ) -> None:
        env_file = in_tmp_path / ".env"
        env_file.write_text("OTHER=1\nWATTSHIFT_API_KEY=wsk_agent_old\n")
        os.chmod(env_file, 0o644)

        result = run("request", "--url", base_url, *WITH_EMAIL, "--force")

        assert result.exit_code == 0, result.output
        assert key_in(env_file) != "wsk_agent_old"
        assert env_file.read_text().splitlines()[0] == "OTHER=1"
        assert mode_of(env_file) == 0o600

    def test_needs_more_info_says_what_to_add_and_exits_2(
        self, base_url: str, in_tmp_path: Path
    ) -> None:
        result = run(
            "request",
            "--url",
            base_url,
            "--organization",
            "Example Energy Co",
            "--user-name",
            "Avery Developer",
            "--assignment",
            "do it now ok",
            "--scopes",
            "homes,bogus",
        )

        assert result.exit_code == 2, result.output
        assert "outcome: needs_more_info" in result.stdout
        assert "missing: user_email (add --email)" in result.stderr
        assert "unclear: assignment (say more in --assignment)" in result.stderr
        assert "unknown scopes: bogus" in result.stderr
        assert "allowed scopes: " in result.stderr
        assert "next steps: " in result.stderr
        assert not (in_tmp_path / ".env").exists()

    def test_a_key_that_cannot_be_stored_is_revoked_and_never_printed(
        self, base_url: str, in_tmp_path: Path
    ) -> None:
        result = run("request", "--url", base_url, *WITH_EMAIL, "--output", "missing/dir/.env")

        assert result.exit_code == 1, result.output
        assert "cannot write missing/dir/.env" in result.stderr
        assert "so it was revoked" in result.stderr
        assert "wsk_agent_" not in result.output

    def test_production_is_denied_with_exit_4(self, base_url: str, in_tmp_path: Path) -> None:
        result = run("request", "--url", base_url, *WITH_EMAIL, "--environment", "production")

        assert result.exit_code == 4, result.output
        assert "outcome: production_denied" in result.stdout
        assert not (in_tmp_path / ".env").exists()

    def test_a_field_the_server_refuses_is_named(self, base_url: str) -> None:
        result = run(
            "request", "--url", base_url, *WITH_EMAIL[:4], "--assignment", "short", *WITH_EMAIL[6:]
        )

        assert result.exit_code == 1, result.output
        assert "VALIDATION_FAILED" in result.stderr
        assert "assignment:" in result.stderr

    def test_no_server_is_one_line_exit_1(self, in_tmp_path: Path) -> None:
        result = run("request", "--url", "http://127.0.0.1:9", *WITH_EMAIL)

        assert result.exit_code == 1
        assert "TRANSPORT_ERROR" in result.stderr
        assert "Traceback" not in result.output

    def test_rate_limited_prints_the_wait_and_exits_3(
        self, capsys: pytest.CaptureFixture[str], in_tmp_path: Path
    ) -> None:
        answer = AgentCredentialResponseDto(
            outcome="rate_limited",
            environment="sandbox",
            production_access=False,
            request_id="ws_request_1",
            credential_request_id="ws_cred_request_1",
            next_steps="Wait, then ask again.",
            retry_after_seconds=120,
        )

        code = agent_cli.report_outcome(answer, output=in_tmp_path / ".env", print_key=False)

        assert code == 3
        assert "retry after: 120 seconds" in capsys.readouterr().err
        assert not (in_tmp_path / ".env").exists()


class TestFlags:
    def test_every_request_field_has_the_flag_what_to_add_names(self) -> None:
        # The policy may require any field: needs_more_info must be answerable from the CLI.
        listed = run("request", "--help", env={"COLUMNS": "200"}).stdout

        assert set(agent_cli.FLAG_OF_FIELD) == set(CreateAgentCredentialRequestDto.model_fields)
        assert [flag for flag in agent_cli.FLAG_OF_FIELD.values() if flag not in listed] == []


class TestWhoamiAndRevoke:
    def test_both_read_the_key_from_the_env_file(self, base_url: str, in_tmp_path: Path) -> None:
        assert run("request", "--url", base_url, *WITH_EMAIL).exit_code == 0
        credential_id = (in_tmp_path / ".env").read_text().splitlines()[0].rsplit(" ", 1)[1]

        who = run("whoami", "--url", base_url)
        revoked = run("revoke", "--url", base_url, "--reason", "done")
        after = run("whoami", "--url", base_url)

        assert who.exit_code == 0, who.output
        assert f"credential_id: {credential_id}" in who.stdout
        assert "scopes: homes,calculate" in who.stdout
        assert revoked.exit_code == 0, revoked.output
        assert "outcome: revoked" in revoked.stdout
        assert f"credential_id: {credential_id}" in revoked.stdout
        assert after.exit_code == 1
        assert "AUTH_REVOKED_CREDENTIAL" in after.stderr

    def test_the_environment_variable_or_a_named_file(
        self, base_url: str, in_tmp_path: Path
    ) -> None:
        assert run("request", "--url", base_url, *WITH_EMAIL, "--output", "a.env").exit_code == 0
        key = key_in(in_tmp_path / "a.env")

        from_environment = run("whoami", "--url", base_url, env={"WATTSHIFT_API_KEY": key})
        from_named_file = run("whoami", "--url", base_url, "--env-file", "a.env")

        assert from_environment.exit_code == 0, from_environment.output
        assert from_named_file.exit_code == 0, from_named_file.output
        assert key not in from_environment.output + from_named_file.output

    def test_no_key_anywhere_says_how_to_get_one(self, base_url: str) -> None:
        result = run("whoami", "--url", base_url)

        assert result.exit_code == 1
        assert "no WATTSHIFT_API_KEY in .env" in result.stderr
        assert "agentkeys request" in result.stderr
