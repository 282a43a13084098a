"""Agent credentials: issue, verify, revoke."""
