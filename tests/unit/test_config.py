"""Settings: every bad value is refused with a message naming it, and secrets must be real."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError

from agentkeys.api.app import create_app
from agentkeys.config import (
    DEVELOPMENT_SECRET,
    Mode,
    Settings,
    secret_bits,
    settings_problems,
    usable_cpus,
)
from agentkeys.cpu import CpuPool
from agentkeys.logs import LogFormat
from tests.support.app import TEST_SECRET

STRONG = "q2eNxfNNChgVDf1AdBUlIyEmrcfqBVVSWLF0Qga_iqo"


def refusal(**values: object) -> str:
    """The message of the ValidationError that ``Settings(**values)`` raises."""
    values.setdefault("secret", STRONG)
    with pytest.raises(ValidationError) as raised:
        Settings(**values)  # type: ignore[arg-type]
    return str(raised.value)


class TestSecret:
    def test_default_secret_is_refused_in_production(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("AGENTKEYS_SECRET", raising=False)
        monkeypatch.delenv("AGENTKEYS_MODE", raising=False)

        with pytest.raises(ValidationError, match="secret of your own"):
            Settings()

    @pytest.mark.parametrize("mode", list(Mode))
    @pytest.mark.parametrize(
        "secret",
        ["too-short", "x" * 31, secrets.token_urlsafe(16)],
        ids=["too-short", "31-characters", "random-22-characters"],
    )
    def test_short_secret_is_refused_in_every_mode(self, mode: Mode, secret: str) -> None:
        assert "at least 32 characters" in refusal(mode=mode, secret=secret)

    def test_default_secret_is_allowed_in_development(self) -> None:
        settings = Settings(mode=Mode.DEVELOPMENT)

        assert settings.secret.get_secret_value() == DEVELOPMENT_SECRET

    @pytest.mark.parametrize(
        "secret",
        [
            DEVELOPMENT_SECRET + ".",
            "." + DEVELOPMENT_SECRET,
            DEVELOPMENT_SECRET.upper(),
            f"prefix-{DEVELOPMENT_SECRET}-{secrets.token_hex(8)}",
            DEVELOPMENT_SECRET.replace("-", "_"),
            DEVELOPMENT_SECRET.replace("production", "prod"),
            DEVELOPMENT_SECRET[:-4] + "2026",
        ],
        # Fixed ids: a random one would differ between xdist workers' collections.
        ids=[
            "dot-after",
            "dot-before",
            "upper-case",
            "inside-random-text",
            "underscores",
            "prod",
            "year-suffix",
        ],
    )
    def test_secrets_derived_from_the_built_in_one_are_refused_in_production(
        self, secret: str
    ) -> None:
        assert "derived from the built-in" in refusal(mode=Mode.PRODUCTION, secret=secret)

    @pytest.mark.parametrize(
        "secret",
        [
            "_" * 32,
            "a" * 200,
            "ab" * 32,
            "abcd" * 8,
            "password" * 4,
        ],
    )
    def test_low_entropy_secrets_are_refused_in_production(self, secret: str) -> None:
        message = refusal(mode=Mode.PRODUCTION, secret=secret)

        assert "too predictable" in message
        assert secret not in message

    @pytest.mark.parametrize(
        "secret",
        [TEST_SECRET, STRONG, secrets.token_urlsafe(32), secrets.token_hex(32)],
        ids=["test-secret", "strong", "random-urlsafe", "random-hex"],
    )
    def test_strong_secrets_are_accepted(self, secret: str) -> None:
        assert Settings(mode=Mode.PRODUCTION, secret=secret).secret.get_secret_value() == secret

    def test_the_estimate(self) -> None:
        assert secret_bits("_" * 32) == 0
        # 32 and 96 bits by character frequencies; repeated, they compress to about one copy.
        assert secret_bits("ab" * 16) == 6
        assert secret_bits("abcdefgh" * 4) == 39
        # 64 distinct characters once each: log2(64) = 6 bits a character.
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        assert secret_bits(alphabet) == 384

    def test_secret_is_read_from_the_environment_and_never_printed(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AGENTKEYS_SECRET", STRONG)

        settings = Settings()

        assert settings.secret.get_secret_value() == STRONG
        assert STRONG not in repr(settings)
        assert STRONG not in str(settings.model_dump())


class TestDatabaseUrl:
    @pytest.mark.parametrize(
        ("given", "used"),
        [
            ("sqlite:///agentkeys.db", "sqlite+aiosqlite:///agentkeys.db"),
            ("sqlite+aiosqlite:///agentkeys.db", "sqlite+aiosqlite:///agentkeys.db"),
            ("sqlite://", "sqlite+aiosqlite://"),
            ("postgresql://u:pw@db:5432/keys", "postgresql+asyncpg://u:pw@db:5432/keys"),
            ("postgres://u@db/keys", "postgresql+asyncpg://u@db/keys"),
            ("postgresql+asyncpg://u@db/keys", "postgresql+asyncpg://u@db/keys"),
        ],
    )
    def test_plain_urls_get_the_async_driver(
        self, given: str, used: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.chdir(tmp_path)

        assert Settings(secret=STRONG, database_url=given).database_url == used

    @pytest.mark.parametrize(
        ("url", "said"),
        [
            (
                "postgresql+psycopg2://u:hunter2hunter2@db/keys",
                "driver 'psycopg2' is not supported",
            ),
            ("postgresql+psycopg://u:hunter2hunter2@db/keys", "driver 'psycopg' is not supported"),
            ("sqlite+pysqlite:///x.db", "driver 'pysqlite' is not supported"),
            ("mysql://u:hunter2hunter2@db/keys", "unsupported database 'mysql'"),
            ("::hunter2hunter2", "not a database URL"),
            ("", "not a database URL"),
            ("agentkeys.db", "not a database URL"),
        ],
    )
    def test_other_urls_are_refused_without_quoting_a_password(self, url: str, said: str) -> None:
        message = refusal(database_url=url)

        assert said in message
        assert "hunter2hunter2" not in message

    def test_sqlite_file_in_a_missing_directory_is_refused_naming_it(self, tmp_path: Path) -> None:
        missing = tmp_path / "no" / "such" / "dir"

        message = refusal(database_url=f"sqlite:///{missing}/agentkeys.db")

        assert f"does not exist: {missing}" in message


class TestOtherSettings:
    @pytest.mark.parametrize("level", ["LOUD", "", "verbose", "10"])
    def test_unknown_log_levels_are_refused(self, level: str) -> None:
        assert "unknown log level" in refusal(log_level=level)

    def test_log_levels_are_case_insensitive(self) -> None:
        assert Settings(secret=STRONG, log_level="debug").log_level == "DEBUG"

    @pytest.mark.parametrize("url", ["http://cache:6379", "localhost:6379", "cache"])
    def test_redis_urls_need_a_redis_scheme(self, url: str) -> None:
        assert "redis://" in refusal(redis_url=url)

    @pytest.mark.parametrize(
        "field",
        [
            "header_timeout_seconds",
            "body_timeout_seconds",
            "keepalive_timeout_seconds",
            "max_body_bytes",
        ],
    )
    def test_timeouts_and_limits_must_be_positive(self, field: str) -> None:
        assert field in refusal(**{field: 0})

    def test_timeouts_have_sane_defaults(self) -> None:
        settings = Settings(secret=STRONG)

        assert settings.header_timeout_seconds == 10
        assert settings.body_timeout_seconds == 30
        assert settings.keepalive_timeout_seconds == 5


class TestCpuWorkers:
    """CPU-bound slots per process: the CPUs the process may use, or AGENTKEYS_CPU_WORKERS."""

    def test_unset_means_the_cpus_this_process_may_use(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("AGENTKEYS_CPU_WORKERS", raising=False)
        monkeypatch.delattr(os, "process_cpu_count", raising=False)
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 2, 5}, raising=False)
        monkeypatch.setattr(os, "cpu_count", lambda: 64)

        assert usable_cpus() == 3
        assert Settings(secret=STRONG).cpu_bound_concurrency == 3

    def test_process_cpu_count_is_preferred_where_python_has_it(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(os, "process_cpu_count", lambda: 5, raising=False)
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0}, raising=False)

        assert usable_cpus() == 5

    def test_without_affinity_every_cpu_counts_and_never_fewer_than_one(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delattr(os, "process_cpu_count", raising=False)
        monkeypatch.delattr(os, "sched_getaffinity", raising=False)
        monkeypatch.setattr(os, "cpu_count", lambda: 6)
        assert usable_cpus() == 6
        monkeypatch.setattr(os, "cpu_count", lambda: None)
        assert usable_cpus() == 1

    def test_the_setting_overrides_and_is_read_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AGENTKEYS_CPU_WORKERS", "7")
        monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0}, raising=False)

        assert Settings(secret=STRONG).cpu_bound_concurrency == 7

    @pytest.mark.parametrize("value", [0, -1, 257, "many", 1.5])
    def test_a_bad_count_is_refused_naming_the_setting(self, value: object) -> None:
        assert "cpu_workers" in refusal(cpu_workers=value)

    def test_the_app_runs_that_many_cpu_bound_jobs_at_once(self, tmp_path: Path) -> None:
        settings = Settings(
            secret=STRONG, database_url=f"sqlite:///{tmp_path / 'x.db'}", cpu_workers=3
        )
        cpu: CpuPool = create_app(settings).state.context.cpu

        assert cpu.size == 3


NUMERIC_SETTINGS = [
    name
    for name, field in Settings.model_fields.items()
    if field.annotation in {int, float, int | None, float | None}
]


class TestEveryNumber:
    def test_the_walk_finds_the_settings(self) -> None:
        assert {"key_cache_seconds", "max_body_bytes", "max_header_bytes", "cpu_workers"} <= set(
            NUMERIC_SETTINGS
        )

    @pytest.mark.parametrize("field", NUMERIC_SETTINGS)
    @pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "1e999"])
    def test_non_finite_and_negative_values_are_refused_naming_the_setting(
        self, field: str, value: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(f"AGENTKEYS_{field.upper()}", value)
        monkeypatch.setenv("AGENTKEYS_SECRET", STRONG)
        with pytest.raises(ValidationError) as raised:
            Settings()

        problems = settings_problems(raised.value)
        assert len(problems) == 1
        assert problems[0].startswith(f"AGENTKEYS_{field.upper()}: ")
        if value in {"nan", "inf", "-inf", "1e999"} and Settings.model_fields[field].annotation in {
            float,
            float | None,
        }:
            assert "finite number" in problems[0]


class TestPostgresqlSsl:
    """libpq's sslmode becomes asyncpg's ssl argument; what asyncpg cannot take is refused."""

    @pytest.mark.parametrize(
        "mode", ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
    )
    @pytest.mark.parametrize("name", ["sslmode", "ssl"])
    def test_every_libpq_mode_is_asyncpg_s_ssl(self, name: str, mode: str) -> None:
        settings = Settings(secret=STRONG, database_url=f"postgresql://u@db/keys?{name}={mode}")

        assert settings.database_url == f"postgresql+asyncpg://u@db/keys?ssl={mode}"

    def test_other_parameters_are_kept(self) -> None:
        settings = Settings(
            secret=STRONG,
            database_url="postgres://u@db/keys?sslmode=require&target_session_attrs=read-write",
        )

        assert settings.database_url == (
            "postgresql+asyncpg://u@db/keys?ssl=require&target_session_attrs=read-write"
        )

    @pytest.mark.parametrize(
        ("query", "said"),
        [
            ("sslmode=bogus", "sslmode 'bogus' is not one of disable, allow, prefer, require"),
            ("sslmode=REQUIRE", "sslmode 'REQUIRE' is not one of"),
            ("ssl=true", "sslmode 'true' is not one of"),
            ("sslmode=require&ssl=disable", "sslmode and ssl disagree"),
            ("sslmode=require&sslmode=disable", "'sslmode' is given more than once"),
            ("sslrootcert=/etc/ca.pem", "set the environment variable PGSSLROOTCERT"),
            ("sslcert=/c.pem", "PGSSLCERT"),
            ("sslkey=/k.pem", "PGSSLKEY"),
            ("sslcrl=/r.pem", "PGSSLCRL"),
            ("application_name=x", "unsupported URL parameter 'application_name'"),
            ("command_timeout=5", "unsupported URL parameter 'command_timeout'"),
        ],
    )
    def test_what_asyncpg_cannot_take_is_refused_in_one_line(self, query: str, said: str) -> None:
        with pytest.raises(ValidationError) as raised:
            Settings(secret=STRONG, database_url=f"postgresql://u:hunter2hunter2@db/keys?{query}")

        problems = settings_problems(raised.value)
        assert len(problems) == 1
        assert problems[0].startswith("AGENTKEYS_DATABASE_URL: ")
        assert said in problems[0]
        assert "hunter2" not in problems[0]


class TestLogFormat:
    def test_unset_it_is_text_in_development_and_json_otherwise(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("AGENTKEYS_LOG_FORMAT", raising=False)

        assert Settings(mode=Mode.DEVELOPMENT).log_format is LogFormat.TEXT
        assert Settings(mode=Mode.PRODUCTION, secret=STRONG).log_format is LogFormat.JSON

    @pytest.mark.parametrize(
        ("value", "expected"),
        [("json", LogFormat.JSON), ("text", LogFormat.TEXT), (" JSON ", LogFormat.JSON)],
    )
    def test_a_chosen_format_holds_in_either_mode(
        self, monkeypatch: pytest.MonkeyPatch, value: str, expected: LogFormat
    ) -> None:
        monkeypatch.setenv("AGENTKEYS_LOG_FORMAT", value)

        assert Settings(mode=Mode.DEVELOPMENT).log_format is expected
        assert Settings(mode=Mode.PRODUCTION, secret=STRONG).log_format is expected

    @pytest.mark.parametrize("value", ["xml", "", "logfmt"])
    def test_an_unknown_format_is_refused_in_one_line(
        self, monkeypatch: pytest.MonkeyPatch, value: str
    ) -> None:
        monkeypatch.setenv("AGENTKEYS_LOG_FORMAT", value)
        with pytest.raises(ValidationError) as raised:
            Settings(mode=Mode.DEVELOPMENT)

        assert settings_problems(raised.value) == [
            f"AGENTKEYS_LOG_FORMAT: unknown log format {value!r}; use json or text"
        ]


class TestConsoleSessionSeconds:
    def test_eight_hours_unless_set(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("AGENTKEYS_CONSOLE_SESSION_SECONDS", raising=False)
        assert Settings(secret=STRONG).console_session_seconds == 8 * 3600

    @pytest.mark.parametrize("value", ["0", "604801", "8h", "1.5"])
    def test_a_value_outside_one_second_to_seven_days_is_one_line_naming_it(
        self, value: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("AGENTKEYS_CONSOLE_SESSION_SECONDS", value)
        monkeypatch.setenv("AGENTKEYS_SECRET", STRONG)
        with pytest.raises(ValidationError) as raised:
            Settings()

        problems = settings_problems(raised.value)
        assert len(problems) == 1
        assert problems[0].startswith("AGENTKEYS_CONSOLE_SESSION_SECONDS: "), problems


def test_each_worker_holds_its_share_of_the_connections() -> None:
    assert (
        Settings(mode=Mode.DEVELOPMENT, database_connections=20, workers=2).database_pool_size == 10
    )
    assert (
        Settings(mode=Mode.DEVELOPMENT, database_connections=14, workers=3).database_pool_size == 4
    )
    assert (
        Settings(mode=Mode.DEVELOPMENT, database_connections=2, workers=4).database_pool_size == 2
    )  # at least 2
