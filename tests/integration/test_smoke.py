"""The README flow through HTTP on a real database (each backend the suite runs on)."""

from __future__ import annotations

import httpx
import pytest

from tests.support.assertions import assert_envelope
from tests.support.factories import issue_credential, key_header

# The README flow on each backend the service supports.
pytestmark = pytest.mark.both_backends


async def test_issued_key_introspects_is_refused_out_of_scope_and_dies_on_revocation(
    client: httpx.AsyncClient,
) -> None:
    issued = await issue_credential(client)
    headers = key_header(issued["credential"])

    me = await client.get("/v1/agent-credentials/self", headers=headers)
    assert me.status_code == 200
    assert me.json()["credential_id"] == issued["credential_id"]

    feedback = await client.post(
        "/v1/feedback", headers=headers, json={"name": "A", "message": "m"}
    )
    assert_envelope(feedback, status=403, code="AUTH_INSUFFICIENT_SCOPE")

    revoked = await client.post(issued["revocation_path"], headers=headers)
    assert revoked.status_code == 200
    assert revoked.json()["outcome"] == "revoked"

    refused = await client.get("/v1/agent-credentials/self", headers=headers)
    assert_envelope(refused, status=401, code="AUTH_REVOKED_CREDENTIAL")
