"""Log set-up: one line per event, as ``key=value`` text or as JSON Lines. Secrets are never
passed in.

Both formats are one ``logging.Formatter`` each over the standard library, which every library
we run (uvicorn, SQLAlchemy, asyncio) already logs through: one handler on the root logger puts
all of it in the chosen format, with one set of guarantees.

Whatever a client controls (a path, a header, a field, an exception's text) may reach a log line,
so the formatter alone makes every line safe, whoever logs: a newline, NUL, any other control or
format character and a lone surrogate are written as escapes (``\\n``, ``\\x00``, ``\\ud800``),
so one event is one line and no client can start a line of its own. Values interpolated into a
message (``%s`` arguments) and ``extra`` values are quoted when they hold a space, ``=`` or a
quote, so a value cannot pass for a ``key=value`` pair of its own. The message templates and the
extra keys are the code's own.

In JSON (``JsonFormatter``) each line is one object written by ``json.dumps`` with
``ensure_ascii``: every control, line or paragraph separator and non-ASCII character is a ``\\u``
escape, so no value can end the line. Values are bounded as in the text format, and any
key-like token (``redaction.redact``) is hidden in both formats, whoever logged it.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TextIO

from agentkeys.redaction import redact


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


# The id of the request being served, set by the request middleware for the request's task: a
# line logged while serving it (a revocation, a warning) carries it without being passed it.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's ANSI-coloured duplicate of the message
    # An event's stable name for JSON (``event``); the text line's message already says it.
    "event",
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
    return quote(redact(str(value)))


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    """The ``extra`` fields the code passed, by name."""
    return {key: value for key, value in vars(record).items() if key not in _STANDARD_ATTRIBUTES}


def _trace(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    parts = []
    if record.exc_info:
        parts.append(formatter.formatException(record.exc_info))
    elif record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(formatter.formatStack(record.stack_info))
    return redact("\n".join(parts))


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        safe = logging.makeLogRecord(vars(record))
        safe.msg = escape(bounded(redact(str(record.msg)), MAX_LOGGED_TRACE))
        if isinstance(record.args, dict):
            safe.args = {key: _safe_argument(value) for key, value in record.args.items()}
        elif record.args:
            safe.args = tuple(_safe_argument(value) for value in record.args)
        # The traceback (whose text may quote client input) joins the line, escaped, below.
        safe.exc_info = None
        safe.exc_text = None
        safe.stack_info = None
        line = super().format(safe)
        fields = _extras(record)
        request_id = current_request_id.get()
        if request_id is not None and fields.get("request_id") is None:
            fields["request_id"] = request_id
        extras = [
            f"{key}={quote(redact(str(value)))}"
            for key, value in fields.items()
            if value is not None
        ]
        trace = _trace(self, record)
        if trace:
            extras.append(f"traceback={quote(trace, MAX_LOGGED_TRACE)}")
        return f"{line} {' '.join(extras)}" if extras else line


def _json_value(value: Any) -> Any:
    """A value as JSON: numbers, booleans and null as themselves; anything else as bounded,
    redacted text (a non-finite float too: JSON has no NaN)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return bounded(redact(str(value)))


def _json_argument(value: Any) -> Any:
    if isinstance(value, bool | int | float):
        return value
    return bounded(redact(str(value)))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts`` (UTC, milliseconds), ``level``, ``event``, ``logger``,
    ``request_id`` (null outside a request), then the ``extra`` fields, then ``traceback``.

    ``event`` is the ``event`` extra when the code names its event (the access line's
    ``request``), else the message. A mapping of ``%(name)s`` arguments also becomes fields.
    """

    def format(self, record: logging.LogRecord) -> str:
        fields = _extras(record)
        event = getattr(record, "event", None)
        arguments: Any = record.args
        if isinstance(arguments, dict):
            arguments = {key: _json_argument(value) for key, value in arguments.items()}
        elif arguments:
            arguments = tuple(_json_argument(value) for value in arguments)
        message = redact(str(record.msg))
        if arguments:
            try:
                message = message % arguments
            except (TypeError, ValueError, KeyError):  # a wrong template must not lose the event
                message = f"{message} {arguments!r}"
        request_id = fields.pop("request_id", None) or current_request_id.get()
        entry: dict[str, Any] = {
            "ts": _instant(record.created),
            "level": record.levelname.lower(),
            "event": bounded(message, MAX_LOGGED_TRACE) if event is None else _json_value(event),
            "logger": record.name,
            "request_id": _json_value(request_id),
        }
        if isinstance(record.args, dict):
            fields = {**record.args, **fields}
        for key, value in fields.items():
            if key not in entry:  # the head's keys are the formatter's own, never replaced
                entry[key] = _json_value(value)
        trace = _trace(self, record)
        if trace:
            entry["traceback"] = bounded(trace, MAX_LOGGED_TRACE)
        # ensure_ascii: U+2028, U+2029, NEL, controls and lone surrogates are all \u escapes.
        return json.dumps(entry, ensure_ascii=True, allow_nan=False, separators=(",", ":"))


def _instant(created: float) -> str:
    text = datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z"


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def formatter_for(log_format: LogFormat) -> logging.Formatter:
    if log_format is LogFormat.JSON:
        return JsonFormatter()
    return KeyValueFormatter(TEXT_FORMAT)


class _AgentkeysHandler(logging.StreamHandler[TextIO]):
    """Ours, so that configuring again replaces it rather than adding a second one."""


def configure_logging(level: str, log_format: LogFormat = LogFormat.TEXT) -> None:
    """Every log line on stderr in ``log_format``: agentkeys' and uvicorn's at ``level``, any
    other library's warnings and errors through the root logger (never Python's bare
    last-resort output, which is neither format)."""
    handler = _AgentkeysHandler(sys.stderr)
    handler.setFormatter(formatter_for(log_format))
    for name in ("agentkeys", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    root = logging.getLogger()
    root.handlers[:] = [
        existing for existing in root.handlers if not isinstance(existing, _AgentkeysHandler)
    ]
    root.addHandler(handler)  # at the root's own level: WARNING unless someone chose otherwise
    # Python's warnings too, rather than as bare text on stderr.
    logging.captureWarnings(True)
