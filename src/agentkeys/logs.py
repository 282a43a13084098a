"""Log set-up: one line per event, ``key=value`` extras appended. Secrets are never passed in.

Whatever a client controls (a path, a header, a field, an exception's text) may reach a log line,
so the formatter alone makes every line safe, whoever logs: a newline, NUL, any other control or
format character and a lone surrogate are written as escapes (``\\n``, ``\\x00``, ``\\ud800``),
so one event is one line and no client can start a line of its own. Values interpolated into a
message (``%s`` arguments) and ``extra`` values are quoted when they hold a space, ``=`` or a
quote, so a value cannot pass for a ``key=value`` pair of its own. The message templates and the
extra keys are the code's own.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured duplicate of the message
}
# Characters that end a value in a ``key=value`` reading of a line, so a value holding one is
# quoted.
_NEEDS_QUOTES = frozenset(' ="')


# Most characters of one value written to a line (before escaping): a 60 KB path or header must
# not make a 60 KB log line. The excess is cut and its length said: ``…[+59488 chars]``.
MAX_LOGGED_VALUE = 512
# A traceback (or a library's own message) is longer, but bounded too.
MAX_LOGGED_TRACE = 16 * 1024

_SHORT_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(char: str) -> str:
    short = _SHORT_ESCAPES.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def escape(text: str) -> str:
    """``text`` on one line: backslashes and every non-printable character written as escapes.

    Non-printable is Python's ``str.isprintable``: controls (newline, NUL, DEL, C1), format
    characters (bidi overrides, zero-width), line and paragraph separators, surrogates, spaces
    other than the ASCII space, unassigned code points.
    """
    if text.isprintable() and "\\" not in text:
        return text
    return "".join(
        char if char.isprintable() and char != "\\" else _escape_char(char) for char in text
    )


def bounded(text: str, limit: int = MAX_LOGGED_VALUE) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[+{len(text) - limit} chars]"


def quote(text: str, limit: int = MAX_LOGGED_VALUE) -> str:
    """``text`` escaped and bounded, and double-quoted (inner quotes escaped) if it could end a
    value early."""
    # Cut before escaping, so no escape is cut in half (each character escapes to at most 10).
    escaped = escape(bounded(text, limit))
    if escaped and _NEEDS_QUOTES.isdisjoint(escaped):
        return escaped
    return '"' + escaped.replace('"', '\\"') + '"'


def _safe_argument(value: Any) -> Any:
    # Numbers keep their type (for %d, %.2f); anything else is text a client may have chosen.
    if isinstance(value, bool | int | float):
        return value
    return quote(str(value))


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        safe = logging.makeLogRecord(vars(record))
        safe.msg = escape(bounded(str(record.msg), MAX_LOGGED_TRACE))
        if isinstance(record.args, dict):
            safe.args = {key: _safe_argument(value) for key, value in record.args.items()}
        elif record.args:
            safe.args = tuple(_safe_argument(value) for value in record.args)
        # The traceback (whose text may quote client input) joins the line, escaped, below.
        safe.exc_info = None
        safe.exc_text = None
        safe.stack_info = None
        line = super().format(safe)
        extras = [
            f"{key}={quote(str(value))}"
            for key, value in vars(record).items()
            if key not in _STANDARD_ATTRIBUTES and value is not None
        ]
        trace = self._trace(record)
        if trace:
            extras.append(f"traceback={quote(trace, MAX_LOGGED_TRACE)}")
        return f"{line} {' '.join(extras)}" if extras else line

    def _trace(self, record: logging.LogRecord) -> str:
        parts = []
        if record.exc_info:
            parts.append(self.formatException(record.exc_info))
        elif record.exc_text:
            parts.append(record.exc_text)
        if record.stack_info:
            parts.append(self.formatStack(record.stack_info))
        return "\n".join(parts)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    for name in ("agentkeys", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
