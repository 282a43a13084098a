"""The decision ledger and the stats through HTTP on both backends: every outcome's entry, each
filter, cursor pages and their edges, the JSON Lines export, stats windows, roles, refusals."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from agentkeys.clock import FrozenClock
from agentkeys.config import Settings
from agentkeys.credentials.identity import AdminRole
from agentkeys.credentials.ledger import DecisionLedger
from agentkeys.credentials.policy import Quota
from tests.support.admin import create_admin_key
from tests.support.app import START, AppFactory, client_for
from tests.support.assertions import assert_envelope, assert_validation_failed
from tests.support.factories import issue_credential, key_header, request_credential
from tests.support.ledger import decision_id, seed_decisions, stream_get
from tests.support.policies import relaxed_policy

# The ledger is stored behaviour: both backends (issue 10).
pytestmark = pytest.mark.both_backends

DECISIONS = "/v1/admin/decisions"
EXPORT = "/v1/admin/decisions/export"
STATS = "/v1/admin/stats"
AN_HOUR_AGO = START - timedelta(hours=1)
ENTRY_FIELDS = {
    "credential_request_id",
    "request_id",
    "decided_at",
    "outcome",
    "organization_name",
    "user_email",
    "client_address",
    "client_network",
    "credential_id",
    "request",
    "missing_fields",
    "unknown_scopes",
    "unclear_fields",
    "retry_after_seconds",
    "quota",
    "exhausted_quotas",
    "details",
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def admin(settings: Settings) -> dict[str, str]:
    _, key = await create_admin_key(settings, "ops")
    return bearer(key)


@pytest.fixture
async def viewer(settings: Settings) -> dict[str, str]:
    _, key = await create_admin_key(settings, "auditor", AdminRole.VIEWER)
    return bearer(key)


@pytest.fixture
async def relaxed(make_app: AppFactory) -> Any:
    """A client whose quotas are out of the way but one credential per organization an hour:
    the second request of an organization is answered rate_limited."""
    policy = relaxed_policy(organization_issued=Quota(1, timedelta(hours=1)))
    async with client_for(make_app(policy=policy)) as client:
        yield client


async def one_of_each(client: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    """One decision of every outcome, in this order; the answers by outcome."""
    answers = {}
    for overrides in (
        {"organization_name": "Acme Power"},
        {"organization_name": "Acme Power"},  # its quota is one an hour
        {"organization_name": "Vague Co", "requested_scopes": ["everything"], "user_email": None},
        {"organization_name": "Prod Co", "requested_environment": "production"},
    ):
        answer = (await request_credential(client, **overrides)).json()
        answers[answer["outcome"]] = answer
    assert list(answers) == ["issued", "rate_limited", "needs_more_info", "production_denied"]
    return answers


async def entries(
    client: httpx.AsyncClient, headers: dict[str, str], **params: str
) -> list[dict[str, Any]]:
    answer = await client.get(DECISIONS, params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


class TestAccess:
    ROUTES = (DECISIONS, EXPORT, STATS)

    async def test_no_key_is_401_and_an_agent_key_403(self, client: httpx.AsyncClient) -> None:
        agent_key = (await issue_credential(client))["credential"]
        for path in self.ROUTES:
            assert_envelope(await client.get(path), status=401, code="AUTH_MISSING_API_KEY")
            for headers in (key_header(agent_key), bearer(agent_key)):
                answer = await client.get(path, headers=headers)
                assert_envelope(answer, status=403, code="FORBIDDEN")
                assert agent_key not in answer.text

    async def test_a_bad_admin_key_is_401(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        typo = admin["Authorization"][:-1] + ("A" if admin["Authorization"][-1] != "A" else "B")
        for path in self.ROUTES:
            answer = await client.get(path, headers={"Authorization": typo})
            assert_envelope(answer, status=401, code="AUTH_INVALID_API_KEY")

    async def test_a_viewer_reads_all_of_it(
        self, client: httpx.AsyncClient, viewer: dict[str, str]
    ) -> None:
        await issue_credential(client)
        for path in self.ROUTES:
            answer = await client.get(path, headers=viewer)
            assert answer.status_code == 200, (path, answer.text)
            assert answer.headers["cache-control"] == "no-store"


class TestEntries:
    async def test_empty(self, client: httpx.AsyncClient, admin: dict[str, str]) -> None:
        answer = await client.get(DECISIONS, headers=admin)
        assert answer.json() == {"items": [], "next_cursor": None}

    async def test_every_outcome_says_what_its_answer_said(
        self, relaxed: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        answers = await one_of_each(relaxed)
        listed = await entries(relaxed, admin)
        # All at one instant (the frozen clock): newest first means the id breaks the tie.
        assert [entry["credential_request_id"] for entry in listed] == sorted(
            (answer["credential_request_id"] for answer in answers.values()), reverse=True
        )
        by_outcome = {entry["outcome"]: entry for entry in listed}
        for outcome, answer in answers.items():
            entry = by_outcome[outcome]
            assert set(entry) == ENTRY_FIELDS
            assert entry["credential_request_id"] == answer["credential_request_id"]
            assert entry["request_id"] == answer["request_id"]
            assert entry["decided_at"] == "2026-03-01T12:00:00.000Z"
            assert entry["client_address"] == "203.0.113.7"
            assert entry["client_network"] == "203.0.113.7/32"

        issued = by_outcome["issued"]
        assert issued["credential_id"] == answers["issued"]["credential_id"]
        assert issued["request"]["assignment"] == (
            "Prototype bill impact calculations for a customer dashboard"
        )
        assert issued["request"]["requested_scopes"] == ["calculate", "homes"]
        assert issued["details"] == {"scopes": ["calculate", "homes"], "ttl_seconds": 86400}
        for field in ("missing_fields", "unknown_scopes", "unclear_fields"):
            assert issued[field] is None
        assert issued["retry_after_seconds"] is None
        assert issued["quota"] is None

        refused = by_outcome["rate_limited"]
        assert refused["credential_id"] is None
        assert refused["retry_after_seconds"] == answers["rate_limited"]["retry_after_seconds"]
        assert refused["quota"] == "organization_issued"
        assert refused["exhausted_quotas"] == ["organization_issued"]
        # A refusal keeps only who asked and a digest of the rest.
        assert set(refused["request"]) == {
            "organization_name",
            "user_email",
            "user_name",
            "agent",
            "requested_environment",
            "sha256",
            "bytes",
        }
        assert refused["organization_name"] == "Acme Power"
        assert refused["user_email"] == "developer@example.com"

        vague = by_outcome["needs_more_info"]
        assert vague["credential_id"] is None
        assert vague["missing_fields"] == ["user_email"]
        assert vague["unknown_scopes"] == ["everything"]
        assert vague["unclear_fields"] == []
        assert vague["user_email"] is None
        assert vague["request"]["requested_scopes"] == ["everything"]

        denied = by_outcome["production_denied"]
        assert denied["credential_id"] is None
        assert denied["request"]["requested_environment"] == "production"
        assert denied["details"] == {}

        # Never a secret: the issued key appears in no entry, page or export.
        secret = answers["issued"]["credential"]
        assert secret not in (await relaxed.get(DECISIONS, headers=admin)).text
        assert secret not in (await relaxed.get(EXPORT, headers=admin)).text

    async def test_a_credentials_decision_is_its_ledger_entry(
        self, client: httpx.AsyncClient, viewer: dict[str, str]
    ) -> None:
        issued = await issue_credential(client)
        detail = await client.get(
            f"/v1/admin/credentials/{issued['credential_id']}", headers=viewer
        )
        (entry,) = await entries(client, viewer)
        assert detail.json()["decision"] == entry

    async def test_a_key_pasted_into_a_request_is_stored_redacted(
        self, client: httpx.AsyncClient, admin: dict[str, str]
    ) -> None:
        pasted = (await issue_credential(client))["credential"]
        await issue_credential(
            client,
            organization_name="Other Co",
            user_email="other@example.com",
            assignment=f"Use {pasted} to build a customer dashboard for bills",
        )
        answer = await client.get(DECISIONS, headers=admin)
        assert pasted not in answer.text
        assert "wsk_agent_[redacted]" in answer.text


class TestFilters:
    async def test_each_filter_and_all_together(
        self, make_app: AppFactory, admin: dict[str, str], clock: FrozenClock
    ) -> None:
        policy = relaxed_policy(organization_issued=Quota(1, timedelta(hours=1)))
        app = make_app(policy=policy)
        async with client_for(app) as client:
            answers = await one_of_each(client)
            clock.advance(timedelta(minutes=10))
            other = await issue_credential(
                client, organization_name="Other Grid", user_email="Ops.Team+bot@Example.com"
            )
        async with client_for(make_app(policy=policy), client_address="2001:db8::7") as client:
            clock.advance(timedelta(minutes=10))
            ipv6 = await issue_credential(
                client, organization_name="Far Away", user_email="far@example.com"
            )
            ids = {outcome: answer["credential_request_id"] for outcome, answer in answers.items()}
            other_id = other["credential_request_id"]
            ipv6_id = ipv6["credential_request_id"]

            async def found(**params: str) -> list[str]:
                return [e["credential_request_id"] for e in await entries(client, admin, **params)]

            assert len(await found()) == 6
            for outcome in ("rate_limited", "needs_more_info", "production_denied"):
                assert await found(outcome=outcome) == [ids[outcome]]
            assert await found(outcome="issued") == [ipv6_id, other_id, ids["issued"]]
            # The quota's identity: case, punctuation and look-alike letters do not matter.
            acme = sorted([ids["issued"], ids["rate_limited"]], reverse=True)
            assert await found(organization="acme  POWER.") == acme
            assert await found(organization="\u0410cme Power") == acme  # Cyrillic capital A
            assert await found(user_email="ops.team@example.com") == [other_id]
            assert await found(user_email="OPS.TEAM+x@EXAMPLE.COM") == [other_id]
            assert await found(client_address="2001:0db8:0:0::7") == [ipv6_id]
            assert await found(client_address="203.0.113.8") == []
            assert len(await found(client_address="203.0.113.7")) == 5
            # since is inclusive, until exclusive: consecutive windows tile.
            assert await found(since="2026-03-01T12:10:00Z") == [ipv6_id, other_id]
            assert await found(until="2026-03-01T12:10:00Z") == sorted(ids.values(), reverse=True)
            assert await found(since="2026-03-01T12:10:00Z", until="2026-03-01T12:20:00Z") == [
                other_id
            ]
            assert await found(since="2026-03-01T13:10:00+01:00") == [ipv6_id, other_id]
            assert await found(
                outcome="issued", organization="Other Grid", since="2026-03-01T12:00:00.001Z"
            ) == [other_id]

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"limit": "0"}, "limit"),
            ({"limit": "201"}, "limit"),
            ({"limit": "ten"}, "limit"),
            ({"outcome": "lost"}, "outcome"),
            ({"outcome": "ISSUED"}, "outcome"),
            ({"since": "yesterday"}, "since"),
            ({"until": "1999-12-31T00:00:00Z"}, "until"),
            ({"organization": "a\x00b"}, "organization"),
            ({"organization": "o" * 256}, "organization"),
            ({"user_email": "   "}, "user_email"),
            ({"client_address": "1" * 65}, "client_address"),
            ({"cursor": "not-a-cursor"}, "cursor"),
        ],
    )
    async def test_bad_parameters_are_400_naming_them(
        self,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        params: dict[str, str],
        field: str,
    ) -> None:
        assert_validation_failed(await client.get(DECISIONS, params=params, headers=admin), field)
        if field not in {"limit", "cursor"}:  # the export takes the same filters
            assert_validation_failed(await client.get(EXPORT, params=params, headers=admin), field)


class TestPages:
    async def test_limit_one_walks_every_decision_once_newest_first(
        self, client: httpx.AsyncClient, admin: dict[str, str], settings: Settings
    ) -> None:
        await seed_decisions(settings.database_url, 3, start=START, step=timedelta(seconds=1))
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
            page = (await client.get(DECISIONS, params=params, headers=admin)).json()
            assert len(page["items"]) == 1
            seen.append(page["items"][0]["credential_request_id"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [decision_id(2), decision_id(1), decision_id(0)]

    async def test_limit_200_and_the_last_page_without_a_cursor(
        self, client: httpx.AsyncClient, admin: dict[str, str], settings: Settings
    ) -> None:
        await seed_decisions(settings.database_url, 201, start=START, step=timedelta(seconds=1))
        first = (await client.get(DECISIONS, params={"limit": "200"}, headers=admin)).json()
        assert len(first["items"]) == 200
        assert first["items"][0]["credential_request_id"] == decision_id(200)
        assert first["next_cursor"] is not None
        rest = await client.get(
            DECISIONS, params={"limit": "200", "cursor": first["next_cursor"]}, headers=admin
        )
        assert rest.json() == {"items": [rest.json()["items"][0]], "next_cursor": None}
        assert rest.json()["items"][0]["credential_request_id"] == decision_id(0)
        default = (await client.get(DECISIONS, headers=admin)).json()
        assert len(default["items"]) == 50

    async def test_exactly_limit_rows_is_one_page_without_a_cursor(
        self, client: httpx.AsyncClient, admin: dict[str, str], settings: Settings
    ) -> None:
        await seed_decisions(settings.database_url, 3, start=START, step=timedelta(seconds=1))
        page = (await client.get(DECISIONS, params={"limit": "3"}, headers=admin)).json()
        assert len(page["items"]) == 3
        assert page["next_cursor"] is None

    async def test_ties_on_an_instant_are_paged_by_id(
        self, client: httpx.AsyncClient, admin: dict[str, str], settings: Settings
    ) -> None:
        await seed_decisions(settings.database_url, 5, start=START, step=timedelta(0))
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
            page = (await client.get(DECISIONS, params=params, headers=admin)).json()
            seen.extend(item["credential_request_id"] for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [decision_id(number) for number in range(4, -1, -1)]

    async def test_a_tampered_or_foreign_cursor_is_400(
        self, client: httpx.AsyncClient, admin: dict[str, str], settings: Settings
    ) -> None:
        await seed_decisions(settings.database_url, 3, start=START, step=timedelta(seconds=1))
        cursor = (await client.get(DECISIONS, params={"limit": "1"}, headers=admin)).json()[
            "next_cursor"
        ]
        payload, signature = cursor.split(".")
        flipped = payload[:-1] + ("A" if payload[-1] != "A" else "B")
        for tampered in (f"{flipped}.{signature}", payload, cursor + "x", "." + signature):
            answer = await client.get(DECISIONS, params={"cursor": tampered}, headers=admin)
            assert_validation_failed(answer, "cursor")
        # The credential listing's cursors are signed for it alone, and the reverse.
        for _ in range(2):
            await issue_credential(client)
        credentials_cursor = (
            await client.get("/v1/admin/credentials", params={"limit": "1"}, headers=admin)
        ).json()["next_cursor"]
        answer = await client.get(DECISIONS, params={"cursor": credentials_cursor}, headers=admin)
        assert_validation_failed(answer, "cursor")
        answer = await client.get("/v1/admin/credentials", params={"cursor": cursor}, headers=admin)
        assert_validation_failed(answer, "cursor")


class TestExport:
    async def test_json_lines_oldest_first_the_listings_entries(
        self, relaxed: httpx.AsyncClient, viewer: dict[str, str], clock: FrozenClock
    ) -> None:
        await one_of_each(relaxed)
        clock.advance(timedelta(minutes=1))
        await issue_credential(relaxed, organization_name="Later Co", user_email="l@example.com")
        answer = await relaxed.get(EXPORT, headers=viewer)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "application/x-ndjson"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.text.endswith("\n")
        lines = [json.loads(line) for line in answer.text.splitlines()]
        listed = await entries(relaxed, viewer)
        assert lines == listed[::-1]

    async def test_since_and_until(
        self, client: httpx.AsyncClient, admin: dict[str, str], settings: Settings
    ) -> None:
        ten_ago = START - timedelta(minutes=10)
        await seed_decisions(settings.database_url, 10, start=ten_ago, step=timedelta(minutes=1))
        answer = await client.get(
            EXPORT,
            params={"since": "2026-03-01T11:53:00Z", "until": "2026-03-01T11:57:00Z"},
            headers=admin,
        )
        ids = [json.loads(line)["credential_request_id"] for line in answer.text.splitlines()]
        assert ids == [decision_id(number) for number in range(3, 7)]
        nothing = await client.get(EXPORT, params={"since": "2027-01-01T00:00:00Z"}, headers=admin)
        assert nothing.status_code == 200
        assert nothing.text == ""

    async def test_batches_follow_one_another_without_a_gap_or_a_repeat(
        self,
        client: httpx.AsyncClient,
        admin: dict[str, str],
        settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr("agentkeys.admin.service.EXPORT_BATCH_ROWS", 3)
        # Batches end inside runs of equal instants: the id orders a tie across batches.
        await seed_decisions(settings.database_url, 11, start=START, step=timedelta(0))
        answer = await client.get(EXPORT, headers=admin)
        ids = [json.loads(line)["credential_request_id"] for line in answer.text.splitlines()]
        assert ids == [decision_id(number) for number in range(11)]

    async def test_decisions_after_the_export_began_are_not_in_it(
        self, client: httpx.AsyncClient, admin: dict[str, str], settings: Settings
    ) -> None:
        # The frozen clock is at START: a decision stamped later is not yet made.
        await seed_decisions(settings.database_url, 3, start=START, step=timedelta(hours=1))
        answer = await client.get(EXPORT, params={"until": "2030-01-01T00:00:00Z"}, headers=admin)
        ids = [json.loads(line)["credential_request_id"] for line in answer.text.splitlines()]
        assert ids == [decision_id(0)]

    async def test_no_connection_is_held_while_the_client_reads(
        self,
        make_app: AppFactory,
        admin: dict[str, str],
        settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr("agentkeys.admin.service.EXPORT_BATCH_ROWS", 3)
        await seed_decisions(
            settings.database_url, 10, start=AN_HOUR_AGO, step=timedelta(seconds=1)
        )
        app = make_app()
        pool = app.state.context.session_factory.kw["bind"].pool
        held: list[int] = []
        lines = 0

        async def read(chunk: bytes) -> None:
            nonlocal lines
            held.append(pool.checkedout())
            lines += chunk.count(b"\n")

        async with client_for(app):
            status = await stream_get(app, EXPORT, headers=admin, on_chunk=read)
        assert status == 200
        assert lines == 10
        # Four batches (3, 3, 3, 1), each read and its session closed before it is sent.
        assert held == [0, 0, 0, 0]

    @pytest.mark.parametrize("spec_version", ["2.4", "2.0"])
    async def test_a_client_that_goes_away_stops_the_reading(
        self,
        make_app: AppFactory,
        admin: dict[str, str],
        settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        spec_version: str,
    ) -> None:
        monkeypatch.setattr("agentkeys.admin.service.EXPORT_BATCH_ROWS", 3)
        await seed_decisions(
            settings.database_url, 30, start=AN_HOUR_AGO, step=timedelta(seconds=1)
        )
        reads = 0
        page = DecisionLedger.page

        async def counted(ledger: DecisionLedger, *args: Any, **kwargs: Any) -> Any:
            nonlocal reads
            reads += 1
            return await page(ledger, *args, **kwargs)

        monkeypatch.setattr(DecisionLedger, "page", counted)
        app = make_app()
        gone = asyncio.Event()

        async def leave(chunk: bytes) -> None:
            if spec_version == "2.4":
                # What uvicorn's send raises once the client has gone (ASGI spec 2.4).
                raise OSError("connection reset by peer")
            gone.set()  # earlier servers say http.disconnect; this send never returns
            await asyncio.Event().wait()

        async with client_for(app):
            await stream_get(
                app,
                EXPORT,
                headers=admin,
                on_chunk=leave,
                spec_version=spec_version,
                disconnected=gone,
            )
            assert app.state.context.session_factory.kw["bind"].pool.checkedout() == 0
        assert reads == 1  # of ten batches
        assert not [record for record in caplog.records if record.levelname == "ERROR"]


class TestStats:
    async def test_a_window_of_decisions_credentials_and_revocations(
        self, relaxed: httpx.AsyncClient, admin: dict[str, str], clock: FrozenClock
    ) -> None:
        clock.set(START - timedelta(hours=30))  # outside a 24h window
        await issue_credential(relaxed, organization_name="Old Co", user_email="o@example.com")
        clock.set(START - timedelta(hours=2, minutes=30))
        first = await issue_credential(relaxed, organization_name="Acme Power")
        await relaxed.post(first["revocation_path"], headers=key_header(first["credential"]))
        clock.set(START)
        answers = await one_of_each(relaxed)  # Acme Power twice more
        issued = answers["issued"]
        revoke = f"/v1/admin/credentials/{issued['credential_id']}/revoke"
        assert (await relaxed.post(revoke, json={"reason": "r"}, headers=admin)).status_code == 200

        answer = await relaxed.get(STATS, params={"window": "24h"}, headers=admin)
        assert answer.status_code == 200, answer.text
        stats = answer.json()
        assert set(stats) == {
            "window",
            "window_seconds",
            "since",
            "until",
            "decisions",
            "decisions_by_hour",
            "credentials",
            "top_organizations",
            "revocations",
        }
        assert stats["window"] == "24h"
        assert stats["window_seconds"] == 86400
        assert stats["since"] == "2026-02-28T12:00:00.000Z"
        assert stats["until"] == "2026-03-01T12:00:00.000Z"
        assert stats["decisions"] == {
            "total": 5,
            "by_outcome": {
                "issued": 2,
                "needs_more_info": 1,
                "rate_limited": 1,
                "production_denied": 1,
            },
        }
        hours = stats["decisions_by_hour"]
        assert len(hours) == 25  # 12:00 yesterday to 12:00 today, both touched
        assert hours[0]["hour"] == "2026-02-28T12:00:00.000Z"
        assert hours[-1]["hour"] == "2026-03-01T12:00:00.000Z"
        busy = {hour["hour"]: hour for hour in hours if hour["total"]}
        assert busy == {
            "2026-03-01T09:00:00.000Z": {
                "hour": "2026-03-01T09:00:00.000Z",
                "total": 1,
                "by_outcome": {
                    "issued": 1,
                    "needs_more_info": 0,
                    "rate_limited": 0,
                    "production_denied": 0,
                },
            },
            "2026-03-01T12:00:00.000Z": {
                "hour": "2026-03-01T12:00:00.000Z",
                "total": 4,
                "by_outcome": {
                    "issued": 1,
                    "needs_more_info": 1,
                    "rate_limited": 1,
                    "production_denied": 1,
                },
            },
        }
        # Old Co's expired (24 hours TTL at 30 hours ago); both Acme keys revoked.
        assert stats["credentials"] == {"issued": 2, "active": 0}
        assert stats["top_organizations"] == [
            {"organization": "acme power", "organization_name": "Acme Power", "decisions": 3},
            {"organization": "prod co", "organization_name": "Prod Co", "decisions": 1},
            {"organization": "vague co", "organization_name": "Vague Co", "decisions": 1},
        ]
        assert stats["revocations"] == {
            "total": 2,
            "by_revoked_by": {"admin:ops": 1, "self": 1},
        }

        narrow = (await relaxed.get(STATS, params={"window": "1h"}, headers=admin)).json()
        assert narrow["decisions"]["total"] == 4
        assert [hour["hour"] for hour in narrow["decisions_by_hour"]] == [
            "2026-03-01T11:00:00.000Z",
            "2026-03-01T12:00:00.000Z",
        ]
        assert narrow["credentials"]["issued"] == 1
        assert narrow["revocations"]["total"] == 1
        wide = (await relaxed.get(STATS, params={"window": "30d"}, headers=admin)).json()
        assert wide["decisions"]["total"] == 6
        assert len(wide["decisions_by_hour"]) == 721
        assert wide["credentials"]["issued"] == 3
        default = (await relaxed.get(STATS, headers=admin)).json()
        assert default["window"] == "24h"

    async def test_top_organizations_are_the_ten_with_the_most(
        self, client: httpx.AsyncClient, admin: dict[str, str], settings: Settings
    ) -> None:
        organizations = [f"Org {number:02d}" for number in range(12)]
        # Org 00 and Org 01 have two decisions each, every other one.
        await seed_decisions(
            settings.database_url,
            14,
            start=START - timedelta(minutes=30),
            step=timedelta(seconds=1),
            organizations=[*organizations, "Org 00", "Org 01"],
        )
        stats = (await client.get(STATS, headers=admin)).json()
        top = stats["top_organizations"]
        assert len(top) == 10
        assert [row["organization_name"] for row in top] == [
            "Org 00",
            "Org 01",
            *[f"Org {number:02d}" for number in range(2, 10)],
        ]
        assert [row["decisions"] for row in top] == [2, 2, *[1] * 8]

    @pytest.mark.parametrize(
        "window",
        ["0h", "59m", "31d", "721h", "5w", "24", "h", "-1h", "1.5h", "24H", " 1h", "", "9" * 9],
    )
    async def test_a_window_outside_1h_to_30d_is_400(
        self, client: httpx.AsyncClient, admin: dict[str, str], window: str
    ) -> None:
        answer = await client.get(STATS, params={"window": window}, headers=admin)
        assert_validation_failed(answer, "window")

    @pytest.mark.parametrize("window", ["1h", "60m", "720h", "1d", "7d", "1w", "30d", "48h"])
    async def test_windows_from_1h_to_30d(
        self, client: httpx.AsyncClient, admin: dict[str, str], window: str
    ) -> None:
        answer = await client.get(STATS, params={"window": window}, headers=admin)
        assert answer.status_code == 200, answer.text
        assert answer.json()["window"] == window


class TestOpenApi:
    async def test_the_ledger_routes_are_documented(self, client: httpx.AsyncClient) -> None:
        described = (await client.get("/openapi.json")).json()
        for path in (DECISIONS, EXPORT, STATS):
            operation = described["paths"][path]["get"]
            assert operation["tags"] == ["admin"], path
            assert operation["security"] == [{"AdminKey": []}], path
            for status in ("200", "400", "401", "403"):
                assert status in operation["responses"], (path, status)
        export = described["paths"][EXPORT]["get"]["responses"]["200"]["content"]
        assert export == {
            "application/x-ndjson": {"schema": {"$ref": "#/components/schemas/AdminDecisionDto"}}
        }
        listing = described["paths"][DECISIONS]["get"]
        assert {parameter["name"] for parameter in listing["parameters"]} == {
            "outcome",
            "organization",
            "user_email",
            "client_address",
            "since",
            "until",
            "cursor",
            "limit",
        }
        entry = described["components"]["schemas"]["AdminDecisionDto"]
        assert set(entry["properties"]) == ENTRY_FIELDS
        assert "AdminStatsDto" in described["components"]["schemas"]
