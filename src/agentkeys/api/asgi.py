"""ASGI entry point for uvicorn workers: settings from the environment, then ``create_app``."""

from agentkeys.api.app import create_app
from agentkeys.config import Settings
from agentkeys.logs import configure_logging

settings = Settings()
configure_logging(settings.log_level)
app = create_app(settings)
