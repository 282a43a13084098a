"""Webhooks end to end on both backends: the admin API (roles, the secret shown once), events
written with their cause, delivery to a real HTTP receiver verifying Standard Webhooks
signatures, retries on Svix's schedule (a frozen clock, no waiting), 410 and redirects, secret
rotation, the test event, the expiry sweep, and the SSRF refusals."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from standardwebhooks.webhooks import Webhook

from agentkeys.clock import FrozenClock
from agentkeys.config import Settings
from agentkeys.credentials.cache import KeyCaches
from agentkeys.credentials.identity import AdminRole
from agentkeys.credentials.revocations import LocalRevocationBus
from agentkeys.credentials.service import CredentialAdministration
from agentkeys.db.engine import create_engine, create_session_factory
from agentkeys.webhooks.delivery import WebhookDelivery
from agentkeys.webhooks.ssrf import (
    Destination,
    RefusedDestination,
    address_problem,
    parse_destination,
    resolve_checked,
)
from tests.support.admin import create_admin_key
from tests.support.app import AppFactory, client_for
from tests.support.assertions import assert_envelope, assert_validation_failed
from tests.support.databases import DatabaseProbe
from tests.support.factories import issue_credential, key_header, request_credential
from tests.support.waiting import until
from tests.support.webhooks import Receiver, running_receiver

pytestmark = pytest.mark.both_backends

HOOKS = "/v1/admin/webhooks"
CREATE = "/v1/admin/webhooks"
ALL_EVENTS = [
    "credential.issued",
    "credential.denied",
    "credential.revoked",
    "credential.leaked",
    "credential.expired",
]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def clock() -> FrozenClock:
    # Real time: receivers check webhook-timestamp within 5 minutes of their own clock.
    return FrozenClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def app(make_app: AppFactory) -> FastAPI:
    # The worker is driven by the tests (run_once), never by its background loop.
    return make_app(webhooks_allow_private=True, webhooks_deliver=False)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as http:
        yield http


@pytest.fixture
async def admin(settings: Settings) -> dict[str, str]:
    return bearer((await create_admin_key(settings, "ops"))[1])


@pytest.fixture
async def viewer(settings: Settings) -> dict[str, str]:
    return bearer((await create_admin_key(settings, "auditor", AdminRole.VIEWER))[1])


def worker(app: FastAPI) -> WebhookDelivery:
    delivery: WebhookDelivery = app.state.webhooks.delivery
    return delivery


async def create_endpoint(
    client: httpx.AsyncClient, admin: dict[str, str], url: str, events: list[str] | None = None
) -> dict[str, Any]:
    answer = await client.post(
        CREATE,
        json={"url": url, "events": events or ALL_EVENTS, "description": "ops"},
        headers=admin,
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def verified(received: Any, secret: str) -> dict[str, Any]:
    """The body, once standardwebhooks has checked its signature and timestamp."""
    payload: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return payload


class TestAdminApi:
    async def test_the_secret_is_shown_once_and_never_listed(
        self, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
    ) -> None:
        created = await create_endpoint(client, admin, receiver.url)
        assert created["secret"].startswith("whsec_")
        assert created["enabled"] is True
        assert created["events"] == sorted(ALL_EVENTS)
        listed = (await client.get(HOOKS, headers=admin)).json()["items"]
        shown = (await client.get(f"{HOOKS}/{created['endpoint_id']}", headers=admin)).json()
        assert [item["endpoint_id"] for item in listed] == [created["endpoint_id"]]
        for answer in (listed[0], shown):
            assert "secret" not in answer
            assert created["secret"] not in json.dumps(answer)

    async def test_the_secret_is_stored_sealed_and_never_logged(
        self,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        receiver: Receiver,
        db: DatabaseProbe,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        created = await create_endpoint(client, admin, receiver.url)
        rotated = (
            await client.post(f"{HOOKS}/{created['endpoint_id']}/rotate-secret", headers=admin)
        ).json()
        for secret in (created["secret"], rotated["secret"]):
            random_part = secret.removeprefix("whsec_")
            assert not await db.holds(random_part)
            assert random_part not in caplog.text

    async def test_no_key_is_401_and_a_viewer_reads_but_may_not_change(
        self,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        viewer: dict[str, str],
        receiver: Receiver,
    ) -> None:
        assert_envelope(await client.get(HOOKS), status=401, code="AUTH_MISSING_API_KEY")
        created = await create_endpoint(client, admin, receiver.url)
        one = f"{HOOKS}/{created['endpoint_id']}"
        assert (await client.get(HOOKS, headers=viewer)).status_code == 200
        assert (await client.get(one, headers=viewer)).status_code == 200
        assert (await client.get(f"{one}/attempts", headers=viewer)).status_code == 200
        for method, path, body in (
            ("POST", CREATE, {"url": receiver.url, "events": ALL_EVENTS}),
            ("POST", f"{one}/update", {"description": "mine"}),
            ("POST", f"{one}/disable", None),
            ("POST", f"{one}/rotate-secret", None),
            ("POST", f"{one}/test", None),
            ("POST", f"{one}/delete", None),
        ):
            answer = await client.request(method, path, json=body, headers=viewer)
            assert_envelope(answer, status=403, code="FORBIDDEN")

    async def test_an_agent_key_is_refused(self, client: httpx.AsyncClient) -> None:
        agent_key = (await issue_credential(client))["credential"]
        answer = await client.get(HOOKS, headers=key_header(agent_key))
        assert_envelope(answer, status=403, code="FORBIDDEN")

    async def test_update_disable_and_delete(
        self, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
    ) -> None:
        created = await create_endpoint(client, admin, receiver.url)
        one = f"{HOOKS}/{created['endpoint_id']}"
        updated = await client.post(
            f"{one}/update",
            json={"events": ["credential.revoked"], "description": "revocations"},
            headers=admin,
        )
        assert updated.json()["events"] == ["credential.revoked"]
        assert updated.json()["description"] == "revocations"
        disabled = (await client.post(f"{one}/disable", headers=admin)).json()
        assert (disabled["enabled"], disabled["disabled_reason"]) == (False, "admin")
        enabled = (await client.post(f"{one}/update", json={"enabled": True}, headers=admin)).json()
        assert (enabled["enabled"], enabled["disabled_reason"]) == (True, None)
        assert (await client.post(f"{one}/delete", headers=admin)).status_code == 204
        assert_envelope(await client.get(one, headers=admin), status=404, code="NOT_FOUND")

    async def test_unknown_events_and_blank_urls_are_refused(
        self, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
    ) -> None:
        for body, field in (
            ({"url": receiver.url, "events": ["credential.stolen"]}, "events[0]"),
            ({"url": receiver.url, "events": []}, "events"),
            ({"url": " ", "events": ALL_EVENTS}, "url"),
        ):
            assert_validation_failed(await client.post(CREATE, json=body, headers=admin), field)


class TestSsrfRefusals:
    @pytest.mark.parametrize(
        "url",
        [
            pytest.param("http://example.com/hook", id="http-scheme"),
            pytest.param("https://10.1.2.3/hook", id="private"),
            pytest.param("https://192.168.0.10/hook", id="private-192"),
            pytest.param("https://127.0.0.1/hook", id="loopback"),
            pytest.param("https://[::1]/hook", id="loopback-v6"),
            pytest.param("https://169.254.10.1/hook", id="link-local"),
            pytest.param("https://169.254.169.254/latest/meta-data", id="metadata"),
            pytest.param("https://[::ffff:10.0.0.1]/hook", id="mapped-private"),
            pytest.param("https://224.0.0.1/hook", id="multicast"),
            pytest.param("ftp://example.com/hook", id="ftp-scheme"),
            pytest.param("https://user:pw@example.com/hook", id="credentials-in-url"),
        ],
    )
    async def test_the_admin_api_refuses_a_url_webhooks_may_not_go_to(
        self, make_app: AppFactory, admin: dict[str, str], url: str
    ) -> None:
        async with client_for(make_app(webhooks_deliver=False)) as client:
            answer = await client.post(
                CREATE, json={"url": url, "events": ALL_EVENTS}, headers=admin
            )
        assert_validation_failed(answer, "url")

    @pytest.mark.parametrize(
        ("address", "problem"),
        [
            ("10.0.0.1", "a private address"),
            ("127.0.0.1", "a loopback address"),
            ("169.254.169.254", "a cloud metadata address"),
            ("fe80::1", "a link-local address"),
            ("ff02::1", "a multicast address"),
            ("0.0.0.0", "an unspecified address"),  # noqa: S104 - the address refused
            ("240.0.0.1", "a reserved address"),
            ("100.64.0.1", "not a public address"),
            ("::ffff:127.0.0.1", "a loopback address"),
        ],
    )
    def test_each_non_public_address_is_named(self, address: str, problem: str) -> None:
        assert address_problem(ipaddress.ip_address(address)) == problem

    def test_a_public_address_passes(self) -> None:
        assert address_problem(ipaddress.ip_address("93.184.215.14")) is None
        assert address_problem(ipaddress.ip_address("2606:4700::1111")) is None

    async def test_a_host_name_resolving_to_a_private_address_is_refused(self) -> None:
        destination = parse_destination("https://localhost/hook", allow_private=False)
        with pytest.raises(RefusedDestination, match="resolves to a loopback address"):
            await resolve_checked(destination, allow_private=False)

    async def test_allow_private_accepts_http_and_loopback(self) -> None:
        destination = parse_destination("http://localhost:8080/hook", allow_private=True)
        assert destination == Destination(
            url="http://localhost:8080/hook", scheme="http", host="localhost", port=8080
        )
        assert (await resolve_checked(destination, allow_private=True)).is_loopback

    async def test_delivery_refuses_an_endpoint_resolving_to_a_private_address(
        self,
        make_app: AppFactory,
        settings: Settings,
        admin: dict[str, str],
        receiver: Receiver,
    ) -> None:
        """An endpoint accepted earlier (created while private addresses were allowed): the
        address is checked again when sending, and nothing is sent."""
        async with client_for(
            make_app(webhooks_allow_private=True, webhooks_deliver=False)
        ) as client:
            created = await create_endpoint(
                client, admin, receiver.url.replace("127.0.0.1", "localhost")
            )
        strict = make_app(webhooks_allow_private=False, webhooks_deliver=False)
        async with client_for(strict) as client:
            await issue_credential(client)
            assert await worker(strict).run_once() == 1
            attempts = (
                await client.get(f"{HOOKS}/{created['endpoint_id']}/attempts", headers=admin)
            ).json()["items"]
        assert receiver.received == []
        assert len(attempts) == 1
        assert attempts[0]["succeeded"] is False
        assert attempts[0]["status_code"] is None
        assert "refused" in attempts[0]["error"]


class TestDelivery:
    async def test_an_issuance_is_delivered_signed_without_the_key(
        self, app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
    ) -> None:
        created = await create_endpoint(client, admin, receiver.url)
        issued = await issue_credential(client, organization_name="Acme Solar")
        assert await worker(app).run_once() == 1
        assert len(receiver.received) == 1
        received = receiver.received[0]
        event = verified(received, created["secret"])
        assert event["type"] == "credential.issued"
        assert event["data"]["credential_id"] == issued["credential_id"]
        assert event["data"]["organization"] == "Acme Solar"
        assert event["data"]["scopes"] == issued["scopes"]
        assert issued["credential"] not in received.body.decode()
        assert received.headers["webhook-id"].startswith("msg_")

    async def test_a_denial_names_its_reason(
        self, app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
    ) -> None:
        created = await create_endpoint(client, admin, receiver.url, ["credential.denied"])
        await issue_credential(client)  # not subscribed: no message
        answer = await request_credential(client, requested_scopes=["homes", "admin"])
        assert answer.json()["outcome"] == "needs_more_info"
        assert await worker(app).run_once() == 1
        event = verified(receiver.received[0], created["secret"])
        assert event["type"] == "credential.denied"
        assert event["data"]["reason"] == "needs_more_info"
        assert event["data"]["credential_request_id"] == answer.json()["credential_request_id"]

    async def test_a_revocation_names_its_actor(
        self, app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
    ) -> None:
        created = await create_endpoint(client, admin, receiver.url, ["credential.revoked"])
        issued = await issue_credential(client)
        revoked = await client.post(
            f"/v1/agent-credentials/{issued['credential_id']}/revoke",
            json={"reason": "done"},
            headers=key_header(issued["credential"]),
        )
        assert revoked.status_code == 200, revoked.text
        await client.post(
            f"/v1/admin/credentials/{issued['credential_id']}/revoke",
            json={"reason": "again"},
            headers=admin,
        )
        assert await worker(app).run_once() == 1  # revoked once: one event
        event = verified(receiver.received[0], created["secret"])
        assert event["type"] == "credential.revoked"
        assert event["data"]["actor"] == "self"
        assert event["data"]["credential_id"] == issued["credential_id"]

    async def test_the_event_is_written_with_its_cause(
        self,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        receiver: Receiver,
        db: DatabaseProbe,
    ) -> None:
        await create_endpoint(client, admin, receiver.url)
        issued = await issue_credential(client)
        rows = await db.rows("SELECT event_type, status, payload FROM webhook_messages")
        assert [(row["event_type"], row["status"]) for row in rows] == [
            ("credential.issued", "pending")
        ]
        assert issued["credential_id"] in rows[0]["payload"]

    async def test_a_failing_receiver_is_retried_on_the_schedule_until_it_recovers(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        receiver: Receiver,
        clock: FrozenClock,
    ) -> None:
        created = await create_endpoint(client, admin, receiver.url)
        receiver.answer(500, 503)
        await issue_credential(client)
        assert await worker(app).run_once() == 1  # attempt 1, immediately: 500
        assert await worker(app).run_once() == 0  # attempt 2 is due 5 s later
        clock.advance(timedelta(seconds=5))
        assert await worker(app).run_once() == 1  # attempt 2: 503
        clock.advance(timedelta(minutes=4, seconds=59))
        assert await worker(app).run_once() == 0  # attempt 3 is due 5 min later
        clock.advance(timedelta(seconds=1))
        assert await worker(app).run_once() == 1  # attempt 3: 200
        clock.advance(timedelta(hours=11))
        assert await worker(app).run_once() == 0  # delivered: never again
        ids = {received.headers["webhook-id"] for received in receiver.received}
        assert len(receiver.received) == 3
        assert len(ids) == 1  # the same message each time
        attempts = (
            await client.get(f"{HOOKS}/{created['endpoint_id']}/attempts", headers=admin)
        ).json()["items"]
        assert [(a["status_code"], a["succeeded"]) for a in attempts] == [
            (200, True),
            (503, False),
            (500, False),
        ]

    async def test_a_message_is_given_up_after_the_eighth_attempt(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        receiver: Receiver,
        clock: FrozenClock,
        db: DatabaseProbe,
    ) -> None:
        await create_endpoint(client, admin, receiver.url)
        receiver.answer(*[500] * 8)
        await issue_credential(client)
        # 0 + 5 s + 5 min + 30 min + 2 h + 5 h + 10 h + 10 h: eight attempts over 27 h 35 min 5 s.
        for delay in (0, 5, 300, 1800, 7200, 18000, 36000, 36000):
            clock.advance(timedelta(seconds=delay))
            assert await worker(app).run_once() == 1
        clock.advance(timedelta(days=1))
        assert await worker(app).run_once() == 0
        rows = await db.rows("SELECT status, attempts FROM webhook_messages")
        assert [(row["status"], row["attempts"]) for row in rows] == [("failed", 8)]
        assert len(receiver.received) == 8

    async def test_410_disables_the_endpoint(
        self, app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
    ) -> None:
        created = await create_endpoint(client, admin, receiver.url)
        receiver.answer(410)
        await issue_credential(client)
        assert await worker(app).run_once() == 1
        shown = (await client.get(f"{HOOKS}/{created['endpoint_id']}", headers=admin)).json()
        assert (shown["enabled"], shown["disabled_reason"]) == (False, "gone")
        await issue_credential(client, organization_name="Other Co", user_email="o@example.com")
        assert await worker(app).run_once() == 0

    async def test_five_days_of_failures_disable_the_endpoint(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        receiver: Receiver,
        clock: FrozenClock,
    ) -> None:
        created = await create_endpoint(client, admin, receiver.url)
        receiver.answer(*[500] * 20)
        await issue_credential(client)
        assert await worker(app).run_once() == 1  # failing since now
        clock.advance(timedelta(days=5))
        await issue_credential(client, organization_name="Other Co", user_email="o@example.com")
        # The second message's first attempt (and the first's next) fail 5 days on: disabled.
        assert await worker(app).run_once() >= 1
        shown = (await client.get(f"{HOOKS}/{created['endpoint_id']}", headers=admin)).json()
        assert (shown["enabled"], shown["disabled_reason"]) == (False, "failing")

    async def test_a_redirect_is_a_failure_and_not_followed(
        self, app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
    ) -> None:
        created = await create_endpoint(client, admin, receiver.url)
        receiver.answer(302)
        await issue_credential(client)
        assert await worker(app).run_once() == 1
        assert [received.path for received in receiver.received] == ["/"]
        attempts = (
            await client.get(f"{HOOKS}/{created['endpoint_id']}/attempts", headers=admin)
        ).json()["items"]
        assert [(a["status_code"], a["succeeded"]) for a in attempts] == [(302, False)]

    async def test_a_rotation_signs_with_both_secrets_for_24_hours(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        receiver: Receiver,
        clock: FrozenClock,
    ) -> None:
        created = await create_endpoint(client, admin, receiver.url)
        rotated = (
            await client.post(f"{HOOKS}/{created['endpoint_id']}/rotate-secret", headers=admin)
        ).json()
        assert rotated["secret"] != created["secret"]
        await issue_credential(client)
        assert await worker(app).run_once() == 1
        both = receiver.received[0]
        assert len(both.headers["webhook-signature"].split(" ")) == 2
        verified(both, created["secret"])
        verified(both, rotated["secret"])
        clock.advance(timedelta(hours=24))
        await client.post(f"{HOOKS}/{created['endpoint_id']}/test", headers=admin)
        assert await worker(app).run_once() == 1
        one = receiver.received[1]
        signature = one.headers["webhook-signature"]
        timestamp = datetime.fromtimestamp(int(one.headers["webhook-timestamp"]), tz=UTC)
        body = one.body.decode()
        # Only the new secret's signature once 24 h have passed (computed by standardwebhooks).
        assert signature == Webhook(rotated["secret"]).sign(
            one.headers["webhook-id"], timestamp, body
        )

    async def test_the_test_event_reaches_only_its_endpoint(
        self, app: FastAPI, client: httpx.AsyncClient, admin: dict[str, str], receiver: Receiver
    ) -> None:
        created = await create_endpoint(client, admin, receiver.url, ["credential.revoked"])
        answer = await client.post(f"{HOOKS}/{created['endpoint_id']}/test", headers=admin)
        assert answer.status_code == 202
        assert await worker(app).run_once() == 1
        event = verified(receiver.received[0], created["secret"])
        assert event["type"] == "webhook.test"
        assert receiver.received[0].headers["webhook-id"] == answer.json()["message_id"]

    async def test_the_expiry_sweep_reports_each_expired_credential_once(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        receiver: Receiver,
        clock: FrozenClock,
    ) -> None:
        created = await create_endpoint(client, admin, receiver.url, ["credential.expired"])
        assert await worker(app).sweep_expired() == 0  # the first sweep starts the mark
        issued = await issue_credential(client, requested_ttl_seconds=3600)
        clock.advance(timedelta(minutes=59))
        assert await worker(app).sweep_expired() == 0
        clock.advance(timedelta(minutes=1))
        assert await worker(app).sweep_expired() == 1
        assert await worker(app).sweep_expired() == 0
        assert await worker(app).run_once() == 1
        # Received 60 minutes after the frozen start: checked by hand (the timestamp tolerance of
        # standardwebhooks' verify is 5 minutes of real time).
        received = receiver.received[0]
        timestamp = datetime.fromtimestamp(int(received.headers["webhook-timestamp"]), tz=UTC)
        assert received.headers["webhook-signature"] == Webhook(created["secret"]).sign(
            received.headers["webhook-id"], timestamp, received.body.decode()
        )
        event = json.loads(received.body)
        assert event["type"] == "credential.expired"
        assert event["data"]["credential_id"] == issued["credential_id"]


class TestWorkerInTheApp:
    async def test_a_message_pending_at_shutdown_is_delivered_after_a_restart(
        self, make_app: AppFactory, admin: dict[str, str], receiver: Receiver, db: DatabaseProbe
    ) -> None:
        """The first process queues and stops before delivering; the next one's worker, started
        by its lifespan, finds the message and delivers it."""
        first = make_app(webhooks_allow_private=True, webhooks_deliver=False)
        async with client_for(first) as client:
            created = await create_endpoint(client, admin, receiver.url)
            issued = await issue_credential(client)
        assert receiver.received == []
        restarted = make_app(
            webhooks_allow_private=True, webhooks_deliver=True, webhooks_poll_seconds=0.05
        )
        async with client_for(restarted):
            await until(lambda: len(receiver.received) == 1)
            await until_delivered(db)
        event = verified(receiver.received[0], created["secret"])
        assert event["data"]["credential_id"] == issued["credential_id"]


async def until_delivered(db: DatabaseProbe) -> None:
    """Until every message is recorded delivered (the receiver answers before the row is
    written)."""
    for _ in range(500):
        rows = await db.rows("SELECT status FROM webhook_messages")
        if rows and all(row["status"] == "delivered" for row in rows):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the message was never recorded delivered")


class TestOutboxTransaction:
    async def test_a_rolled_back_revocation_leaves_no_event_and_a_committed_leak_two(
        self,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        receiver: Receiver,
        settings: Settings,
        clock: FrozenClock,
        db: DatabaseProbe,
    ) -> None:
        """The message rows are in the revocation's own transaction: rolled back together. A
        revocation recorded as ``leak`` emits credential.revoked and credential.leaked."""
        await create_endpoint(
            client, admin, receiver.url, ["credential.revoked", "credential.leaked"]
        )
        issued = await issue_credential(client)
        engine = create_engine(settings.database_url)
        try:
            for commit in (False, True):
                async with create_session_factory(engine)() as session:
                    administration = CredentialAdministration(
                        session, clock=clock, revocations=LocalRevocationBus(KeyCaches())
                    )
                    await administration.revoke(issued["credential_id"], actor="leak", reason="r")
                    if commit:
                        await session.commit()
                    else:
                        await session.rollback()
                if not commit:
                    assert await db.rows("SELECT id FROM webhook_messages") == []
                    revoked = await db.rows(
                        "SELECT revoked_at FROM credentials WHERE id = :id",
                        id=issued["credential_id"],
                    )
                    assert revoked == [{"revoked_at": None}]
        finally:
            await engine.dispose()
        rows = await db.rows("SELECT event_type FROM webhook_messages ORDER BY event_type")
        assert [row["event_type"] for row in rows] == ["credential.leaked", "credential.revoked"]


class TestPinnedAddress:
    async def test_the_request_goes_to_the_address_checked_without_a_second_look_up(
        self,
        app: FastAPI,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """``hooks.invalid`` resolves once, to the receiver; any later look-up fails (as a DNS
        rebinding answer would differ). Delivered, with the URL's name as its Host."""
        port = receiver.url.rsplit(":", 1)[1]
        created = await create_endpoint(client, admin, f"http://hooks.invalid:{port}/in")
        look_ups: list[str] = []
        loop = asyncio.get_running_loop()

        async def resolve_once(host: str, *args: Any, **kwargs: Any) -> Any:
            look_ups.append(host)
            if len(look_ups) > 1:
                raise OSError("a second look-up")
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", int(port)))]

        monkeypatch.setattr(loop, "getaddrinfo", resolve_once)
        await issue_credential(client)
        assert await worker(app).run_once() == 1
        assert look_ups == ["hooks.invalid"]
        assert len(receiver.received) == 1
        assert receiver.received[0].headers["Host"] == f"hooks.invalid:{port}"
        assert receiver.received[0].path == "/in"
        verified(receiver.received[0], created["secret"])
