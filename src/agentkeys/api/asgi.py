"""ASGI entry point for uvicorn workers: settings from the environment, then ``create_app``."""

from pydantic import ValidationError

from agentkeys.api.app import create_app
from agentkeys.config import Settings, settings_problems
from agentkeys.logs import configure_logging

try:
    settings = Settings()
except ValidationError as error:
    # Served without `agentkeys serve` (e.g. `uvicorn agentkeys.api.asgi:app`): still one line
    # per bad setting, not a traceback.
    lines = (f"configuration error: {problem}" for problem in settings_problems(error))
    raise SystemExit("\n".join(lines)) from None
configure_logging(settings.log_level, settings.log_format)
app = create_app(settings)
