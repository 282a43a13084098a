"""Homes (scopes ``homes:read`` and ``homes:write``), each owned by the credential that made it."""
