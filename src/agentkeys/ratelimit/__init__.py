"""Per-credential request rate limiting on sandbox routes, in-process or shared through Redis."""
