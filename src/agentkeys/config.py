"""Settings from the environment (prefix ``AGENTKEYS_``), built once and given to ``create_app``."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from agentkeys.client_address import Network, parse_networks

# Only ever accepted in development mode; a production server refuses to start with it.
DEVELOPMENT_SECRET = "agentkeys-development-secret-not-for-production"  # noqa: S105
MIN_SECRET_LENGTH = 32


class Mode(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Every knob of the service. Secrets are ``SecretStr`` so they never print."""

    model_config = SettingsConfigDict(env_prefix="AGENTKEYS_", extra="ignore", frozen=True)

    mode: Mode = Field(
        default=Mode.PRODUCTION,
        description="`development` allows the built-in secret; `production` demands a real one.",
    )
    secret: SecretStr = Field(
        default=SecretStr(DEVELOPMENT_SECRET),
        description="Server secret keying the HMAC-SHA256 digest of every credential.",
    )
    database_url: str = Field(
        default="sqlite+aiosqlite:///agentkeys.db",
        description="SQLAlchemy async URL of the database.",
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
    log_level: str = Field(default="INFO", description="Level of the `agentkeys` loggers.")

    @field_validator("trusted_proxies")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        parse_networks(value)
        return value

    def trusted_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    @model_validator(mode="after")
    def _refuse_default_secret_outside_development(self) -> Settings:
        secret = self.secret.get_secret_value()
        if self.mode is Mode.DEVELOPMENT:
            return self
        if secret == DEVELOPMENT_SECRET:
            raise ValueError(
                "AGENTKEYS_SECRET must be set to a secret of your own outside development mode "
                "(or set AGENTKEYS_MODE=development for a local trial)"
            )
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"AGENTKEYS_SECRET must be at least {MIN_SECRET_LENGTH} characters")
        return self
