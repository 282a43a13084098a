"""Webhooks: signed notifications of credential events (the Standard Webhooks specification)."""
