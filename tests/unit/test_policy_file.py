"""Policy files: the shipped default, and bad files refused whole, naming line and field."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from agentkeys.credentials.policy import QuotaKind
from agentkeys.credentials.policy_file import (
    PolicyError,
    default_policy_text,
    load_policy,
    parse_policy,
)
from agentkeys.credentials.scopes import Scope


def edited(old: str, new: str) -> str:
    text = default_policy_text()
    assert old in text, old
    return text.replace(old, new, 1)


def line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, source="p.toml")
    return caught.value.lines


class TestDefaultPolicy:
    def test_default_policy_holds_the_contract_catalog_and_quotas(self) -> None:
        policy = load_policy()

        assert set(policy.catalog.scopes) == {
            Scope.UTILITY_READ,
            Scope.HOMES_READ,
            Scope.HOMES_WRITE,
            Scope.PRICE_SIGNAL_READ,
            Scope.BILL_IMPACT_READ,
            Scope.BATTERY_ESTIMATE,
            Scope.FEEDBACK_WRITE,
        }
        assert policy.catalog.expand(["homes"]) == {Scope.HOMES_READ, Scope.HOMES_WRITE}
        assert policy.catalog.expand(["calculate"]) == {
            Scope.BILL_IMPACT_READ,
            Scope.BATTERY_ESTIMATE,
        }
        assert policy.required_fields == ("user_email",)
        assert policy.default_ttl_seconds == 86_400
        assert policy.max_ttl_seconds == 7 * 86_400
        assert policy.quotas[QuotaKind.ORGANIZATION_ISSUED].limit == 10
        assert policy.quotas[QuotaKind.ORGANIZATION_ISSUED].window == timedelta(hours=1)
        assert policy.quotas[QuotaKind.ADDRESS_DECISIONS].limit == 60
        assert policy.quotas[QuotaKind.ORGANIZATION_ACTIVE].window is None

    def test_a_file_is_read_from_disk(self, tmp_path: Path) -> None:
        path = tmp_path / "policy.toml"
        path.write_text(
            edited("limit = 10\nwindow_seconds = 3600", "limit = 3\nwindow_seconds = 60")
        )

        policy = load_policy(path)

        assert policy.quotas[QuotaKind.ORGANIZATION_ISSUED].limit == 3
        assert policy.quotas[QuotaKind.ORGANIZATION_ISSUED].window == timedelta(seconds=60)

    def test_a_removed_quota_table_switches_that_quota_off(self) -> None:
        lines = default_policy_text().splitlines()
        header = next(i for i, line in enumerate(lines) if "[quotas.organization_active]" in line)
        assert lines[header + 1] == "limit = 50"
        text = "\n".join(lines[:header] + lines[header + 2 :])

        policy = parse_policy(text, source="p.toml")

        assert QuotaKind.ORGANIZATION_ACTIVE not in policy.quotas


class TestNetworkAndRateSettings:
    def test_the_default_counts_ipv6_by_64_and_ipv4_by_address(self) -> None:
        policy = load_policy()

        assert (policy.networks.ipv4, policy.networks.ipv6) == (32, 64)
        assert policy.request_costs.revocations_per_network is not None
        assert policy.refused_ledger.limit == 100

    def test_every_setting_is_read_from_the_file(self) -> None:
        text = edited("ipv6_prefix = 64", "ipv6_prefix = 56")
        text = text.replace("ipv4_prefix = 32", "ipv4_prefix = 24")
        text = text.replace("per_network_limit = 1200", "per_network_limit = 99")
        text = text.replace('"battery:estimate" = 10', '"battery:estimate" = 7')
        text = text.replace("[issuance_rate]\nlimit = 120", "[issuance_rate]\nlimit = 7")
        text = text.replace(
            "rate_limited_rows_per_network = 100", "rate_limited_rows_per_network = 5"
        )
        text = text.replace(
            "[quotas.organization_active]", "[quotas.organization_active]\nalarm_at = 80"
        )

        policy = parse_policy(text, source="p.toml")

        assert (policy.networks.ipv4, policy.networks.ipv6) == (24, 56)
        assert policy.request_costs.per_network is not None
        assert policy.request_costs.per_network.limit == 99
        assert policy.request_costs.cost_of([Scope.BATTERY_ESTIMATE, Scope.HOMES_READ]) == 7
        assert policy.refused_ledger.limit == 5
        assert policy.request_costs.issuance_per_network is not None
        assert policy.request_costs.issuance_per_network.limit == 7
        assert policy.quotas[QuotaKind.ORGANIZATION_ACTIVE].alarm_threshold == 80
        assert policy.quotas[QuotaKind.ORGANIZATION_ISSUED].alarm_threshold == 10

    def test_absent_aggregate_rates_are_off(self) -> None:
        text = edited("per_network_limit = 1200\n", "")
        start = text.index("[revocation_rate]")
        text = text[:start] + text[text.index("[ledger]") :]

        policy = parse_policy(text, source="p.toml")

        assert policy.request_costs.per_network is None
        assert policy.request_costs.revocations_per_network is None
        assert policy.request_costs.issuance_per_network is None

    @pytest.mark.parametrize(
        ("old", "new", "field"),
        [
            ("ipv6_prefix = 64", "ipv6_prefix = 129", "client_network.ipv6_prefix"),
            ("ipv4_prefix = 32", "ipv4_prefix = 0", "client_network.ipv4_prefix"),
            ("per_network_limit = 1200", "per_network_limit = 0", "request_rate.per_network_limit"),
            ('"battery:estimate" = 10', '"battery:estimate" = -1', "request_rate.scope_costs"),
            ('"battery:estimate" = 10', '"battery:estmate" = 10', "request_rate.scope_costs"),
            (
                "[issuance_rate]\nlimit = 120\nwindow_seconds = 60",
                "[issuance_rate]\nlimit = 120\nwindow_seconds = 0",
                "issuance_rate.window_seconds",
            ),
            (
                "[revocation_rate]\nlimit = 30",
                "[revocation_rate]\nlimit = 30\nburst = 1",
                "revocation_rate.burst",
            ),
            (
                "[quotas.address_decisions]     # decisions per client network; rate_limited "
                "answers do not count\nlimit = 60",
                "[quotas.address_decisions]\nlimit = 60\nalarm_at = 100",
                "quotas.address_decisions.alarm_at",
            ),
        ],
    )
    def test_a_bad_setting_names_its_line_and_field(self, old: str, new: str, field: str) -> None:
        text = edited(old, new)
        changed = new.splitlines()[-1]

        (problem,) = problems(text)

        assert problem.startswith(f"p.toml:{line_of(text, changed)}: {field}"), problem


class TestBadPolicies:
    def test_a_value_of_the_wrong_kind_names_its_line_and_field(self) -> None:
        text = edited("default_seconds = 86400", 'default_seconds = "a day"')

        (problem,) = problems(text)

        assert problem.startswith(
            f"p.toml:{line_of(text, 'default_seconds')}: ttl.default_seconds:"
        )

    def test_an_unknown_key_is_refused(self) -> None:
        text = edited("[request_rate]\n", "[request_rate]\nburst = 5\n")

        (problem,) = problems(text)

        assert f":{line_of(text, 'burst')}: request_rate.burst:" in problem

    def test_a_quota_must_be_positive(self) -> None:
        text = edited("limit = 60", "limit = 0")

        (problem,) = problems(text)

        assert f":{line_of(text, 'limit = 0')}: quotas.address_decisions.limit:" in problem

    def test_an_alias_must_expand_to_catalog_scopes(self) -> None:
        text = edited(
            'homes = ["homes:read", "homes:write"]', 'homes = ["homes:read", "homes:wrte"]'
        )

        (problem,) = problems(text)

        assert f":{line_of(text, 'homes:wrte')}: aliases.homes.1: 'homes:wrte'" in problem

    def test_default_ttl_must_lie_within_the_bounds(self) -> None:
        text = edited("default_seconds = 86400", "default_seconds = 999999999")

        (problem,) = problems(text)

        assert f":{line_of(text, 'default_seconds')}: ttl.default_seconds:" in problem

    def test_only_optional_request_fields_can_be_required(self) -> None:
        text = edited('fields = ["user_email"]', 'fields = ["user_email", "shoe_size"]')

        (problem,) = problems(text)

        assert "requirements.fields.1: 'shoe_size' is not one of" in problem

    def test_an_unknown_placeholder_in_next_steps_is_refused(self) -> None:
        text = edited("Retry after {retry_after} seconds.", "Retry after {retry_later} seconds.")

        (problem,) = problems(text)

        assert f":{line_of(text, 'retry_later')}: next_steps.rate_limited:" in problem

    def test_a_syntax_error_names_its_line(self) -> None:
        text = edited("[ttl]", "[ttl")

        (problem,) = problems(text)

        assert problem.startswith(f"p.toml:{line_of(text, '[ttl')}:")

    def test_an_unreadable_file_is_a_policy_error(self, tmp_path: Path) -> None:
        with pytest.raises(PolicyError, match="cannot read"):
            load_policy(tmp_path / "missing.toml")


class TestPolicyCheckCommand:
    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        executable = Path(sys.executable).with_name("agentkeys")
        return subprocess.run(
            [str(executable), *args],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **(env or {})},
            timeout=60,
        )

    def test_a_good_policy_is_described(self, tmp_path: Path) -> None:
        path = tmp_path / "policy.toml"
        path.write_text(default_policy_text())

        result = self.run("policy", "check", str(path))

        assert result.returncode == 0, result.stderr
        assert "homes                = homes:read + homes:write" in result.stdout
        assert "organization_issued  10 per 3600 s per client network; alarm at 10" in result.stdout
        assert "address_decisions    60 per 3600 s per client network" in result.stdout
        assert "1200 per client network over all its keys" in result.stdout
        assert "a request needing battery:estimate counts 10" in result.stdout
        assert (
            "Revocations: 30 per credential by its own key, and 30 failed attempts per client "
            "network, per 60 s" in result.stdout
        )
        assert "Client network: IPv4 /32, IPv6 /64" in result.stdout
        assert result.stdout.rstrip().endswith(f"{path}: OK")

    def test_a_bad_policy_exits_2_naming_the_line(self, tmp_path: Path) -> None:
        path = tmp_path / "policy.toml"
        text = edited("max_seconds = 604800", "max_seconds = -5")
        path.write_text(text)

        result = self.run("policy", "check", str(path))

        assert result.returncode == 2
        assert f"{path}:{line_of(text, 'max_seconds')}: ttl.max_seconds:" in result.stderr

    def test_the_server_refuses_to_start_on_a_bad_policy(self, tmp_path: Path) -> None:
        path = tmp_path / "policy.toml"
        text = edited("limit = 600", "limit = 0")
        path.write_text(text)

        result = self.run(
            "serve",
            "--port",
            "1",
            env={
                "AGENTKEYS_MODE": "development",
                "AGENTKEYS_POLICY": str(path),
                "AGENTKEYS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'never.db'}",
            },
        )

        assert result.returncode == 2
        assert f"{path}:{line_of(text, 'limit = 0')}: request_rate.limit:" in result.stderr
        assert not (tmp_path / "never.db").exists()
