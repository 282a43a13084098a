"""Reusable field types for request bodies: strict JSON types, code-point lengths, no blanks,
only storable text and finite numbers, bounded free-form JSON."""

from __future__ import annotations

import functools
import json
import math
import re
import sys
import unicodedata
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

import regex
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import InitErrorDetails, PydanticCustomError

from agentkeys.redaction import redact_all

MAX_URI_LENGTH = 2048


# Unicode has no property "renders blank": these symbols have a blank glyph (or none) without
# being whitespace, default-ignorable or format characters. Looked up by their Unicode names.
BLANK_SYMBOL_NAMES = (
    "BRAILLE PATTERN BLANK",  # U+2800
    "OBJECT REPLACEMENT CHARACTER",  # U+FFFC
    "MUSICAL SYMBOL NULL NOTEHEAD",  # U+1D159
)
BLANK_SYMBOLS = "".join(unicodedata.lookup(name) for name in BLANK_SYMBOL_NAMES)
# What leaves no visible mark: whitespace and separators, Default_Ignorable_Code_Point and
# format (Cf) characters (Unicode data from the regex module), and the blank symbols above.
_INVISIBLE_CLASS = r"\p{White_Space}\p{Z}\p{Default_Ignorable_Code_Point}\p{Cf}" + regex.escape(
    BLANK_SYMBOLS
)
INVISIBLE = regex.compile(f"[{_INVISIBLE_CLASS}]")
# Any other character: one is enough to be seen, and it is usually the first.
_VISIBLE = regex.compile(f"[^{_INVISIBLE_CLASS}]")


def renders_blank(text: str) -> bool:
    """True if ``text`` shows nothing a reader could see (empty, spaces, invisible characters)."""
    return _VISIBLE.search(text) is None


def _not_blank(value: str) -> str:
    if renders_blank(value):
        raise PydanticCustomError(
            "blank_string", "Must contain something other than whitespace or invisible characters"
        )
    return value


def _email_syntax(value: str) -> str:
    if INVISIBLE.search(value):
        # email_validator refuses whitespace and format characters, not blank symbols (U+2800).
        raise PydanticCustomError(
            "email_syntax", "Not a valid e-mail address: it contains an invisible character"
        )
    reason = _email_syntax_problem(value)
    if reason is not None:
        raise PydanticCustomError(
            "email_syntax", "Not a valid e-mail address: {reason}", {"reason": reason}
        )
    return value


@functools.lru_cache(maxsize=4096)
def _email_syntax_problem(value: str) -> str | None:
    """Why email_validator refuses ``value`` (None: it does not). A pure function of at most
    320 characters, and the same addresses come back (an agent asking again): the last few
    thousand answers are kept, as its IDNA checks cost ~0.1 ms."""
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        return str(error)
    return None


def _absolute_http_uri(value: str) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme.lower() not in {"http", "https"}
        or not parts.hostname
        or any(c.isspace() or ord(c) < 0x20 for c in value)
    ):
        raise PydanticCustomError("uri", "Must be an absolute http or https URI")
    return value


NonBlank = AfterValidator(_not_blank)
EmailAddress = Annotated[
    str, Field(max_length=320, json_schema_extra={"format": "email"}), AfterValidator(_email_syntax)
]
HttpUri = Annotated[
    str,
    Field(max_length=MAX_URI_LENGTH, json_schema_extra={"format": "uri"}),
    AfterValidator(_absolute_http_uri),
]


# One rule for every date and instant a request carries: the years 2000-2100, which every tariff
# is priced for and every conversion to a home's local time stays inside. The first day and
# instant after 2100 are allowed too, as the exclusive end of a period or window.
EARLIEST_DAY = date(2000, 1, 1)
LIMIT_DAY = date(2101, 1, 1)
EARLIEST_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
LIMIT_INSTANT = datetime(2101, 1, 1, tzinfo=UTC)
_RANGE_MESSAGE = "Must lie in the years 2000 to 2100"


def parse_day(value: str) -> date:
    """``YYYY-MM-DD``, or an ISO 8601 date-time whose date part is taken; 2000-2100."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
        else:
            day = datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        raise PydanticCustomError("date", "Must be a date, YYYY-MM-DD") from None
    if not EARLIEST_DAY <= day <= LIMIT_DAY:
        raise PydanticCustomError("date_range", _RANGE_MESSAGE)
    return day


def parse_instant(value: str) -> datetime:
    """ISO 8601 within 2000-2100; a time without an offset is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PydanticCustomError("datetime", "Must be an ISO 8601 date-time") from None
    instant = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if not EARLIEST_INSTANT <= instant <= LIMIT_INSTANT:
        raise PydanticCustomError("datetime_range", _RANGE_MESSAGE)
    return instant


def _day_text(value: str) -> str:
    parse_day(value)
    return value


def _instant_text(value: str) -> str:
    parse_instant(value)
    return value


DayText = Annotated[
    str,
    Field(max_length=40, description="YYYY-MM-DD (or ISO 8601), in the years 2000-2100."),
    AfterValidator(_day_text),
]
InstantText = Annotated[
    str,
    Field(max_length=64, description="ISO 8601, years 2000-2100 (UTC if no offset)."),
    AfterValidator(_instant_text),
]
# The widest UTC offset of a U.S. time zone's wall clock (Guam's +10, Samoa's -11 and Alaska's
# daylight -8 all fall inside): a wall-clock time's range is checked this far either way here,
# and exactly once the home's time zone is known (the price signal's service).
_WIDEST_OFFSET = timedelta(hours=14)


def parse_wall_clock_or_instant(value: str) -> datetime:
    """An ISO 8601 date-time: with an offset (or ``Z``), that instant in UTC; without one, the
    wall-clock time as given (naive), to be read in the home's time zone."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise PydanticCustomError("datetime", "Must be an ISO 8601 date-time") from None
    if parsed.tzinfo is not None:
        return parse_instant(value)
    as_utc = parsed.replace(tzinfo=UTC)
    if not EARLIEST_INSTANT - _WIDEST_OFFSET <= as_utc <= LIMIT_INSTANT + _WIDEST_OFFSET:
        raise PydanticCustomError("datetime_range", _RANGE_MESSAGE)
    return parsed


def _wall_clock_or_instant_text(value: str) -> str:
    parse_wall_clock_or_instant(value)
    return value


WallClockOrInstantText = Annotated[
    str,
    Field(
        max_length=64,
        description="ISO 8601 date-time in the years 2000-2100. With an offset (`Z`, `-07:00`) "
        "it is that instant; without one (`2026-07-01T16:00:00`) it is the home's local time, "
        "in the home's `timezone` (a time a daylight-saving change repeats is its first "
        "occurrence; one it skips is read with the offset in force before the change).",
    ),
    AfterValidator(_wall_clock_or_instant_text),
]


Year = Annotated[int, Field(ge=EARLIEST_DAY.year, le=LIMIT_DAY.year - 1)]
UnixSeconds = Annotated[
    int,
    Field(
        ge=int(EARLIEST_INSTANT.timestamp()),
        le=int(LIMIT_INSTANT.timestamp()),
        description="Seconds since 1970-01-01T00:00:00 UTC, in the years 2000-2100.",
    ),
]


# Free-form JSON (fields typed as any JSON value) is kept as sent, so it is bounded: a real
# client's evidence, tags or solar description fits in a few KB and a handful of levels.
MAX_FREE_FORM_BYTES = 8 * 1024
MAX_FREE_FORM_DEPTH = 10

JsonPath = tuple[int | str, ...]


def _unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored or answered as UTF-8 text, or ``None`` if it can.

    NUL (U+0000) is valid JSON but no PostgreSQL text column stores it. A lone surrogate
    (U+D800-U+DFFF: decoded JSON holds surrogates only unpaired) cannot be encoded as UTF-8 at
    all, so neither a database nor a JSON answer could carry it.
    """
    found = _UNSTORABLE_CHARACTER.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "Must not contain the NUL character (U+0000)"
    return f"Must not contain a lone surrogate (U+{ord(found.group()):04X})"


_UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def _finite_numbers(items: list[Any]) -> bool:
    """True if every item is a finite number: one C-speed pass for the common big list.

    ``sum`` succeeds only over numbers (a string, list, object or null raises ``TypeError``);
    a finite float total means no NaN or infinity was added. Anything else (an overflowing
    total, a huge int beside a float) is left to the item-by-item walk.
    """
    try:
        total = sum(items)
    except (TypeError, OverflowError):
        return False
    return not isinstance(total, float) or math.isfinite(total)


class OversizedInteger:
    """Where a body held an integer literal longer than Python converts (``sys.int_max_str_digits``,
    4300 digits by default): left in the document by ``decode_json`` so that validation can
    refuse it naming its field, instead of the whole body failing to parse."""

    __slots__ = ("digits",)

    def __init__(self, digits: int) -> None:
        self.digits = digits


def _integer(literal: str) -> int | OversizedInteger:
    digits = len(literal.lstrip("-"))
    limit = sys.get_int_max_str_digits()
    if limit and digits > limit:
        return OversizedInteger(digits)
    return int(literal)


def decode_json(raw: bytes | str) -> Any:
    """A request body's JSON, as every route reads it (the standard library's decoder, as
    FastAPI's). An integer too long to convert is kept as an ``OversizedInteger`` for
    ``RequestBody`` to refuse naming its field; malformed JSON raises ``ValueError``."""
    return json.loads(raw, parse_int=_integer)


def _storable_text(value: str) -> str:
    problem = _unstorable(value)
    if problem is not None:
        raise PydanticCustomError("unstorable", problem)
    return value


# For strings outside a ``RequestBody`` (query parameters): the same storable-value rule.
Storable = AfterValidator(_storable_text)


def _problems(value: object, path: JsonPath, max_depth: int | None) -> list[InitErrorDetails]:
    """Every unstorable string, key, non-finite number or over-long integer literal in
    ``value``, with its path, in
    document order; containers nested deeper than ``max_depth`` (if any) are refused whole.

    Iterative, so no document the JSON parser accepted can exhaust the stack here. Lists of
    plain numbers (a bill's 35,136 usage values) are checked in one pass.
    """
    found: list[InitErrorDetails] = []
    pending: list[tuple[JsonPath, object, int]] = [(path, value, 1)]
    while pending:
        path, value, depth = pending.pop()
        if isinstance(value, str):
            reason = _unstorable(value)
            if reason is not None:
                found.append(_problem("unstorable_text", reason, path))
        elif isinstance(value, float):
            if not math.isfinite(value):
                found.append(
                    _problem("finite_number", "Must be a finite number (no NaN or Infinity)", path)
                )
        elif isinstance(value, OversizedInteger):
            limit = sys.get_int_max_str_digits()
            message = f"An integer of at most {limit} digits (this has {value.digits})"
            found.append(_problem("int_digits", message, path))
        elif not isinstance(value, (list, tuple, dict)):
            continue
        elif max_depth is not None and depth > max_depth:
            found.append(_problem("json_depth", f"Nests deeper than {max_depth} levels", path))
        elif isinstance(value, dict):
            children: list[tuple[JsonPath, object, int]] = []
            for key, item in value.items():
                reason = _unstorable(key) if isinstance(key, str) else None
                if reason is not None:
                    # The key itself is not named: it cannot be written into the answer.
                    message = f"A key: {reason[0].lower()}{reason[1:]}"
                    found.append(_problem("unstorable_text", message, path))
                    continue
                children.append(((*path, key), item, depth + 1))
            pending.extend(reversed(children))
        elif not (isinstance(value, list) and _finite_numbers(value)):
            indexed = list(enumerate(value))
            pending.extend(((*path, index), item, depth + 1) for index, item in reversed(indexed))
    return found


def _problem(kind: str, message: str, path: JsonPath) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=path, input=None)


def refuse_unstorable(value: object, *, max_depth: int | None = MAX_FREE_FORM_DEPTH) -> object:
    """Raise a validation error naming the inner path of every value no backend can store
    (and of every container nested deeper than ``max_depth``, unless it is ``None``)."""
    found = _problems(value, (), max_depth)
    if found:
        raise ValidationError.from_exception_data("unstorable", found)
    return value


def _bounded_free_form(value: object) -> object:
    refuse_unstorable(value)
    try:
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    except (TypeError, ValueError):  # only reachable from Python callers, never from a body
        raise PydanticCustomError("json_type", "Must be JSON") from None
    if size > MAX_FREE_FORM_BYTES:
        raise PydanticCustomError(
            "json_size",
            "At most {limit} bytes of JSON (this is {size})",
            {"limit": MAX_FREE_FORM_BYTES, "size": size},
        )
    return value


_FREE_FORM_DOC = (
    f"Any JSON, at most {MAX_FREE_FORM_BYTES} bytes serialized and {MAX_FREE_FORM_DEPTH} levels "
    "deep; numbers finite."
)
# Typed ``Any``, not pydantic's ``JsonValue``: a body parsed from JSON holds only JSON types,
# and JsonValue's own checks would name a NaN ``solarInfo.panels.list[1].dict.kw.float``.
FreeFormJson = Annotated[Any, AfterValidator(_bounded_free_form), Field(description=_FREE_FORM_DOC)]
FreeFormObject = Annotated[
    dict[str, Any], AfterValidator(_bounded_free_form), Field(description=_FREE_FORM_DOC)
]


# Set while a body's outermost model validates: the bodies nested in it were walked already.
_BODY_WALKED: ContextVar[bool] = ContextVar("agentkeys_body_walked", default=False)


class DescribedModel(BaseModel):
    """A model whose fields are described by the docstring under each (the OpenAPI document
    and every schema generated from the model carry it as the field's description)."""

    model_config = ConfigDict(use_attribute_docstrings=True)


class RequestBody(DescribedModel):
    """Base of every JSON request body: strict JSON types, unknown fields ignored, and only
    storable values.

    One rule for every string (nested ones and object keys included) and every number, with the
    same answer on every backend: no NUL, no lone surrogate (see ``_unstorable``), no NaN or
    infinity (JSON parsers read ``NaN``, ``Infinity`` and ``1e999``; no JSON answer or
    PostgreSQL ``json`` column can hold them). The rule is applied to the body as sent, before
    its fields are validated, so unknown fields (ignored, never stored) obey it too. Each
    refusal names the value's JSON path as sent (wire names).
    """

    model_config = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False)

    @model_validator(mode="wrap")
    @classmethod
    def _storable_body(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        if _BODY_WALKED.get():
            return handler(data)
        refuse_unstorable(data, max_depth=None)
        walked = _BODY_WALKED.set(True)
        try:
            return handler(data)
        finally:
            _BODY_WALKED.reset(walked)

    @field_validator("*", mode="after")
    @classmethod
    def _redact_keys(cls, value: object) -> object:
        # A key pasted into any text is never stored (nor echoed back) whole.
        return redact_all(value)


class CamelRequestBody(RequestBody):
    """A request body whose wire names are camelCase (``utilityId``), as most WattShift bodies."""

    model_config = ConfigDict(alias_generator=to_camel)
