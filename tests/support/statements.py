"""Counting the SQL statements an action sends: every cursor execution of every engine
(``before_cursor_execute``), ``BEGIN IMMEDIATE`` included; a commit or rollback is not one."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    """The statements executed inside the block, in order (their SQL text)."""
    seen: list[str] = []

    def note(
        _conn: Any, _cursor: Any, statement: str, _parameters: Any, _context: Any, _many: bool
    ) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", note)
