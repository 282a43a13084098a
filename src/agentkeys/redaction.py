"""Key-like tokens hidden wherever text leaves a client's hands: logs, echoes, stored text. Pure.

Anything that starts like a key, even truncated or mistyped, is replaced: a key pasted into a
feedback message, a home's name or a revocation reason must not reach the database, where only
digests of keys may be (CONTRACT §6). Agent keys (``wsk_agent_…``) and an operator's admin keys
(``wsk_admin_…``) alike; each keeps its own prefix, so the redacted text still says which kind.
"""

from __future__ import annotations

import re
from typing import Final

KEY_PREFIX: Final = "wsk_agent"
ADMIN_KEY_PREFIX: Final = "wsk_admin"
KEY_PREFIX_WITH_SEPARATOR: Final = KEY_PREFIX + "_"
REDACTED: Final = KEY_PREFIX_WITH_SEPARATOR + "[redacted]"
ADMIN_REDACTED: Final = ADMIN_KEY_PREFIX + "_[redacted]"
_SHARED_START: Final = "wsk_"
_KEY_LIKE = re.compile(rf"({KEY_PREFIX}_|{ADMIN_KEY_PREFIX}_)[0-9A-Za-z]+")


def redact(text: str) -> str:
    """``text`` with every key-like token replaced."""
    if _SHARED_START not in text:
        return text
    return _KEY_LIKE.sub(r"\1[redacted]", text)


def redact_all(value: object) -> object:
    """``value`` (JSON: strings, lists, objects and their keys) with every string redacted."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        if _numbers_only(value):  # a bill's usage: 35,136 numbers, no text to redact
            return value
        return [redact_all(item) for item in value]
    if isinstance(value, dict):
        return {
            (redact(key) if isinstance(key, str) else key): redact_all(item)
            for key, item in value.items()
        }
    return value


def _numbers_only(items: list[object]) -> bool:
    """True if ``items`` holds numbers only (``sum`` refuses text, lists, objects and null)."""
    try:
        sum(items)  # type: ignore[arg-type]
    except TypeError:
        return False
    except OverflowError:  # a huge int beside a float: numbers still
        return True
    return True
