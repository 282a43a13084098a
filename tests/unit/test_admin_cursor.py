"""Admin listing cursors: opaque, signed, and refused after any change at all."""

from __future__ import annotations

import string
from datetime import UTC, datetime

import pytest

from agentkeys.admin.service import CursorCodec
from agentkeys.credentials.repository import Position
from agentkeys.errors import ValidationFailed
from tests.support.app import TEST_SECRET

CODEC = CursorCodec(TEST_SECRET.encode())
ALPHABET = string.ascii_letters + string.digits + "-_."


@pytest.mark.parametrize(
    "credential_id", ["ws_agent_cred_A", "ws_agent_cred_AB", "ws_agent_cred_ABC"]
)
def test_a_cursor_reads_back_as_its_position(credential_id: str) -> None:
    position = Position(
        created_at=datetime(2026, 3, 1, 12, 0, 0, 123000, tzinfo=UTC), credential_id=credential_id
    )

    assert CODEC.decode(CODEC.encode(position)) == position


@pytest.mark.parametrize(
    "credential_id", ["ws_agent_cred_A", "ws_agent_cred_AB", "ws_agent_cred_ABC"]
)
def test_every_one_character_change_is_refused(credential_id: str) -> None:
    """Every position, every other character: three id lengths put the payload's and the
    signature's last characters on every base64 boundary (unused low bits included)."""
    cursor = CODEC.encode(
        Position(created_at=datetime(2026, 3, 1, tzinfo=UTC), credential_id=credential_id)
    )
    accepted = []
    for index, original in enumerate(cursor):
        for replacement in ALPHABET:
            if replacement == original:
                continue
            altered = cursor[:index] + replacement + cursor[index + 1 :]
            try:
                CODEC.decode(altered)
            except ValidationFailed:
                continue
            accepted.append(altered)

    assert accepted == []
