"""The log formatter: whatever a value holds, one event is one line and no value forges a pair."""

from __future__ import annotations

import logging
import re
import sys

from hypothesis import example, given
from hypothesis import strategies as st

from agentkeys.logs import KeyValueFormatter, escape

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
    return ESCAPE.sub(lambda m: SHORT.get(m[1]) or chr(int(m[1][1:], 16)), token)


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
def test_a_message_without_arguments_is_escaped_too(text: str) -> None:
    line = formatted(text)

    assert_one_safe_line(line)
    assert unescape(line.split(" ", 4)[4]) == text


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
