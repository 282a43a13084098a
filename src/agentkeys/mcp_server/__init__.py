"""The MCP server: the HTTP API's routes as MCP tools, over streamable HTTP (``/mcp``) and stdio.

Every tool calls the HTTP API itself, so authentication, scopes, quotas, rate limits and the
error envelope are the API's own.
"""
