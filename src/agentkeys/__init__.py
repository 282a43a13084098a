"""agentkeys: self-serve, sandbox-only API credentials for AI agents."""

__version__ = "0.1.0"
