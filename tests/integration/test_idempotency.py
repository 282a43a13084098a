"""Idempotency-Key: a retried write replays its first answer, once, and never stores a secret."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from agentkeys import cpu
from agentkeys.cli import retention as retention_cli
from agentkeys.cli.main import app as cli
from agentkeys.clock import FrozenClock
from agentkeys.config import Settings
from agentkeys.credentials.service import CredentialService
from agentkeys.idempotency.service import Claimed, IdempotencyService, InProgress, Outcome
from tests.support.admin import create_admin_key
from tests.support.app import TEST_SECRET, AppFactory, client_for
from tests.support.assertions import assert_envelope, field_names
from tests.support.databases import DatabaseProbe
from tests.support.factories import SEED_REQUEST, credential_request, key_with

ISSUE = "/v1/agent-credentials"
HEADER = "Idempotency-Key"
KEY = "6c1a4f8e-3b0d-4d5e-9a57-0f7c2e1b9d44"


async def post(
    client: httpx.AsyncClient,
    path: str,
    body: dict[str, Any],
    *,
    key: str | bytes | None = KEY,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent: dict[str, Any] = {**(headers or {})}
    if key is not None:
        sent[HEADER] = key
    return await client.post(path, json=body, headers=sent)


async def count(db: DatabaseProbe, table: str) -> int:
    rows = await db.rows(f"SELECT count(*) AS n FROM {table}")  # noqa: S608 - our own table names
    return int(rows[0]["n"])


def replayed(response: httpx.Response) -> bool:
    return bool(response.headers.get("Idempotent-Replayed") == "true")


@pytest.mark.both_backends  # the claim's unique constraint, the stored answers
class TestIssuanceReplay:
    async def test_a_retry_after_a_lost_answer_gets_the_same_credential_counted_once(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        await post(client, ISSUE, SEED_REQUEST)  # the answer is lost on its way back

        retry = await post(client, ISSUE, SEED_REQUEST)

        assert retry.status_code == 200
        assert replayed(retry)
        assert retry.json()["outcome"] == "issued"
        assert retry.headers["Cache-Control"] == "no-store"
        # One decision in the ledger, one credential: the retry did no work, spent no quota.
        assert await count(db, "credential_requests") == 1
        credentials = await db.rows("SELECT id FROM credentials")
        assert [row["id"] for row in credentials] == [retry.json()["credential_id"]]

    async def test_the_replay_is_the_first_answer_byte_for_byte(
        self, client: httpx.AsyncClient
    ) -> None:
        first = await post(client, ISSUE, SEED_REQUEST)
        retry = await post(client, ISSUE, SEED_REQUEST)

        assert not replayed(first)
        assert retry.content == first.content
        assert retry.json()["credential"] == first.json()["credential"]

    async def test_the_quoted_and_the_bare_forms_are_one_key(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        first = await post(client, ISSUE, SEED_REQUEST, key=f'"{KEY}"')
        retry = await post(client, ISSUE, SEED_REQUEST, key=KEY)

        assert replayed(retry)
        assert retry.json()["credential_id"] == first.json()["credential_id"]
        assert await count(db, "credential_requests") == 1

    async def test_another_key_is_another_request(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        first = await post(client, ISSUE, SEED_REQUEST, key="first")
        second = await post(client, ISSUE, SEED_REQUEST, key="second")

        assert not replayed(second)
        assert second.json()["credential_id"] != first.json()["credential_id"]
        assert await count(db, "credential_requests") == 2

    async def test_without_the_header_nothing_is_remembered(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        await post(client, ISSUE, SEED_REQUEST, key=None)
        again = await post(client, ISSUE, SEED_REQUEST, key=None)

        assert not replayed(again)
        assert await count(db, "credential_requests") == 2
        assert await count(db, "idempotency_keys") == 0

    async def test_the_same_key_with_another_body_is_refused_naming_the_header(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        await post(client, ISSUE, SEED_REQUEST)

        other = await post(client, ISSUE, credential_request(user_name="Someone Else"))

        envelope = assert_envelope(other, status=422, code="VALIDATION_FAILED")
        assert field_names(envelope) == [HEADER]
        assert await count(db, "credential_requests") == 1

    async def test_a_client_error_is_replayed_too(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        body = credential_request(requested_ttl_seconds="soon")
        first = await post(client, ISSUE, body)
        retry = await post(client, ISSUE, body)

        assert first.status_code == retry.status_code == 400
        assert replayed(retry)
        assert retry.json() == first.json()
        assert await count(db, "idempotency_keys") == 1

    async def test_after_24_hours_the_key_is_forgotten(
        self, client: httpx.AsyncClient, db: DatabaseProbe, clock: FrozenClock
    ) -> None:
        first = await post(client, ISSUE, SEED_REQUEST)
        clock.advance(timedelta(hours=23, minutes=59))
        within = await post(client, ISSUE, SEED_REQUEST)
        clock.advance(timedelta(minutes=1))  # 24 h since the first

        after = await post(client, ISSUE, SEED_REQUEST)

        assert replayed(within)
        assert not replayed(after)
        assert after.json()["credential_id"] != first.json()["credential_id"]
        assert await count(db, "credential_requests") == 2

    async def test_another_network_with_the_same_key_is_another_caller(
        self, make_app: AppFactory, db: DatabaseProbe
    ) -> None:
        app = make_app()
        async with client_for(app, client_address="198.51.100.7") as one:
            first = await post(one, ISSUE, SEED_REQUEST)
        async with client_for(app, client_address="192.0.2.9") as other:
            theirs = await post(other, ISSUE, credential_request(user_email="x@example.com"))

        assert not replayed(theirs)
        assert theirs.json()["credential_id"] != first.json()["credential_id"]
        assert await count(db, "credential_requests") == 2


class TestServerErrorsAreNotStored:
    async def test_a_retry_after_a_503_runs_again(
        self, client: httpx.AsyncClient, db: DatabaseProbe, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        real = CredentialService.request_credential

        async def busy_once(self: CredentialService, *args: Any, **kwargs: Any) -> Any:
            monkeypatch.setattr(CredentialService, "request_credential", real)
            raise cpu.busy()

        monkeypatch.setattr(CredentialService, "request_credential", busy_once)

        first = await post(client, ISSUE, SEED_REQUEST)
        retry = await post(client, ISSUE, SEED_REQUEST)

        assert first.status_code == 503
        assert retry.status_code == 200
        assert not replayed(retry)
        assert retry.json()["outcome"] == "issued"
        assert await count(db, "credentials") == 1

    async def test_a_retry_after_an_unexpected_error_runs_again(
        self, client: httpx.AsyncClient, db: DatabaseProbe, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        real = CredentialService.request_credential

        async def fail_once(self: CredentialService, *args: Any, **kwargs: Any) -> Any:
            monkeypatch.setattr(CredentialService, "request_credential", real)
            raise RuntimeError("boom")

        monkeypatch.setattr(CredentialService, "request_credential", fail_once)

        first = await post(client, ISSUE, SEED_REQUEST)
        retry = await post(client, ISSUE, SEED_REQUEST)

        assert_envelope(first, status=500, code="INTERNAL_ERROR")
        assert retry.status_code == 200
        assert not replayed(retry)
        assert await count(db, "credentials") == 1
        assert await count(db, "idempotency_keys") == 1


@pytest.mark.both_backends  # the INSERT race on the unique constraint
class TestConcurrency:
    async def test_fifty_simultaneous_requests_make_one_decision_and_one_credential(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        answers = await asyncio.gather(*(post(client, ISSUE, SEED_REQUEST) for _ in range(50)))

        statuses = sorted({answer.status_code for answer in answers})
        assert set(statuses) <= {200, 409}
        done = [answer for answer in answers if answer.status_code == 200]
        assert len([answer for answer in done if not replayed(answer)]) == 1
        assert {answer.json()["credential_id"] for answer in done} == {
            done[0].json()["credential_id"]
        }
        for waiting in (answer for answer in answers if answer.status_code == 409):
            assert_envelope(waiting, status=409, code="CONFLICT")
            assert int(waiting.headers["Retry-After"]) >= 1
        assert await count(db, "credential_requests") == 1
        assert await count(db, "credentials") == 1
        # Whoever waited gets the answer on its retry.
        retry = await post(client, ISSUE, SEED_REQUEST)
        assert replayed(retry)
        assert retry.json()["credential_id"] == done[0].json()["credential_id"]


@pytest.mark.both_backends  # stored data
class TestNoSecretStored:
    async def test_neither_the_issued_key_nor_the_idempotency_key_is_stored_in_the_clear(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        issued = (await post(client, ISSUE, SEED_REQUEST)).json()
        secret = issued["credential"]

        assert await count(db, "idempotency_keys") == 1
        assert not await db.holds(secret)
        assert not await db.holds(secret.encode().hex())
        assert not await db.holds(KEY)
        # The replay opens with the key: the stored answer is there, sealed.
        assert (await post(client, ISSUE, SEED_REQUEST)).json()["credential"] == secret


class TestHeaderFormat:
    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("", id="empty"),
            pytest.param('""', id="quoted-empty"),
            pytest.param("k" * 256, id="256-characters"),
            pytest.param('"' + "k" * 256 + '"', id="quoted-256-characters"),
            pytest.param('ab"cd', id="quote-inside"),
            pytest.param('"', id="lone-quote"),
            pytest.param("key\x7f", id="delete-character"),
            pytest.param("clé".encode(), id="not-ascii"),
        ],
    )
    async def test_a_malformed_key_is_refused_naming_the_header(
        self, client: httpx.AsyncClient, db: DatabaseProbe, value: str | bytes
    ) -> None:
        response = await post(client, ISSUE, SEED_REQUEST, key=value)

        envelope = assert_envelope(response, status=400, code="VALIDATION_FAILED")
        assert field_names(envelope) == [HEADER]
        assert await count(db, "credential_requests") == 0

    async def test_the_header_sent_twice_is_refused(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        response = await client.post(
            ISSUE, json=SEED_REQUEST, headers=[(HEADER, "one"), (HEADER, "two")]
        )

        envelope = assert_envelope(response, status=400, code="VALIDATION_FAILED")
        assert field_names(envelope) == [HEADER]
        assert await count(db, "credential_requests") == 0

    @pytest.mark.parametrize(
        "value",
        [
            pytest.param("k", id="one-character"),
            pytest.param("k" * 255, id="255-characters"),
            pytest.param('"' + "k" * 255 + '"', id="quoted-255"),
            pytest.param(" !~{}", id="space-and-punctuation"),
        ],
    )
    async def test_a_well_formed_key_is_accepted(
        self, client: httpx.AsyncClient, value: str
    ) -> None:
        response = await post(client, ISSUE, SEED_REQUEST, key=value)

        assert response.status_code == 200
        assert response.json()["outcome"] == "issued"


@pytest.mark.both_backends  # revocations and homes stored
class TestOtherRoutes:
    async def test_a_retried_revocation_replays_the_first(self, client: httpx.AsyncClient) -> None:
        headers = await key_with(client, "homes")
        own = (await client.get("/v1/agent-credentials/self", headers=headers)).json()
        path = f"{ISSUE}/{own['credential_id']}/revoke"

        first = await post(client, path, {"reason": "done"}, headers=headers)
        retry = await post(client, path, {"reason": "done"}, headers=headers)

        assert first.status_code == retry.status_code == 200
        assert replayed(retry)
        assert retry.json() == first.json()

    async def test_one_key_cannot_revoke_two_credentials(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        _, admin = await create_admin_key(settings, "ops")
        bearer = {"Authorization": f"Bearer {admin}"}
        first_key = await key_with(client, "homes", organization="First Co")
        second_key = await key_with(client, "homes", organization="Second Co")
        ids = [
            (await client.get(f"{ISSUE}/self", headers=h)).json()["credential_id"]
            for h in (first_key, second_key)
        ]

        await post(client, f"{ISSUE}/{ids[0]}/revoke", {}, headers=bearer)
        other = await post(client, f"{ISSUE}/{ids[1]}/revoke", {}, headers=bearer)

        assert_envelope(other, status=422, code="VALIDATION_FAILED")
        still = await client.get(f"{ISSUE}/self", headers=second_key)
        assert still.status_code == 200

    async def test_a_retried_home_creation_makes_one_home(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        headers = await key_with(client, "homes")
        body = {"name": "My Test Home"}

        first = await post(client, "/v1/homes/create", body, headers=headers)
        retry = await post(client, "/v1/homes/create", body, headers=headers)

        assert first.status_code == retry.status_code == 201
        assert replayed(retry)
        assert retry.json()["id"] == first.json()["id"]
        assert await count(db, "homes") == 1

    async def test_another_credential_with_the_same_key_creates_its_own_home(
        self, client: httpx.AsyncClient, db: DatabaseProbe
    ) -> None:
        mine = await key_with(client, "homes", organization="First Co")
        theirs = await key_with(client, "homes", organization="Second Co")
        body = {"name": "My Test Home"}

        first = await post(client, "/v1/homes/create", body, headers=mine)
        other = await post(client, "/v1/homes/create", body, headers=theirs)

        assert not replayed(other)
        assert other.json()["id"] != first.json()["id"]
        assert await count(db, "homes") == 2

    async def test_a_retried_admin_revocation_replays_the_first(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        _, admin = await create_admin_key(settings, "ops")
        bearer = {"Authorization": f"Bearer {admin}"}
        holder = await key_with(client, "homes")
        own = (await client.get(f"{ISSUE}/self", headers=holder)).json()
        path = f"/v1/admin/credentials/{own['credential_id']}/revoke"

        first = await post(client, path, {"reason": "leaked"}, headers=bearer)
        retry = await post(client, path, {"reason": "leaked"}, headers=bearer)

        assert first.status_code == retry.status_code == 200
        assert replayed(retry)
        assert retry.json() == first.json()

    async def test_a_retried_bulk_revocation_replays_the_first(
        self, client: httpx.AsyncClient, settings: Settings
    ) -> None:
        _, admin = await create_admin_key(settings, "ops")
        bearer = {"Authorization": f"Bearer {admin}"}
        await key_with(client, "homes", organization="Leaky Co")
        body = {"organization": "Leaky Co", "reason": "leaked"}

        first = await post(client, "/v1/admin/credentials/revoke", body, headers=bearer)
        retry = await post(client, "/v1/admin/credentials/revoke", body, headers=bearer)

        assert first.status_code == 200
        assert replayed(retry)
        assert retry.json() == first.json()


def prune(database_url: str) -> Result:
    environment = {
        "AGENTKEYS_MODE": "production",
        "AGENTKEYS_SECRET": TEST_SECRET,
        "AGENTKEYS_DATABASE_URL": database_url,
    }
    return CliRunner().invoke(cli, ["db", "prune", "--json"], env=environment)


@pytest.mark.both_backends  # deletes
class TestPurge:
    async def test_prune_deletes_the_keys_past_24_hours_only(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        clock: FrozenClock,
        db: DatabaseProbe,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(retention_cli, "clock", clock)
        await post(client, ISSUE, SEED_REQUEST, key="old")
        clock.advance(timedelta(hours=12))
        await post(client, ISSUE, credential_request(user_email="b@example.com"), key="new")
        clock.advance(timedelta(hours=12))  # "old" is 24 h old, "new" 12 h

        result = await asyncio.to_thread(prune, settings.database_url)

        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["removed"]["idempotency_keys"] == 1
        assert await count(db, "idempotency_keys") == 1

    async def test_the_sweep_deletes_the_keys_past_24_hours(
        self, make_app: AppFactory, clock: FrozenClock, db: DatabaseProbe
    ) -> None:
        app: FastAPI = make_app()
        async with client_for(app) as client:
            await post(client, ISSUE, SEED_REQUEST)
            clock.advance(timedelta(hours=24))

            assert await app.state.idempotency.purge() == 1

        assert await count(db, "idempotency_keys") == 0


class TestDescribed:
    async def test_the_four_writes_document_the_header_and_its_answers(
        self, client: httpx.AsyncClient
    ) -> None:
        document = (await client.get("/openapi.json")).json()
        operations = {
            ("/v1/agent-credentials", "post"),
            ("/v1/agent-credentials/{credentialId}/revoke", "post"),
            ("/v1/homes/create", "post"),
            ("/v1/admin/credentials/revoke", "post"),
            ("/v1/admin/credentials/{credentialId}/revoke", "post"),
        }
        for path, method in operations:
            operation = document["paths"][path][method]
            headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
            assert HEADER in headers, path
            assert {"409", "422"} <= set(operation["responses"]), path
        homes_list = document["paths"]["/v1/homes/list"]
        assert all(
            HEADER not in [p["name"] for p in operation.get("parameters", [])]
            for operation in homes_list.values()
        )


@pytest.mark.both_backends  # the running row and its takeover
class TestAbandonedClaims:
    async def test_a_claim_whose_process_died_is_taken_over_after_five_minutes(
        self, make_app: AppFactory, clock: FrozenClock
    ) -> None:
        app: FastAPI = make_app()
        service: IdempotencyService = app.state.idempotency

        async def claim() -> Outcome:
            return await service.begin(
                caller="net:192.0.2.0/24", route="POST /x", key="k", body=b"{}"
            )

        async with client_for(app):
            first = await claim()  # never finished: its process died
            clock.advance(timedelta(minutes=4, seconds=59))
            meanwhile = await claim()
            clock.advance(timedelta(seconds=1))  # five minutes since the claim
            later = await claim()

        assert isinstance(first, Claimed)
        assert isinstance(meanwhile, InProgress)
        assert isinstance(later, Claimed)
        assert later.record_id != first.record_id
