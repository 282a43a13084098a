"""The log formatter: whatever a value holds, one event is one line and no value forges a pair."""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from agentkeys.logs import (
    JsonFormatter,
    KeyValueFormatter,
    LogFormat,
    bounded,
    configure_logging,
    current_request_id,
    escape,
)

FORMATTER = KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
# A token of a line read as space-separated words, where a double-quoted run is one word.
TOKEN = re.compile(r'(?:[^ "]|"(?:[^"\\]|\\.)*")+')
ESCAPE = re.compile(r'\\(\\|"|n|r|t|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})')
SHORT = {"\\": "\\", '"': '"', "n": "\n", "r": "\r", "t": "\t"}
# Every code point, lone surrogates included.
ANY_TEXT = st.text(st.characters(exclude_categories=()))
FORGED = "x\n2026-11-30 19:18:00,000 INFO agentkeys.credentials.service decided outcome=issued"


def unescape(token: str) -> str:
    """What a reader of the log recovers from a value the formatter wrote."""
    if token.startswith('"') and token.endswith('"') and len(token) >= 2:
        token = token[1:-1]
    return unescape_message(token)


def unescape_message(text: str) -> str:
    """What a reader recovers from the message: escaped, never quoted (its quotes are its own)."""
    return ESCAPE.sub(lambda m: SHORT.get(m[1]) or chr(int(m[1][1:], 16)), text)


def formatted(
    message: str, *args: object, exc: BaseException | None = None, **extra: object
) -> str:
    record = logging.LogRecord("agentkeys.test", logging.INFO, __file__, 1, message, args, None)
    if exc is not None:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    for key, value in extra.items():
        setattr(record, key, value)
    return FORMATTER.format(record)


def assert_one_safe_line(line: str) -> None:
    assert len(line.splitlines()) == 1, line
    assert all(char.isprintable() for char in line), ascii(line)


@given(argument=ANY_TEXT, value=ANY_TEXT)
@example(argument=FORGED, value=FORGED)
@example(argument="a=b", value='x" outcome=issued "')
@example(argument="", value="")
@example(argument="\x00\ud800\u202e\u2028\x85\\n", value="\\")
def test_no_value_adds_a_line_a_word_or_a_pair(argument: str, value: str) -> None:
    line = formatted("got %s", argument, field=value)

    assert_one_safe_line(line)
    tokens = TOKEN.findall(line)
    # date, time, level, logger, "got", the argument, field=value: nothing more, nothing less.
    assert len(tokens) == 7, tokens
    assert unescape(tokens[5]) == argument
    key, _, written = tokens[6].partition("=")
    assert key == "field"
    assert unescape(written) == value


@given(text=ANY_TEXT)
@example(text='""')
@example(text='"quoted"')
def test_a_message_without_arguments_is_escaped_too(text: str) -> None:
    line = formatted(text)

    assert_one_safe_line(line)
    assert unescape_message(line.split(" ", 4)[4]) == text


def fail() -> None:
    raise RuntimeError(FORGED)


def test_a_traceback_joins_its_line_escaped() -> None:
    try:
        fail()
    except RuntimeError as error:
        line = formatted("unhandled error", exc=error, request_id="ws_request_x")

    assert_one_safe_line(line)
    tokens = TOKEN.findall(line)
    assert [token.partition("=")[0] for token in tokens[6:]] == ["request_id", "traceback"]
    assert "RuntimeError: " + FORGED in unescape(tokens[-1].partition("=")[2])


def test_numbers_keep_their_format() -> None:
    assert formatted("%s took %.1f ms (%d)", "GET", 1.25, 3).endswith("GET took 1.2 ms (3)")


def test_printable_text_is_left_alone() -> None:
    assert escape("Ünïcode ✓ ümlaut 電気") == "Ünïcode ✓ ümlaut 電気"
    assert escape("a\\b") == "a\\\\b"
    assert escape(chr(sys.maxunicode)) == "\\U0010ffff"


class TestBoundedValues:
    """Every value a client controls is bounded in the line, however it reaches the log."""

    LONG = "/v1/homes/" + "a" * 60_000

    def test_a_long_argument_is_cut_and_says_so(self) -> None:
        line = formatted("%s %s %s", "GET", self.LONG, 404)

        assert len(line) < 1_000
        assert f"…[+{len(self.LONG) - 512} chars]" in line
        assert line.endswith(" 404")

    def test_a_long_extra_is_cut(self) -> None:
        line = formatted("event", header=self.LONG)

        assert len(line) < 1_000
        assert "…[+" in line

    def test_escapes_are_never_cut_in_half(self) -> None:
        line = formatted("%s", "\n" * 60_000)

        assert "\\n" * 512 + "…[+59488 chars]" in line

    def test_a_traceback_has_a_larger_bound(self) -> None:
        def fail() -> None:
            raise ValueError("v" * 60_000)

        try:
            fail()
        except ValueError as error:
            line = formatted("failed", exc=error)

        assert 16 * 1024 < len(line) < 20 * 1024


JSON = JsonFormatter()
TEXT_KEY = "wsk_agent_" + "K" * 49
ADMIN_KEY = "wsk_admin_" + "A" * 49
# Any text with no key-like token in it (those are redacted, tested apart).
PLAIN_TEXT = ANY_TEXT.filter(lambda text: "wsk_" not in text)


def json_line(
    message: str,
    *args: object,
    exc: BaseException | None = None,
    level: int = logging.INFO,
    **extra: object,
) -> str:
    record = logging.LogRecord("agentkeys.test", level, __file__, 1, message, args, None)
    if exc is not None:
        record.exc_info = (type(exc), exc, exc.__traceback__)
    for key, value in extra.items():
        setattr(record, key, value)
    return JSON.format(record)


def parsed(line: str) -> dict[str, Any]:
    assert len(line.splitlines()) == 1, line
    assert line.isascii(), line
    entry = json.loads(line)
    assert isinstance(entry, dict)
    return entry


class TestJsonFormatter:
    @given(argument=PLAIN_TEXT, value=PLAIN_TEXT)
    @example(argument=FORGED, value=FORGED)
    @example(argument='", "level": "forged', value='"}\n{"event": "forged"}')
    @example(argument="\x00\ud800\u202e\u2028\u2029\x85\r\\n", value="\udfff\U0010ffff")
    def test_any_value_is_one_ascii_line_that_reads_back_as_written(
        self, argument: str, value: str
    ) -> None:
        entry = parsed(json_line("got %s", argument, field=value))

        assert entry["event"] == f"got {bounded(argument)}"
        assert entry["field"] == bounded(value)
        assert entry["level"] == "info"
        assert entry["logger"] == "agentkeys.test"

    def test_every_line_has_the_head_keys_and_a_utc_time(self) -> None:
        entry = parsed(json_line("started"))

        assert list(entry) == ["ts", "level", "event", "logger", "request_id"]
        assert entry["request_id"] is None
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["ts"])

    def test_an_extra_cannot_replace_a_head_key(self) -> None:
        entry = parsed(json_line("real", ts="forged", logger="forged", level_name="x"))

        assert entry["ts"] != "forged"
        assert entry["logger"] == "agentkeys.test"

    def test_numbers_booleans_and_null_keep_their_type(self) -> None:
        entry = parsed(json_line("x", count=3, ms=1.25, recorded=False, credential_id=None))

        assert (entry["count"], entry["ms"], entry["recorded"]) == (3, 1.25, False)
        assert entry["credential_id"] is None

    def test_a_non_finite_number_is_written_as_text(self) -> None:
        entry = parsed(json_line("%s", float("nan"), ratio=float("inf")))

        assert entry["ratio"] == "inf"
        assert entry["event"] == "nan"

    def test_an_event_name_and_named_arguments_become_fields(self) -> None:
        entry = parsed(
            json_line(
                "%(method)s %(path)s %(status)s",
                {"method": "GET", "path": "/v1/x", "status": 200},
                event="request",
            )
        )

        assert entry["event"] == "request"
        assert (entry["method"], entry["path"], entry["status"]) == ("GET", "/v1/x", 200)

    def test_the_text_line_does_not_repeat_the_event_name(self) -> None:
        line = formatted("%(method)s %(status)s", {"method": "GET", "status": 200}, event="request")

        assert line.endswith(" GET 200")

    def test_a_template_that_does_not_fit_its_arguments_keeps_the_event(self) -> None:
        entry = parsed(json_line("%d items", "many"))

        assert entry["event"].startswith("%d items")

    def test_a_long_value_is_cut_and_says_so(self) -> None:
        long = "\u2028" * 60_000
        line = json_line("%s", long, header=long)
        entry = parsed(line)

        assert entry["header"] == "\u2028" * 512 + "…[+59488 chars]"
        assert entry["event"] == "\u2028" * 512 + "…[+59488 chars]"
        assert len(line) < 2 * 6 * 520 + 200

    def test_a_traceback_joins_its_line_bounded(self) -> None:
        def fail() -> None:
            raise ValueError(FORGED + "v" * 60_000)

        try:
            fail()
        except ValueError as error:
            entry = parsed(json_line("failed", exc=error, level=logging.ERROR))

        assert entry["level"] == "error"
        assert entry["traceback"].startswith("Traceback (most recent call last):")
        assert FORGED in entry["traceback"]
        assert len(entry["traceback"]) < 16 * 1024 + 30


class TestKeysAreRedactedInEitherFormat:
    def fail(self) -> None:
        raise RuntimeError(f"bad key {TEXT_KEY}")

    def test_json(self) -> None:
        try:
            self.fail()
        except RuntimeError as error:
            line = json_line(f"saw {ADMIN_KEY} %s", TEXT_KEY, exc=error, header=f"x {TEXT_KEY}")

        assert "wsk_agent_[redacted]" in line
        assert "wsk_admin_[redacted]" in line
        assert "KKKK" not in line
        assert "AAAA" not in line

    def test_text(self) -> None:
        try:
            self.fail()
        except RuntimeError as error:
            line = formatted(f"saw {ADMIN_KEY} %s", TEXT_KEY, exc=error, header=f"x {TEXT_KEY}")

        assert "wsk_agent_[redacted]" in line
        assert "wsk_admin_[redacted]" in line
        assert "KKKK" not in line
        assert "AAAA" not in line


class TestRequestIdOfTheRequestBeingServed:
    def test_a_line_logged_while_serving_a_request_carries_its_id(self) -> None:
        serving = current_request_id.set("ws_request_current")
        try:
            entry = parsed(json_line("credential revoked"))
            line = formatted("credential revoked")
            explicit = parsed(json_line("decided", request_id="ws_request_explicit"))
        finally:
            current_request_id.reset(serving)

        assert entry["request_id"] == "ws_request_current"
        assert line.endswith("credential revoked request_id=ws_request_current")
        assert explicit["request_id"] == "ws_request_explicit"

    def test_outside_a_request_there_is_none(self) -> None:
        assert parsed(json_line("started"))["request_id"] is None
        assert "request_id" not in formatted("started")


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """configure_logging changes process-wide loggers: put them back afterwards."""
    names = ["", "agentkeys", "uvicorn", "uvicorn.error"]
    saved = {
        name: (list(logger.handlers), logger.level, logger.propagate)
        for name in names
        for logger in [logging.getLogger(name)]
    }
    try:
        yield
    finally:
        for name, (handlers, level, propagate) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.setLevel(level)
            logger.propagate = propagate
        logging.captureWarnings(False)


@pytest.mark.usefixtures("logging_restored")
class TestConfigureLogging:
    def test_every_logger_writes_the_chosen_format_once(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        configure_logging("INFO", LogFormat.TEXT)
        configure_logging("INFO", LogFormat.JSON)  # again: replaces, never adds a handler

        logging.getLogger("agentkeys.test").info("ours")
        logging.getLogger("uvicorn.error").info("Application startup complete.")
        logging.getLogger("sqlalchemy.pool").warning("a library's warning")
        logging.getLogger("sqlalchemy.pool").info("below the root's level")
        written = capsys.readouterr().err.splitlines()

        events = [(entry["logger"], entry["event"]) for entry in map(parsed, written)]
        assert events == [
            ("agentkeys.test", "ours"),
            ("uvicorn.error", "Application startup complete."),
            ("sqlalchemy.pool", "a library's warning"),
        ]

    def test_text_stays_the_key_value_line(self, capsys: pytest.CaptureFixture[str]) -> None:
        configure_logging("INFO", LogFormat.TEXT)

        logging.getLogger("agentkeys.test").info("decided", extra={"outcome": "issued"})

        assert capsys.readouterr().err.endswith(" INFO agentkeys.test decided outcome=issued\n")
