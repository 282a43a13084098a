"""JSON columns are stored as UTF-8 text without ASCII escapes, on both backends, and a
non-finite number never reaches them."""

from __future__ import annotations

import math

import httpx
import pytest

from agentkeys.db.engine import json_dumps
from tests.support.databases import DatabaseProbe
from tests.support.factories import SEED_REQUEST

# JSON columns as each driver writes and reads them.
pytestmark = pytest.mark.both_backends

EMOJI = "🔋⚡🏠"


async def test_text_is_stored_as_written(client: httpx.AsyncClient, db: DatabaseProbe) -> None:
    assignment = f"{SEED_REQUEST['assignment']} {EMOJI * 100} Zoë"

    issued = await client.post(
        "/v1/agent-credentials", json={**SEED_REQUEST, "assignment": assignment}
    )

    assert issued.status_code == 200, issued.text
    [row] = await db.rows("SELECT CAST(request AS TEXT) AS raw FROM credential_requests")
    raw = row["raw"]
    assert EMOJI * 100 in raw
    assert "Zoë" in raw
    assert "\\u" not in raw
    # 3 emoji x 100 as UTF-8 (4 + 3 + 4 bytes), not 6-12 bytes of escapes each.
    assert len(raw.encode()) < len(json_dumps(SEED_REQUEST).encode()) + 1100 + 100


@pytest.mark.parametrize("number", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(number: float) -> None:
    with pytest.raises(ValueError, match="JSON compliant"):
        json_dumps({"evidence": [1, {"value": number}]})


def test_compact_and_unescaped() -> None:
    assert json_dumps({"a": [1, "é🔋"]}) == '{"a":[1,"é🔋"]}'
