"""Scopes are a closed set (``Scope``): a policy must grant exactly the scopes the routes require.

A policy lacking one would leave its routes answering 403 to every key for good; one naming a
scope no route requires is a typo or a promise nothing keeps. Both are refused when the file is
loaded (``FILE:LINE``), by ``agentkeys policy check`` and by ``create_app``.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agentkeys.api.app import ROUTERS, create_app
from agentkeys.api.deps import required_scopes
from agentkeys.config import Settings
from agentkeys.credentials.policy import (
    Issue,
    IssuingPolicy,
    NeedsMoreInfo,
    Outcome,
    ProductionDenied,
    RateLimited,
)
from agentkeys.credentials.policy_file import (
    PolicyError,
    default_policy_text,
    load_policy,
    parse_policy,
)
from agentkeys.credentials.schemas import AgentCredentialResponseDto
from agentkeys.credentials.scopes import Scope

EXTRA = '"meters:read" = "Read meters."'


def scope_line(scope: Scope) -> str:
    return f'"{scope.value}" = '


def without(scope: Scope) -> str:
    text = default_policy_text()
    line = next(line for line in text.splitlines() if line.startswith(scope_line(scope)))
    return text.replace(line + "\n", "", 1)


def with_extra_scope() -> str:
    return default_policy_text().replace("[scopes]\n", f"[scopes]\n{EXTRA}\n", 1)


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(fragment))


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="p.toml")
    return caught.value.lines


def settings(tmp_path: Path, policy: Path | None = None) -> Settings:
    return Settings(
        mode="development",
        database_url=f"sqlite:///{tmp_path / 'never.db'}",
        policy=policy,
    )


class TestTheRoutesAndTheEnum:
    def test_the_routes_require_every_scope_and_only_scopes(self) -> None:
        required = required_scopes(ROUTERS)

        assert set(required) == set(Scope)
        assert "POST /v1/feedback" in required[Scope.FEEDBACK_WRITE]
        assert "POST /v1/homes/{id}/battery/estimate_savings" in required[Scope.BATTERY_ESTIMATE]

    def test_the_shipped_policy_grants_exactly_the_scopes(self) -> None:
        assert set(load_policy().catalog.scopes) == {scope.value for scope in Scope}


class TestPolicyFiles:
    @pytest.mark.parametrize("scope", list(Scope))
    def test_a_policy_lacking_a_scope_is_refused_naming_the_catalog(self, scope: Scope) -> None:
        text = without(scope)

        found = problems(text)

        expected = (
            f"p.toml:{line_of(text, '[scopes]')}: scopes: the catalog lacks '{scope}', "
            "which a route requires"
        )
        assert expected in found

    def test_a_scope_no_route_requires_is_refused_naming_its_line(self) -> None:
        text = with_extra_scope()

        (problem,) = problems(text)

        assert problem == (
            f"p.toml:{line_of(text, EXTRA)}: scopes.meters:read: no route requires 'meters:read'"
        )


class TestPolicyCheckCommand:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            pytest.param(without(Scope.FEEDBACK_WRITE), "lacks 'feedback:write'", id="lacking"),
            pytest.param(with_extra_scope(), "no route requires 'meters:read'", id="unused"),
        ],
    )
    def test_policy_check_refuses_naming_the_line(
        self, tmp_path: Path, text: str, expected: str
    ) -> None:
        path = tmp_path / "policy.toml"
        path.write_text(text)
        executable = Path(sys.executable).with_name("agentkeys")

        result = subprocess.run(
            [str(executable), "policy", "check", str(path)],
            capture_output=True,
            text=True,
            check=False,
            env=dict(os.environ),
            timeout=60,
        )

        assert result.returncode == 2
        lines = [line for line in result.stderr.splitlines() if expected in line]
        assert lines, result.stderr
        assert lines[0].startswith(f"{path}:")
        assert int(lines[0].removeprefix(f"{path}:").split(":")[0]) > 0


class TestCreateApp:
    def test_a_policy_file_lacking_a_scope_stops_the_app(self, tmp_path: Path) -> None:
        path = tmp_path / "policy.toml"
        text = without(Scope.FEEDBACK_WRITE)
        path.write_text(text)

        with pytest.raises(PolicyError) as caught:
            create_app(settings(tmp_path, path))

        assert (
            f"{path}:{line_of(text, '[scopes]')}: scopes: the catalog lacks 'feedback:write'"
            in (str(caught.value))
        )

    def test_a_policy_file_naming_an_unused_scope_stops_the_app(self, tmp_path: Path) -> None:
        path = tmp_path / "policy.toml"
        text = with_extra_scope()
        path.write_text(text)

        with pytest.raises(PolicyError) as caught:
            create_app(settings(tmp_path, path))

        assert f"{path}:{line_of(text, EXTRA)}: scopes.meters:read: no route requires" in str(
            caught.value
        )

    @staticmethod
    def with_scopes(policy: IssuingPolicy, scopes: dict[str, str]) -> IssuingPolicy:
        catalog = dataclasses.replace(policy.catalog, scopes=scopes, aliases={})
        return dataclasses.replace(policy, catalog=catalog)

    @pytest.mark.parametrize("scope", list(Scope))
    def test_a_policy_object_lacking_a_scope_is_refused_naming_its_routes(
        self, tmp_path: Path, scope: Scope
    ) -> None:
        policy = load_policy()
        scopes = {name: text for name, text in policy.catalog.scopes.items() if name != scope}

        with pytest.raises(PolicyError) as caught:
            create_app(settings(tmp_path), policy=self.with_scopes(policy, scopes))

        (line,) = caught.value.lines
        assert f"scopes: the catalog lacks '{scope}', which POST /v1/" in line
        assert not (tmp_path / "never.db").exists()

    def test_a_policy_object_naming_an_unused_scope_is_refused(self, tmp_path: Path) -> None:
        policy = load_policy()
        scopes = {**policy.catalog.scopes, "meters:read": "Read meters."}

        with pytest.raises(PolicyError) as caught:
            create_app(settings(tmp_path), policy=self.with_scopes(policy, scopes))

        assert caught.value.lines == ["<policy>:0: scopes: no route requires 'meters:read'"]


class TestOutcomes:
    NOW = datetime(2026, 1, 1, tzinfo=UTC)

    def answer(self, decision: object) -> dict[str, object]:
        assert isinstance(decision, Issue | NeedsMoreInfo | RateLimited | ProductionDenied)
        dto = AgentCredentialResponseDto.of(
            decision,
            request_id="ws_request_1",
            credential_request_id="ws_cred_request_1",
            credential_id="ws_agent_cred_1",
            secret="wsk_agent_secret",
        )
        return dto.model_dump(exclude_none=True)

    COMMON = frozenset(
        {
            "outcome",
            "request_id",
            "credential_request_id",
            "environment",
            "production_access",
            "next_steps",
        }
    )

    @pytest.mark.parametrize(
        ("decision", "outcome", "own_fields"),
        [
            (
                Issue(scopes=(Scope.HOMES_READ,), ttl_seconds=60, expires_at=NOW, next_steps="ok"),
                Outcome.ISSUED,
                {
                    "credential",
                    "credential_id",
                    "key_prefix",
                    "expires_at",
                    "scopes",
                    "revocation_method",
                    "revocation_path",
                },
            ),
            (
                RateLimited(retry_after_seconds=5, exhausted=(), next_steps="wait"),
                Outcome.RATE_LIMITED,
                {"retry_after_seconds"},
            ),
            (
                NeedsMoreInfo(next_steps="more"),
                Outcome.NEEDS_MORE_INFO,
                {"missing_fields", "unknown_scopes", "allowed_scopes", "unclear_fields"},
            ),
            (ProductionDenied(next_steps="no"), Outcome.PRODUCTION_DENIED, set()),
        ],
    )
    def test_each_decision_carries_its_outcome_and_answers_only_its_fields(
        self, decision: object, outcome: Outcome, own_fields: set[str]
    ) -> None:
        answer = self.answer(decision)

        assert getattr(decision, "outcome", None) is outcome
        assert answer["outcome"] == outcome.value
        assert set(answer) == self.COMMON | own_fields

    def test_every_outcome_has_a_decision_type(self) -> None:
        carried = {kind.outcome for kind in (Issue, NeedsMoreInfo, RateLimited, ProductionDenied)}

        assert carried == set(Outcome)
