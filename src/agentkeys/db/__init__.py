"""Database plumbing: metadata, engine, sessions and migrations."""
