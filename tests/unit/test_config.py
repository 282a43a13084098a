"""Settings refuse a default or weak secret outside development mode."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agentkeys.config import DEVELOPMENT_SECRET, Mode, Settings


class TestSecret:
    def test_default_secret_is_refused_in_production(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("AGENTKEYS_SECRET", raising=False)
        monkeypatch.delenv("AGENTKEYS_MODE", raising=False)

        with pytest.raises(ValidationError, match="AGENTKEYS_SECRET"):
            Settings()

    def test_short_secret_is_refused_in_production(self) -> None:
        with pytest.raises(ValidationError, match="at least 32"):
            Settings(mode=Mode.PRODUCTION, secret="too-short")

    def test_default_secret_is_allowed_in_development(self) -> None:
        settings = Settings(mode=Mode.DEVELOPMENT)

        assert settings.secret.get_secret_value() == DEVELOPMENT_SECRET

    def test_secret_is_read_from_the_environment_and_never_printed(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        secret = "s" * 40
        monkeypatch.setenv("AGENTKEYS_SECRET", secret)

        settings = Settings()

        assert settings.secret.get_secret_value() == secret
        assert secret not in repr(settings)
        assert secret not in str(settings.model_dump())
