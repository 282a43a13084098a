"""Settings from the environment (prefix ``AGENTKEYS_``), built once and given to ``create_app``."""

from __future__ import annotations

import base64
import binascii
import contextlib
import difflib
import itertools
import logging
import math
import os
import zlib
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agentkeys.client_address import Network, parse_networks
from agentkeys.leak_report_keys import LeakReportKeysError, load_leak_report_keys
from agentkeys.logs import LogFormat

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

# Only ever accepted in development mode; a production server refuses to start with it.
DEVELOPMENT_SECRET = "agentkeys-development-secret-not-for-production"  # noqa: S105
MIN_SECRET_LENGTH = 32
MIN_SECRET_BITS = 128
# Runs of consecutive characters (abcdef..., 0123...) score this little by their steps; a random
# 32-byte token scores about 190 (never under 180 in 10,000 draws).
MIN_SEQUENCE_BITS = 64
# A secret this similar to the built-in one (difflib's ratio) is an edit of it, not a secret.
MAX_SIMILARITY_TO_BUILT_IN = 0.75

# The async driver we use for each backend; `sqlite://` and `postgresql://` get it added.
ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
BACKEND_ALIASES = {"postgres": "postgresql", "sqlite": "sqlite", "postgresql": "postgresql"}
REDIS_SCHEMES = ("redis", "rediss", "unix")
EXAMPLE_DATABASE_URLS = "sqlite:///agentkeys.db or postgresql://user@host:5432/agentkeys"
# libpq's sslmode values; asyncpg takes the same names as its `ssl` argument.
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
# libpq's TLS file parameters: asyncpg reads them from these environment variables only (the
# URL's query becomes keyword arguments, which it does not take for these).
SSL_FILE_VARIABLES = {
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
}
# Query parameters of a PostgreSQL URL that asyncpg.connect takes as they come, as text (besides
# sslmode, translated): SQLAlchemy passes the query as keyword arguments, converting only
# `prepared_statement_cache_size`, so a numeric or boolean asyncpg argument (command_timeout,
# direct_tls=false) would arrive as a string and anything else as an unknown keyword.
POSTGRESQL_QUERY_PARAMETERS = frozenset(
    {
        "ssl",
        "target_session_attrs",
        "krbsrvname",
        "gsslib",
        "passfile",
        "prepared_statement_cache_size",
    }
)


def secret_bits(secret: str) -> float:
    """A simple strength estimate: the length times the Shannon entropy of the secret's own
    character frequencies, scaled down by how much zlib compresses the secret (a repeated
    pattern, ``0123456789`` four times or ``abcabc...``, compresses and scores what its first
    copy does). 32 underscores score 0; ``secrets.token_urlsafe(32)`` about 200."""
    return _character_bits(secret) * _incompressible_share(secret)


def sequence_bits(secret: str) -> float:
    """The same estimate over the steps between neighbouring characters: a run of consecutive
    characters (``abcdefgh...``, ``0123...``) has one step, repeated, and scores near 0."""
    steps = [ord(b) - ord(a) for a, b in itertools.pairwise(secret)]
    return _character_bits(steps)


def _character_bits(symbols: str | list[int]) -> float:
    counts = Counter(symbols)
    total = len(symbols)
    return -sum(count * math.log2(count / total) for count in counts.values())


def _incompressible_share(secret: str) -> float:
    """zlib's compressed size (without its fixed framing) over the raw size, at most 1."""
    raw = secret.encode()
    if not raw:
        return 1.0
    return min(1.0, (len(zlib.compress(raw, 9)) - _ZLIB_FRAMING) / len(raw))


_ZLIB_FRAMING = len(zlib.compress(b"", 9)) - 2  # header and checksum, not the empty block


def derived_from_built_in(secret: str) -> bool:
    """Whether a secret is the built-in one, contains it, or is a near copy of it (a few
    edits), as written or once simple encodings are undone (reversal, case, base64 in either
    alphabet, base32, hex, URL escapes, up to three layers)."""
    return any(_near_built_in(candidate) for candidate in _readings(secret))


def _near_built_in(text: str) -> bool:
    folded = text.casefold()
    if DEVELOPMENT_SECRET in folded:
        return True
    # difflib's ratio is 2 x matches / total length: past this length it cannot reach the bar.
    if len(folded) > len(DEVELOPMENT_SECRET) * (2 / MAX_SIMILARITY_TO_BUILT_IN - 1):
        return False
    return difflib.SequenceMatcher(None, folded, DEVELOPMENT_SECRET).ratio() >= (
        MAX_SIMILARITY_TO_BUILT_IN
    )


_ENCODING_LAYERS = 3


def _readings(secret: str) -> set[str]:
    """The secret and every text it reads as after undoing up to three simple encodings."""
    seen = {secret}
    frontier = {secret}
    for _ in range(_ENCODING_LAYERS):
        frontier = {undone for text in frontier for undone in _undone_once(text)} - seen
        seen |= frontier
    return seen


def _undone_once(text: str) -> list[str]:
    found = [text[::-1], text.casefold(), unquote(text)]
    compact = "".join(text.split())
    decoders = (
        bytes.fromhex,
        lambda t: base64.b64decode(t + "=" * (-len(t) % 4), validate=True),
        lambda t: base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)),
        lambda t: base64.b32decode(t.upper() + "=" * (-len(t) % 8)),
    )
    for decode in decoders:
        with contextlib.suppress(ValueError, binascii.Error):
            found.append(decode(compact).decode("utf-8"))
    return found


MAX_CPU_WORKERS = 256


def usable_cpus() -> int:
    """CPUs this process may run on: ``os.process_cpu_count()`` (Python 3.13+), else the size of
    its affinity mask (Linux), else every CPU of the machine; at least 1."""
    process_cpu_count = getattr(os, "process_cpu_count", None)
    if process_cpu_count is not None:
        count: int | None = process_cpu_count()
    elif hasattr(os, "sched_getaffinity"):
        count = len(os.sched_getaffinity(0))
    else:
        count = os.cpu_count()
    return max(1, min(count or 1, MAX_CPU_WORKERS))


def async_database_url(value: str) -> str:
    """The URL with the async driver we use; a clear ValueError for anything else.

    Raised messages never quote the URL itself (it may hold a password).
    """
    # Imported here, not above: the command line reads these settings, and its --help or a bad
    # option should not wait for SQLAlchemy.
    from sqlalchemy.engine import make_url  # noqa: PLC0415
    from sqlalchemy.exc import ArgumentError  # noqa: PLC0415

    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        raise ValueError(f"not a database URL; expected e.g. {EXAMPLE_DATABASE_URLS}") from None
    backend_name, _, driver = url.drivername.partition("+")
    backend = BACKEND_ALIASES.get(backend_name)
    if backend is None:
        raise ValueError(
            f"unsupported database {backend_name!r}; use SQLite or PostgreSQL "
            f"(e.g. {EXAMPLE_DATABASE_URLS})"
        )
    wanted = ASYNC_DRIVERS[backend]
    if driver not in {"", wanted}:
        raise ValueError(
            f"driver {driver!r} is not supported for {backend}; "
            f"use {backend}:// or {backend}+{wanted}:// (the async driver {wanted})"
        )
    url = url.set(drivername=f"{backend}+{wanted}")
    if backend == "sqlite":
        _check_sqlite_directory(url)
    else:
        url = _asyncpg_query(url)
    return url.render_as_string(hide_password=False)


def _asyncpg_query(url: URL) -> URL:
    """libpq's ``sslmode`` as asyncpg's ``ssl`` (same mode names); every other parameter either
    one asyncpg takes or refused by name. SQLAlchemy passes the query to ``asyncpg.connect`` as
    keyword arguments, where ``sslmode`` is unknown: every connection would fail."""
    query = dict(url.query)
    for name, value in query.items():
        if not isinstance(value, str):
            raise ValueError(f"the URL parameter {name!r} is given more than once")  # noqa: TRY004 - pydantic reports ValueError
    modes = {name: query.pop(name) for name in ("sslmode", "ssl") if name in query}
    if len(set(modes.values())) > 1:
        raise ValueError("sslmode and ssl disagree; give one of them")
    if modes:
        mode = str(next(iter(modes.values())))
        if mode not in SSL_MODES:
            raise ValueError(f"sslmode {mode[:40]!r} is not one of {', '.join(SSL_MODES)}")
        query["ssl"] = mode
    for name, variable in SSL_FILE_VARIABLES.items():
        if name in query:
            raise ValueError(
                f"{name} in the URL is not read by the asyncpg driver; set the environment "
                f"variable {variable} to the file instead"
            )
    unknown = sorted(set(query) - POSTGRESQL_QUERY_PARAMETERS)
    if unknown:
        raise ValueError(
            f"unsupported URL parameter {unknown[0][:40]!r} for PostgreSQL; supported: sslmode, "
            f"{', '.join(sorted(POSTGRESQL_QUERY_PARAMETERS))}"
        )
    return url.set(query=query)


def _check_sqlite_directory(url: URL) -> None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    directory = Path(database).expanduser().absolute().parent
    if not directory.is_dir():
        raise ValueError(
            f"the directory of the SQLite file does not exist: {directory} "
            "(create it, or point the URL at an existing directory)"
        )


class Mode(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class DecisionCommit(StrEnum):
    """How a credential decision's transaction commits on PostgreSQL (SQLite: always ``durable``
    as configured, ``synchronous=NORMAL`` in WAL)."""

    # The commit returns once the WAL is flushed to disk (PostgreSQL's default).
    DURABLE = "durable"
    # ``synchronous_commit = off`` for decisions only: the commit returns before the flush, so
    # the quota locks are given up without waiting for the disk. A crash of the database (not
    # of agentkeys) may lose the last decisions (at most 3 x wal_writer_delay, 600 ms by
    # default): their keys then answer 401 and the agent asks again. Never inconsistent, and
    # revocations and every other write stay durable.
    FAST = "fast"


class Settings(BaseSettings):
    """Every knob of the service. Secrets are ``SecretStr`` so they never print."""

    # hide_input_in_errors: a refused secret or URL (with its password) never enters an error.
    model_config = SettingsConfigDict(
        env_prefix="AGENTKEYS_",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
        # NaN passes no bound and infinity means nothing for a time or a size: refused by name.
        allow_inf_nan=False,
    )

    mode: Mode = Field(
        default=Mode.PRODUCTION,
        description="`development` allows the built-in secret; `production` demands a real one.",
    )
    secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_SECRET),
        description="Server secret keying the HMAC-SHA256 digest of every credential.",
    )
    database_url: str = Field(
        default="sqlite:///agentkeys.db",
        description="`sqlite:///FILE` or `postgresql://user@host:5432/db`; the async driver "
        "(aiosqlite, asyncpg) is added, other drivers are refused.",
    )
    policy: Path | None = Field(
        default=None,
        description="Issuing policy file (TOML); the shipped default policy when unset.",
    )
    redis_url: str | None = Field(
        default=None,
        description="Redis URL (`redis://host:6379/0`). Set it when running several replicas: "
        "request rates and revocations are then shared through Redis.",
    )
    key_cache_seconds: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="How long a verified key may be answered from memory (0 turns the cache "
        "off). Bounds how late another replica without Redis sees a revocation.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated addresses or networks of proxies whose X-Forwarded-For "
        "is believed (e.g. `10.0.0.0/8,127.0.0.1`). Empty: the socket peer is the client.",
    )
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024, gt=0, description="Largest accepted request body."
    )
    max_header_bytes: int = Field(
        default=64 * 1024,
        ge=4 * 1024,
        le=1024 * 1024,
        description="Largest accepted request head (request line and headers, with their line "
        "ends); a larger one answers 431 and the connection closes.",
    )
    header_timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=300,
        description="Time a client has to send a request's head (request line and headers) "
        "from the connection's opening or its first byte; then 408 and the connection closes.",
    )
    body_timeout_seconds: float = Field(
        default=30,
        gt=0,
        le=3600,
        description="Time a client has to send a request's whole body, from the end of its "
        "head; then 408 and the connection closes.",
    )
    keepalive_timeout_seconds: int = Field(
        default=5,
        ge=1,
        le=300,
        description="An idle keep-alive connection is closed after this many seconds.",
    )
    metrics_allow: str = Field(
        default="",
        description="Comma-separated networks (CIDR) besides loopback that may read `/metrics` "
        "without an admin key (e.g. `10.0.0.0/8`). Empty: loopback only.",
    )
    console_session_seconds: int = Field(
        default=28800,
        ge=1,
        le=7 * 86400,
        description="How long an operator console session lasts from sign-in (absolute; "
        "1 second to 7 days: a few seconds only makes sense in tests).",
    )
    last_used_flush_seconds: float = Field(
        default=5,
        ge=0.1,
        le=300,
        description="Credentials' last use is kept in memory and written at most once per "
        "credential per this many seconds, in one batch (and at shutdown).",
    )
    webhooks_allow_private: bool = Field(
        default=False,
        description="Development and tests only: webhooks may also go to `http` URLs and to "
        "private, loopback and link-local addresses (refused by default: SSRF).",
    )
    webhooks_deliver: bool = Field(
        default=True,
        description="Run the webhook delivery worker (and the expiry sweep) in this process; "
        "several replicas may, each message is still delivered by one.",
    )
    webhooks_poll_seconds: float = Field(
        default=1.0,
        ge=0.05,
        le=60,
        description="How often the delivery worker looks for due webhook messages.",
    )
    log_level: str = Field(default="INFO", description="Level of the `agentkeys` loggers.")
    # None is never the value once validated: unset, it follows the mode.
    log_format: LogFormat = Field(
        default=None,
        validate_default=True,
        description="`json` (JSON Lines) or `text` (one `key=value` line per event) on stderr; "
        "unset: `text` in development mode, `json` otherwise.",
    )
    cpu_workers: int | None = Field(
        default=None,
        ge=1,
        le=MAX_CPU_WORKERS,
        description="CPU-bound jobs (battery estimates) run at once per process; unset: the "
        "CPUs this process may use.",
    )

    leak_report_keys: Path | None = Field(
        default=None,
        description="File of the public keys that sign leaked-key reports, in the shape of "
        "https://api.github.com/meta/public_keys/secret_scanning (ECDSA P-256 PEM keys). Unset: "
        "signed reports are refused (401); unsigned reports are still accepted.",
    )
    security_contact: str = Field(
        default="mailto:security@example.com",
        min_length=1,
        max_length=500,
        description="`Contact:` of `/.well-known/security.txt` (RFC 9116): a `mailto:` or "
        "`https:` URI where security reports are read.",
    )

    database_connections: int = Field(
        default=20,
        ge=2,
        le=10_000,
        description="The most PostgreSQL connections one `agentkeys serve` opens, over all its "
        "worker processes: each worker's pool opens its share as it is needed and keeps it "
        "open. Keep the sum over every replica (and the CLI, 2 at most) below the "
        "server's `max_connections` (100 by default, 3 reserved for superusers). SQLite: unused.",
    )
    decision_commit: DecisionCommit = Field(
        default=DecisionCommit.DURABLE,
        description="PostgreSQL: `fast` commits credential decisions without waiting for the "
        "disk (`synchronous_commit = off` for them only): a client network's decisions, which "
        "queue on its quota locks, no longer wait for each other's flush; a database crash may "
        "lose the last ~600 ms of decisions. `durable` (default) waits.",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=1_000,
        description="Worker processes sharing `database_connections`; `agentkeys serve "
        "--workers N` sets it for its workers.",
    )

    @property
    def database_pool_size(self) -> int:
        """Connections each worker's pool holds at most: its share of ``database_connections``,
        so the workers together never hold more (at least 2 each)."""
        return max(2, self.database_connections // self.workers)

    @property
    def cpu_bound_concurrency(self) -> int:
        """``cpu_workers`` if set, else the CPUs this process may use."""
        return self.cpu_workers if self.cpu_workers is not None else usable_cpus()

    @field_validator("database_url")
    @classmethod
    def _async_database_url(cls, value: str) -> str:
        return async_database_url(value)

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            scheme = urlsplit(value).scheme
        except ValueError:
            scheme = ""
        if scheme not in REDIS_SCHEMES:
            raise ValueError("expected a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("leak_report_keys")
    @classmethod
    def _readable_leak_report_keys(cls, value: Path | None) -> Path | None:
        # Read once here so that a missing, unreadable or malformed file stops the server at
        # start in one line; the application reads it again when it is built.
        if value is not None:
            try:
                load_leak_report_keys(value)
            except LeakReportKeysError as error:
                raise ValueError(str(error)) from None
        return value

    @field_validator("security_contact")
    @classmethod
    def _contact_uri(cls, value: str) -> str:
        if not value.startswith(("mailto:", "https://", "tel:")) or any(
            character.isspace() for character in value
        ):
            raise ValueError("expected a mailto:, https:// or tel: URI (RFC 9116 Contact)")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        names = [name for name in logging.getLevelNamesMapping() if name != "NOTSET"]
        if level not in names:
            raise ValueError(f"unknown log level {value!r}; use one of {', '.join(names)}")
        return level

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format_of_mode(cls, value: object, info: ValidationInfo) -> object:
        if value is None:
            development = info.data.get("mode") is Mode.DEVELOPMENT
            return LogFormat.TEXT if development else LogFormat.JSON
        if isinstance(value, str) and value.strip().lower() not in set(LogFormat):
            raise ValueError(f"unknown log format {value[:40]!r}; use json or text")
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        parse_networks(value)
        return value

    def trusted_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    @field_validator("metrics_allow")
    @classmethod
    def _metrics_networks_parse(cls, value: str) -> str:
        try:
            parse_networks(value)
        except ValueError as error:
            raise ValueError(
                f"{error}; expected comma-separated networks, e.g. 10.0.0.0/8,192.168.1.7"
            ) from None
        return value

    def metrics_networks(self) -> tuple[Network, ...]:
        """Networks besides loopback whose clients may read ``/metrics`` without an admin key."""
        return parse_networks(self.metrics_allow)

    @field_validator("secret")
    @classmethod
    def _strong_secret(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        """Development mode may use the built-in secret; any secret of one's own, in any mode,
        has at least 32 characters; in production it must be neither the built-in secret nor
        derived from it, and score at least 128 bits (`secret_bits`)."""
        secret = value.get_secret_value()
        development = info.data.get("mode") is Mode.DEVELOPMENT
        if secret == DEVELOPMENT_SECRET:
            if development:
                return value
            raise ValueError(
                "set a secret of your own outside development mode (or set "
                "AGENTKEYS_MODE=development for a local trial)"
            )
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
        if development:
            return value
        if derived_from_built_in(secret):
            raise ValueError("must not be derived from the built-in development secret")
        if secret_bits(secret) < MIN_SECRET_BITS or sequence_bits(secret) < MIN_SEQUENCE_BITS:
            raise ValueError(
                f"is too predictable (under {MIN_SECRET_BITS} bits by length x character "
                "entropy, repeated patterns counted once, or mostly runs of consecutive "
                "characters); generate one, e.g. python3 -c 'import secrets; "
                "print(secrets.token_urlsafe(32))' or openssl rand -hex 32"
            )
        return value


def settings_problems(error: ValidationError) -> list[str]:
    """One line per refused setting: ``AGENTKEYS_LOG_LEVEL: unknown log level 'LOUD'; …``."""
    lines = []
    for problem in error.errors():
        field = "_".join(str(part) for part in problem["loc"]).upper()
        message = str(problem["msg"]).removeprefix("Value error, ")
        lines.append(f"AGENTKEYS_{field}: {message}" if field else message)
    return lines
