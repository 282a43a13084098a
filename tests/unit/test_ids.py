"""Random identifiers and key material: base62 drawn uniformly from the CSPRNG."""

from __future__ import annotations

import collections
import secrets
from collections.abc import Iterator

import pytest

from agentkeys.ids import BASE62_ALPHABET, random_base62


def supplying(monkeypatch: pytest.MonkeyPatch, *batches: bytes) -> list[int]:
    """``secrets.token_bytes`` answering ``batches`` in turn; returns the sizes asked for."""
    asked: list[int] = []
    pending: Iterator[bytes] = iter(batches)

    def token_bytes(size: int) -> bytes:
        asked.append(size)
        return next(pending)[:size]

    monkeypatch.setattr(secrets, "token_bytes", token_bytes)
    return asked


class TestRandomBase62:
    def test_draws_the_length_asked_from_the_alphabet(self) -> None:
        drawn = random_base62(43)

        assert len(drawn) == 43
        assert set(drawn) <= set(BASE62_ALPHABET)

    def test_bytes_that_would_bias_the_draw_are_dropped_not_folded_in(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # 250 % 62 == 2: folded in, "2" would come up 5 times in 256 instead of 4.
        asked = supplying(monkeypatch, b"\xfa\x05" * 64, b"\x05" * 64)

        drawn = random_base62(22)

        assert drawn == "5" * 22
        assert len(asked) == 2  # the first batch held too few usable bytes

    def test_every_character_is_drawn_from_exactly_four_byte_values(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        usable = [value for value in range(256) if value < 248]
        drawn = [random_base62_of(monkeypatch, value) for value in usable]

        assert collections.Counter(drawn) == dict.fromkeys(BASE62_ALPHABET, 4)

    def test_two_draws_differ(self) -> None:
        assert random_base62(43) != random_base62(43)

    def test_the_source_is_the_csprng(self, monkeypatch: pytest.MonkeyPatch) -> None:
        asked = supplying(monkeypatch, secrets.token_bytes(64))

        random_base62(43)

        assert asked


def random_base62_of(monkeypatch: pytest.MonkeyPatch, value: int) -> str:
    supplying(monkeypatch, bytes([value]) * 16)
    return random_base62(1)
