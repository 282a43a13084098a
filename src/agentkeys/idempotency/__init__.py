"""Idempotency-Key: a retried write answers what its first attempt answered, once."""
