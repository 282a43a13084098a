"""Settings from the environment (prefix ``AGENTKEYS_``), built once and given to ``create_app``."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    max_body_bytes: int = Field(
        default=2 * 1024 * 1024, gt=0, description="Largest accepted request body."
    )
    log_level: str = Field(default="INFO", description="Level of the `agentkeys` loggers.")

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
