"""Retention: pruning the ledger of old decisions and long-dead credentials."""
