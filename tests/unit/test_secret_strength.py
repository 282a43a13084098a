"""Production secrets: nothing derived from the built-in one (through reversal, case, base64,
base32, hex or URL escapes, up to three layers), no repeated pattern, no run of consecutive
characters; every real random token is accepted."""

from __future__ import annotations

import base64
import random
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from agentkeys.config import DEVELOPMENT_SECRET, Mode, Settings

BUILT_IN = DEVELOPMENT_SECRET.encode()


def refused(secret: str) -> str:
    with pytest.raises(ValidationError) as raised:
        Settings(mode=Mode.PRODUCTION, secret=secret)
    message = str(raised.value)
    assert secret not in message  # never echoed
    return message


def accepted(secret: str) -> bool:
    settings_ = Settings(mode=Mode.PRODUCTION, secret=secret)
    return settings_.secret.get_secret_value() == secret


def base32_lower(raw: bytes) -> str:
    return base64.b32encode(raw).decode().lower()


ENCODINGS: dict[str, Callable[[bytes], str]] = {
    "reversed": lambda raw: raw.decode()[::-1],
    "upper case": lambda raw: raw.decode().upper(),
    "swapped case, reversed": lambda raw: raw.decode().swapcase()[::-1],
    "base64": lambda raw: base64.b64encode(raw).decode(),
    "base64 without padding": lambda raw: base64.b64encode(raw).decode().rstrip("="),
    "url-safe base64 of the reversal": lambda raw: base64.urlsafe_b64encode(raw[::-1]).decode(),
    "base32, lower case": base32_lower,
    "hex": lambda raw: raw.hex(),
    "upper-case hex, reversed": lambda raw: raw.hex().upper()[::-1],
    "base64 of hex": lambda raw: base64.b64encode(raw.hex().encode()).decode(),
    "url-escaped": lambda raw: "".join(f"%{byte:02X}" for byte in raw),
    "base64 with a suffix": lambda raw: base64.b64encode(raw + b".").decode(),
}


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_an_encoding_of_the_built_in_secret_is_refused(encoding: str) -> None:
    secret = ENCODINGS[encoding](BUILT_IN)
    assert secret != DEVELOPMENT_SECRET
    assert "derived from the built-in" in refused(secret)


@pytest.mark.parametrize(
    "secret",
    [
        "0123456789" * 4,
        "abc" * 50,
        "abcabcabcabcabcabcabcabcabcabcabcabc",
        "correct-horse-" * 4,
        "Zq9!" * 10,
        "abcdefghijklmnopqrstuvwxyz" * 2,
        "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF",
        "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210",
        "aceGIKMOQSUWYacegikmoqsuwy0246813579",
    ],
)
def test_repeated_patterns_and_runs_are_refused(secret: str) -> None:
    assert len(secret) >= 32
    assert "too predictable" in refused(secret)


@settings(max_examples=300)
@given(st.randoms(use_true_random=True), st.sampled_from(["urlsafe", "hex"]))
def test_random_tokens_are_always_accepted(generator: random.Random, kind: str) -> None:
    raw = generator.randbytes(32)
    # secrets.token_urlsafe(32) and openssl rand -hex 32, from the same 32 random bytes.
    secret = base64.urlsafe_b64encode(raw).decode().rstrip("=") if kind == "urlsafe" else raw.hex()
    assert accepted(secret)
