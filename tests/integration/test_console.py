"""The operator console through HTTP (the browser's requests, without a browser): sign-in and
its rate, the session cookie and its expiry, CSRF, roles, revocation through the admin API's
services, the credentials table's filters, sorting and pages, the charts' counts, bad
parameters, security headers, and that no secret is ever rendered."""

from __future__ import annotations

import asyncio
import random
import re
import time
from datetime import timedelta
from http.cookies import SimpleCookie
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from agentkeys.clock import FrozenClock
from agentkeys.config import Mode, Settings
from agentkeys.credentials import keys
from agentkeys.credentials.identity import AdminRole
from agentkeys.db.engine import create_engine
from tests.support.admin import create_admin_key, revoke_admin_key
from tests.support.app import TEST_SECRET, AppFactory
from tests.support.console import (
    SIGN_IN,
    console_client,
    csrf_token_of,
    sign_in,
    signed_in,
)
from tests.support.databases import DatabaseProbe
from tests.support.factories import issue_credential, key_header, request_credential

SESSION_COOKIE = "__Host-agentkeys_console"
SELF = "/v1/agent-credentials/self"
PAGES = (
    "/console",
    "/console/credentials",
    "/console/credentials/ws_agent_cred_x",
    "/console/credentials/ws_agent_cred_x/revoke",
    "/console/bulk-revoke",
    "/console/decisions",
    "/console/webhooks",
)
POSTS = (
    "/console/logout",
    "/console/credentials/ws_agent_cred_x/revoke",
    "/console/bulk-revoke",
    "/console/webhooks/ws_webhook_x/test",
)


def set_cookie_of(answer: httpx.Response, name: str) -> SimpleCookie:
    for header in answer.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(header)
            return cookie
    raise AssertionError(f"no Set-Cookie for {name}: {answer.headers.get_list('set-cookie')}")


async def issue_for(
    client: httpx.AsyncClient, organization: str, **overrides: Any
) -> dict[str, Any]:
    slug = "".join(c for c in organization.lower() if c.isalnum())
    overrides.setdefault("user_email", f"dev-{slug}-{len(overrides)}@example.com")
    return await issue_credential(client, organization_name=organization, **overrides)


def row_ids(page: httpx.Response) -> list[str]:
    return re.findall(r'<tr data-credential-id="([^"]+)"', page.text)


def data_attribute(page: httpx.Response, element_id: str, name: str) -> int:
    found = re.search(rf'id="{element_id}"[^>]*\bdata-{name}="(\d+)"', page.text)
    assert found is not None, f"#{element_id} has no data-{name}"
    return int(found.group(1))


def assert_signed_in_layout(page: httpx.Response, name: str) -> None:
    """The page has the signed-in header: nav, who, sign-out (an error page too)."""
    assert '<nav aria-label="Console">' in page.text, page.text
    assert f"Signed in as <strong>{name}</strong>" in page.text
    assert 'action="/console/logout"' in page.text


def scroll_regions(page: httpx.Response) -> list[str]:
    """The opening tags of the page's sideways-scrolling containers."""
    return re.findall(r'<div class="table-scroll"[^>]*>', page.text)


@pytest.fixture
async def admin_key(settings: Settings) -> str:
    return (await create_admin_key(settings, "ops"))[1]


@pytest.fixture
async def viewer_key(settings: Settings) -> str:
    return (await create_admin_key(settings, "auditor", AdminRole.VIEWER))[1]


class TestSignIn:
    async def test_an_admin_key_opens_an_8_hour_session_in_a_hardened_cookie(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        async with console_client(make_app()) as browser:
            answer = await sign_in(browser, admin_key)
            assert answer.status_code == 303
            assert answer.headers["location"] == "/console"
            cookie = set_cookie_of(answer, SESSION_COOKIE)[SESSION_COOKIE]
            assert cookie["httponly"] is True
            assert cookie["secure"] is True
            assert cookie["samesite"] == "strict"
            assert cookie["path"] == "/"
            assert cookie["max-age"] == str(8 * 3600)
            assert admin_key not in cookie.value
            assert admin_key.removeprefix("wsk_admin_") not in answer.headers["set-cookie"]
            # The sign-in form's pre-session is dropped, Secure as it was set (__Host-).
            pre_session = "__Host-agentkeys_console_sign_in"
            dropped = set_cookie_of(answer, pre_session)[pre_session]
            assert dropped["max-age"] == "0"
            assert dropped["secure"] is True
            overview = await browser.get("/console")
            assert overview.status_code == 200
            assert "Signed in as <strong>ops</strong> (admin)" in overview.text

    async def test_development_mode_cookies_are_not_secure_so_http_works(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        async with console_client(make_app(mode=Mode.DEVELOPMENT)) as browser:
            answer = await sign_in(browser, admin_key)
            cookie = set_cookie_of(answer, "agentkeys_console")["agentkeys_console"]
            assert cookie["secure"] == ""
            assert cookie["httponly"] is True
            assert cookie["samesite"] == "strict"

    async def test_a_wrong_key_is_401_with_a_clear_message_and_not_echoed(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        unknown = keys.ADMIN_KEYS.mint(server_secret=TEST_SECRET.encode()).secret
        async with console_client(make_app()) as browser:
            for wrong in (unknown, admin_key[:-2], "wsk_admin_short", "", "<script>x</script>"):
                answer = await sign_in(browser, wrong)
                assert answer.status_code == 401, wrong
                assert "That is not a valid admin key" in answer.text
                assert 'id="sign-in-form"' in answer.text
                if wrong:
                    assert wrong not in answer.text
                assert f"{SESSION_COOKIE}=" not in answer.headers.get("set-cookie", "")
            assert (await browser.get("/console")).status_code == 303

    async def test_an_agent_key_cannot_sign_in(self, make_app: AppFactory) -> None:
        async with console_client(make_app()) as browser:
            agent_key = (await issue_credential(browser))["credential"]
            answer = await sign_in(browser, agent_key)
            assert answer.status_code == 401
            assert agent_key not in answer.text

    async def test_wrong_keys_are_rate_limited_per_client_address(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        app = make_app()
        wrong = keys.ADMIN_KEYS.mint(server_secret=TEST_SECRET.encode()).secret
        async with console_client(app) as browser:
            statuses = [(await sign_in(browser, wrong)).status_code for _ in range(10)]
            assert statuses == [401] * 10
            # Over the limit: the next sign-in is refused before its key is checked.
            assert (await sign_in(browser, admin_key)).status_code == 429
            limited = await sign_in(browser, wrong)
            assert limited.status_code == 429
            assert "Too many failed sign-ins" in limited.text
            assert int(limited.headers["retry-after"]) > 0
            assert limited.headers["ratelimit-policy"] == '"console-sign-in-failed";q=10;w=900'
            # The right key too: else the limit would not stop a guesser testing keys.
            right = await sign_in(browser, admin_key)
            assert right.status_code == 429
            assert int(right.headers["retry-after"]) > 0
            assert "Too many failed sign-ins" in right.text
            assert f"{SESSION_COOKIE}=" not in right.headers.get("set-cookie", "")
        async with console_client(app, client_address="198.51.100.9") as elsewhere:
            assert (await sign_in(elsewhere, wrong)).status_code == 401
            assert (await sign_in(elsewhere, admin_key)).status_code == 303

    async def test_a_sign_in_without_the_forms_token_is_refused(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        async with console_client(make_app()) as browser:
            await browser.get(SIGN_IN)
            for data in ({"admin_key": admin_key}, {"admin_key": admin_key, "csrf_token": "x"}):
                answer = await browser.post(SIGN_IN, data=data)
                assert answer.status_code == 403
                assert "security token" in answer.text
                assert f"{SESSION_COOKIE}=" not in answer.headers.get("set-cookie", "")

    async def test_a_viewer_may_sign_in(self, make_app: AppFactory, viewer_key: str) -> None:
        async with console_client(make_app()) as browser:
            await signed_in(browser, viewer_key)
            overview = await browser.get("/console")
            assert "Signed in as <strong>auditor</strong> (viewer)" in overview.text


class TestSessions:
    async def test_every_page_and_form_without_a_session_goes_to_sign_in(
        self, make_app: AppFactory
    ) -> None:
        async with console_client(make_app()) as browser:
            for path in PAGES:
                answer = await browser.get(path)
                assert answer.status_code == 303, path
                assert answer.headers["location"] == SIGN_IN
                assert answer.headers["cache-control"] == "no-store"
            for path in POSTS:
                answer = await browser.post(path, data={"reason": "incident"})
                assert answer.status_code == 303, path
                assert answer.headers["location"] == SIGN_IN

    async def test_an_error_page_without_a_session_has_no_signed_in_header(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        async with console_client(make_app()) as browser:
            missing = await browser.get("/console/static/nope.js")
            assert missing.status_code == 404
            assert "Console" not in missing.text.split("<main", 1)[0]
            assert "Signed in as" not in missing.text
            await signed_in(browser, admin_key)
            signed_in_missing = await browser.get("/console/static/nope.js")
            assert signed_in_missing.status_code == 404
            assert_signed_in_layout(signed_in_missing, "ops")

    async def test_an_altered_cookie_is_no_session(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        async with console_client(make_app()) as browser:
            await signed_in(browser, admin_key)
            real = browser.cookies[SESSION_COOKIE]
            version, payload, signature = real.split(".")
            altered = [
                f"{version}.{payload}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
                f"{version}.{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{signature}",
                f"v2.{payload}.{signature}",
                "garbage",
            ]
            for cookie in altered:
                browser.cookies.set(SESSION_COOKIE, cookie, domain="agentkeys.test")
                assert (await browser.get("/console")).status_code == 303, cookie

    async def test_a_session_ends_after_8_hours(
        self, make_app: AppFactory, admin_key: str, clock: FrozenClock
    ) -> None:
        async with console_client(make_app()) as browser:
            await signed_in(browser, admin_key)
            clock.advance(timedelta(hours=8) - timedelta(seconds=1))
            assert (await browser.get("/console/credentials")).status_code == 200
            clock.advance(timedelta(seconds=1))
            expired = await browser.get("/console/credentials")
            assert expired.status_code == 303
            assert expired.headers["location"] == SIGN_IN

    async def test_the_session_lifetime_is_a_setting(
        self, make_app: AppFactory, admin_key: str, clock: FrozenClock
    ) -> None:
        async with console_client(make_app(console_session_seconds=90 * 60)) as browser:
            form = await browser.get(SIGN_IN)
            assert 'data-testid="session-lifetime">90 minutes<' in form.text
            answer = await sign_in(browser, admin_key)
            cookie = set_cookie_of(answer, SESSION_COOKIE)[SESSION_COOKIE]
            assert cookie["max-age"] == str(90 * 60)
            clock.advance(timedelta(minutes=90) - timedelta(seconds=1))
            assert (await browser.get("/console/credentials")).status_code == 200
            clock.advance(timedelta(seconds=1))
            assert (await browser.get("/console/credentials")).status_code == 303

    async def test_revoking_the_admin_key_ends_its_sessions_at_once(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        key_id, key = await create_admin_key(settings, "leaving")
        # No verified-key cache: revoked here by another process, not announced on the bus.
        async with console_client(make_app(key_cache_seconds=0)) as browser:
            await signed_in(browser, key)
            await revoke_admin_key(settings, key_id)
            assert (await browser.get("/console")).status_code == 303
            assert (await sign_in(browser, key)).status_code == 401

    async def test_a_key_whose_role_is_not_admin_or_viewer_has_no_session(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        key_id, key = await create_admin_key(settings, "service")
        async with console_client(make_app()) as browser:
            await signed_in(browser, key)
            engine = create_engine(settings.database_url)
            try:
                async with engine.begin() as connection:
                    await connection.execute(
                        text("UPDATE admin_keys SET role = 'verify' WHERE id = :id"), {"id": key_id}
                    )
            finally:
                await engine.dispose()
            assert (await browser.get("/console")).status_code == 303

    async def test_a_verify_key_may_not_sign_in(
        self, make_app: AppFactory, settings: Settings
    ) -> None:
        _, key = await create_admin_key(settings, "meters-api", AdminRole.VERIFY)
        async with console_client(make_app()) as browser:
            answer = await sign_in(browser, key)
            assert answer.status_code == 403
            assert "may not sign in to the console" in answer.text
            assert SESSION_COOKIE not in browser.cookies
            assert (await browser.get("/console")).status_code == 303

    async def test_signing_out_drops_the_cookie(self, make_app: AppFactory, admin_key: str) -> None:
        async with console_client(make_app()) as browser:
            token = await signed_in(browser, admin_key)
            answer = await browser.post("/console/logout", data={"csrf_token": token})
            assert answer.status_code == 303
            assert answer.headers["location"] == SIGN_IN
            # Browsers refuse a __Host- cookie without Secure, its deletion included.
            dropped = set_cookie_of(answer, SESSION_COOKIE)[SESSION_COOKIE]
            assert dropped["secure"] is True
            assert dropped["path"] == "/"
            assert dropped["max-age"] == "0"
            assert SESSION_COOKIE not in browser.cookies
            assert (await browser.get("/console")).status_code == 303


@pytest.mark.both_backends
class TestRevocation:
    async def test_a_revocation_from_the_console_refuses_the_agents_next_request(
        self, make_app: AppFactory, admin_key: str, db: DatabaseProbe
    ) -> None:
        async with console_client(make_app()) as browser:
            issued = await issue_credential(browser)
            credential_id = issued["credential_id"]
            assert (await browser.get(SELF, headers=key_header(issued["credential"]))).is_success
            await signed_in(browser, admin_key)
            confirm = await browser.get(f"/console/credentials/{credential_id}/revoke")
            assert confirm.status_code == 200
            assert "Revoke credential" in confirm.text
            answer = await browser.post(
                f"/console/credentials/{credential_id}/revoke",
                data={"csrf_token": csrf_token_of(confirm), "reason": "Leaked in a screenshot"},
            )
            assert answer.status_code == 303
            assert answer.headers["location"] == f"/console/credentials/{credential_id}?revoked=1"
            refused = await browser.get(SELF, headers=key_header(issued["credential"]))
            assert refused.status_code == 401
            assert refused.json()["error_code"] == "AUTH_REVOKED_CREDENTIAL"
            page = await browser.get(answer.headers["location"])
            assert 'data-testid="revoked-by">admin:ops<' in page.text
            assert "Leaked in a screenshot" in page.text
            assert (
                'data-testid="lifetime-granted"><span class="duration" data-seconds="86400" '
                'title="86400 seconds">1 day</span>'
            ) in page.text
        stored = await db.rows(
            "SELECT revoked_by, revocation_reason FROM credentials WHERE id = :id",
            id=credential_id,
        )
        assert stored == [
            {"revoked_by": "admin:ops", "revocation_reason": "Leaked in a screenshot"}
        ]

    async def test_a_revocation_needs_a_reason(self, make_app: AppFactory, admin_key: str) -> None:
        async with console_client(make_app()) as browser:
            issued = await issue_credential(browser)
            token = await signed_in(browser, admin_key)
            answer = await browser.post(
                f"/console/credentials/{issued['credential_id']}/revoke",
                data={"csrf_token": token, "reason": "   "},
            )
            assert answer.status_code == 400
            assert "reason" in answer.text
            assert (await browser.get(SELF, headers=key_header(issued["credential"]))).is_success

    async def test_an_unknown_credential_is_a_404_page(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        async with console_client(make_app()) as browser:
            await signed_in(browser, admin_key)
            answer = await browser.get("/console/credentials/ws_agent_cred_nope")
            assert answer.status_code == 404
            assert answer.headers["content-type"].startswith("text/html")
            assert_signed_in_layout(answer, "ops")

    async def test_a_bulk_revocation_shows_the_count_then_revokes_that_many(
        self, make_app: AppFactory, admin_key: str, db: DatabaseProbe
    ) -> None:
        async with console_client(make_app()) as browser:
            acme = [
                await issue_for(browser, "Acme Grid", user_email=f"a{i}@acme.example")
                for i in range(3)
            ]
            other = await issue_for(browser, "Other Power")
            await signed_in(browser, admin_key)
            preview = await browser.get(
                "/console/bulk-revoke", params={"organization": "acme grid"}
            )
            count = re.search(r'data-testid="bulk-count" data-count="(\d+)"', preview.text)
            assert count is not None
            assert count.group(1) == "3"
            assert "Revoke 3 credentials" in preview.text
            # The organization as stored, not as typed.
            assert 'data-testid="bulk-organization-names">Acme Grid<' in preview.text
            assert "acme grid" not in preview.text.replace('value="acme grid"', "")
            answer = await browser.post(
                "/console/bulk-revoke",
                data={
                    "csrf_token": csrf_token_of(preview),
                    "organization": "ACME GRID",
                    "reason": "Contract ended",
                },
            )
            # Post-redirect-get: to the list filtered by the organization as stored.
            assert answer.status_code == 303
            assert answer.headers["location"] == (
                "/console/credentials?organization=Acme+Grid&notice=bulk-revoked&count=3"
            )
            result = await browser.get(answer.headers["location"])
            assert "Revoked 3 active credentials" in result.text
            assert "ACME GRID" not in result.text
            assert sorted(row_ids(result)) == sorted(issued["credential_id"] for issued in acme)
            for issued in acme:
                assert (
                    await browser.get(SELF, headers=key_header(issued["credential"]))
                ).status_code == 401
            assert (await browser.get(SELF, headers=key_header(other["credential"]))).is_success
        revoked_by = await db.rows("SELECT DISTINCT revoked_by FROM credentials")
        assert sorted(row["revoked_by"] or "" for row in revoked_by) == ["", "admin:ops"]


@pytest.mark.redis
async def test_a_console_revocation_is_refused_by_another_replica_at_once(
    make_app: AppFactory, admin_key: str, redis_url: str
) -> None:
    # Redis keeps its rates between runs: an address of this run's own.
    address = f"198.18.{random.randrange(256)}.{random.randrange(1, 255)}"
    one = make_app(redis_url=redis_url, key_cache_seconds=1)
    two = make_app(redis_url=redis_url, key_cache_seconds=1)
    async with (
        console_client(one, client_address=address) as browser,
        console_client(two, client_address=address) as agent,
    ):
        issued = await issue_credential(browser)
        # Verified, and so cached, on the second replica.
        assert (await agent.get(SELF, headers=key_header(issued["credential"]))).is_success
        token = await signed_in(browser, admin_key)
        answer = await browser.post(
            f"/console/credentials/{issued['credential_id']}/revoke",
            data={"csrf_token": token, "reason": "incident"},
        )
        assert answer.status_code == 303
        started = time.monotonic()
        # Under the cache bound (1 s): only the announcement can refuse the key this soon.
        while (await agent.get(SELF, headers=key_header(issued["credential"]))).is_success:
            assert time.monotonic() - started < 0.75
            await asyncio.sleep(0.02)


class TestCsrf:
    async def test_a_post_without_the_token_is_refused_and_changes_nothing(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        async with console_client(make_app()) as browser:
            issued = await issue_credential(browser)
            await signed_in(browser, admin_key)
            path = f"/console/credentials/{issued['credential_id']}/revoke"
            for data in ({"reason": "x y z"}, {"reason": "x y z", "csrf_token": "forged"}):
                answer = await browser.post(path, data=data)
                assert answer.status_code == 403
                assert "security token is missing or wrong" in answer.text
                assert_signed_in_layout(answer, "ops")
            bulk = await browser.post(
                "/console/bulk-revoke",
                data={"organization": "Example Energy Co", "reason": "incident"},
            )
            assert bulk.status_code == 403
            assert (await browser.get(SELF, headers=key_header(issued["credential"]))).is_success

    async def test_another_sessions_token_is_refused(
        self, make_app: AppFactory, admin_key: str, settings: Settings
    ) -> None:
        _, second_key = await create_admin_key(settings, "second")
        app = make_app()
        async with console_client(app) as first, console_client(app) as second:
            issued = await issue_credential(first)
            await signed_in(first, admin_key)
            other_token = await signed_in(second, second_key)
            answer = await first.post(
                f"/console/credentials/{issued['credential_id']}/revoke",
                data={"csrf_token": other_token, "reason": "incident"},
            )
            assert answer.status_code == 403

    async def test_htmx_sends_the_token_as_a_header(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        async with console_client(make_app()) as browser:
            issued = await issue_credential(browser)
            token = await signed_in(browser, admin_key)
            page = await browser.get("/console")
            assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in page.text
            path = f"/console/credentials/{issued['credential_id']}/revoke"
            twice = httpx.Headers([("X-CSRF-Token", token), ("X-CSRF-Token", token)])
            refused = await browser.post(path, data={"reason": "incident"}, headers=twice)
            assert refused.status_code == 403
            answer = await browser.post(
                path,
                data={"reason": "incident"},
                headers={"X-CSRF-Token": token, "HX-Request": "true"},
            )
            assert answer.status_code == 303


class TestRoles:
    async def test_a_viewer_sees_no_revoke_or_test_buttons(
        self, make_app: AppFactory, viewer_key: str
    ) -> None:
        async with console_client(make_app()) as browser:
            issued = await issue_credential(browser)
            await signed_in(browser, viewer_key)
            detail = await browser.get(f"/console/credentials/{issued['credential_id']}")
            assert detail.status_code == 200
            assert "Revoke this credential" not in detail.text
            assert "may read but not revoke" in detail.text
            table = await browser.get("/console/credentials")
            assert "bulk-revoke-link" not in table.text
            # The confirmation pages are refused as their POSTs are: same status, same words.
            token = csrf_token_of(table)
            refused_post = await browser.post(
                "/console/bulk-revoke",
                data={"csrf_token": token, "organization": "Example Energy Co", "reason": "x"},
            )
            refused_title = re.search(r"<h1[^>]*>(.*?)</h1>", refused_post.text, re.S)
            assert refused_title is not None
            for path in (
                "/console/bulk-revoke",
                "/console/bulk-revoke?organization=Example+Energy+Co",
                f"/console/credentials/{issued['credential_id']}/revoke",
            ):
                confirm = await browser.get(path)
                assert confirm.status_code == 403, path
                assert refused_title.group(1) in confirm.text, path
                assert "Revoke every active credential" not in confirm.text
                assert "data-count" not in confirm.text
                assert_signed_in_layout(confirm, "auditor")

    async def test_a_viewers_forged_revocations_are_refused(
        self, make_app: AppFactory, viewer_key: str
    ) -> None:
        async with console_client(make_app()) as browser:
            issued = await issue_credential(browser)
            token = await signed_in(browser, viewer_key)
            one = await browser.post(
                f"/console/credentials/{issued['credential_id']}/revoke",
                data={"csrf_token": token, "reason": "forged"},
            )
            assert one.status_code == 403
            assert "viewer" in one.text
            bulk = await browser.post(
                "/console/bulk-revoke",
                data={"csrf_token": token, "organization": "Example Energy Co", "reason": "x"},
            )
            assert bulk.status_code == 403
            assert (await browser.get(SELF, headers=key_header(issued["credential"]))).is_success


@pytest.mark.both_backends
class TestCredentialsTable:
    async def test_filters_search_sorting_and_pages(
        self, make_app: AppFactory, admin_key: str, clock: FrozenClock
    ) -> None:
        async with console_client(make_app()) as browser:
            made = []
            for index in range(12):
                clock.advance(timedelta(seconds=1))
                organization = ("Acme Grid", "Beta Volt", "Coastal Power")[index % 3]
                made.append(
                    await issue_for(
                        browser,
                        organization,
                        user_email=f"dev{index}@example.org",
                        requested_scopes=["utility:read"] if index % 2 else ["homes"],
                    )
                )
            await signed_in(browser, admin_key)
            acme = await browser.get("/console/credentials", params={"organization": "acme grid"})
            assert len(row_ids(acme)) == 4
            assert 'data-total="4"' in acme.text
            homes = await browser.get("/console/credentials", params={"scope": "homes:read"})
            assert sorted(row_ids(homes)) == sorted(
                m["credential_id"] for i, m in enumerate(made) if i % 2 == 0
            )
            found = await browser.get("/console/credentials", params={"q": "DEV7@"})
            assert row_ids(found) == [made[7]["credential_id"]]
            by_organization = await browser.get(
                "/console/credentials", params={"sort": "organization", "dir": "asc"}
            )
            names = re.findall(
                r'<td><a href="/console/credentials/[^"]+">([^<]+)</a>', by_organization.text
            )
            assert names == sorted(names)
            assert names[0] == "Acme Grid"
            first = await browser.get(
                "/console/credentials", params={"per_page": 10, "sort": "created", "dir": "asc"}
            )
            second = await browser.get(
                "/console/credentials",
                params={"per_page": 10, "sort": "created", "dir": "asc", "page": 2},
            )
            assert 'data-pages="2"' in first.text
            assert row_ids(first) + row_ids(second) == [m["credential_id"] for m in made]
            assert "Next page" in first.text
            assert "Previous page" in second.text

    async def test_a_status_filter_follows_revocation(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        async with console_client(make_app()) as browser:
            kept = await issue_for(browser, "Acme Grid", user_email="a@acme.example")
            gone = await issue_for(browser, "Acme Grid", user_email="b@acme.example")
            token = await signed_in(browser, admin_key)
            await browser.post(
                f"/console/credentials/{gone['credential_id']}/revoke",
                data={"csrf_token": token, "reason": "incident"},
            )
            active = await browser.get("/console/credentials", params={"status": "active"})
            revoked = await browser.get("/console/credentials", params={"status": "revoked"})
            assert row_ids(active) == [kept["credential_id"]]
            assert row_ids(revoked) == [gone["credential_id"]]

    async def test_htmx_gets_the_table_alone(self, make_app: AppFactory, admin_key: str) -> None:
        async with console_client(make_app()) as browser:
            await issue_credential(browser)
            await signed_in(browser, admin_key)
            htmx = {"HX-Request": "true", "HX-Target": "credentials-table"}
            partial = await browser.get("/console/credentials", headers=htmx)
            assert partial.status_code == 200
            assert partial.text.lstrip().startswith('<section id="credentials-table"')
            assert "<html" not in partial.text
            assert len(row_ids(partial)) == 1
            assert "HX-Request" in partial.headers["vary"]
            restoring = await browser.get(
                "/console/credentials", headers={**htmx, "HX-History-Restore-Request": "true"}
            )
            assert restoring.text.startswith("<!doctype html>")


class TestBadParameters:
    @pytest.mark.parametrize(
        ("path", "params"),
        [
            ("/console/credentials", {"page": "0"}),
            ("/console/credentials", {"page": "two"}),
            ("/console/credentials", {"page": "99"}),
            ("/console/credentials", {"sort": "key_digest"}),
            ("/console/credentials", {"dir": "sideways"}),
            ("/console/credentials", {"status": "lost"}),
            ("/console/credentials", {"per_page": "7"}),
            ("/console/credentials", {"scope": "nuclear:launch"}),
            ("/console/credentials", {"q": "x" * 300}),
            ("/console/decisions", {"since": "yesterday"}),
            ("/console/decisions", {"until": "2026-13-45T99:00"}),
            ("/console/decisions", {"outcome": "maybe"}),
            ("/console/decisions", {"cursor": "forged.cursor"}),
            ("/console/decisions", {"since": "0h"}),
            ("/console/decisions", {"address": "not-an-address"}),
            ("/console/decisions", {"address": "203.0.113.0/24"}),
        ],
    )
    async def test_a_bad_parameter_is_a_400_page(
        self, make_app: AppFactory, admin_key: str, path: str, params: dict[str, str]
    ) -> None:
        async with console_client(make_app()) as browser:
            await signed_in(browser, admin_key)
            answer = await browser.get(path, params=params)
            assert answer.status_code == 400, answer.text
            assert answer.headers["content-type"].startswith("text/html")
            assert "Bad request: a parameter is invalid" in answer.text
            assert_signed_in_layout(answer, "ops")
            assert answer.headers["cache-control"] == "no-store"


@pytest.mark.both_backends
class TestOverview:
    async def test_the_charts_count_the_decisions_made(
        self, make_app: AppFactory, admin_key: str, clock: FrozenClock
    ) -> None:
        async with console_client(make_app()) as browser:
            await issue_for(browser, "Acme Grid", user_email="old@acme.example")
            clock.advance(timedelta(days=2))
            for index in range(3):
                await issue_for(browser, "Beta Volt", user_email=f"b{index}@beta.example")
            missing = await request_credential(browser, user_email=None)
            assert missing.json()["outcome"] == "needs_more_info"
            await signed_in(browser, admin_key)
            overview = await browser.get("/console")
        assert data_attribute(overview, "chart-hourly", "total") == 4
        assert data_attribute(overview, "chart-hourly", "issued") == 3
        assert data_attribute(overview, "chart-hourly", "needs-more-info") == 1
        assert data_attribute(overview, "chart-daily", "total") == 5
        assert data_attribute(overview, "chart-daily", "issued") == 4
        bars = re.findall(r'<g class="bar" data-start="([^"]+)" data-total="(\d+)"', overview.text)
        assert len(bars) == 25 + 30
        hourly, daily = bars[:25], bars[25:]
        assert [total for _, total in hourly if total != "0"] == ["4"]
        assert [(start[:10], total) for start, total in daily if total != "0"] == [
            ("2026-03-01", "1"),
            ("2026-03-03", "4"),
        ]
        assert 'data-testid="credentials-active">3<' in overview.text  # the first expired
        assert "Beta Volt" in overview.text
        # Durations in words, the exact seconds on hover.
        assert (
            'Keys live <span class="duration" data-seconds="86400" title="86400 seconds">'
            "1 day</span> by default"
        ) in overview.text
        assert 'title="3600 seconds">per hour</span>' in overview.text
        # The axes name the day and the zone of their buckets (UTC), not an hour alone.
        axes = {
            name: (first, last)
            for name, first, last in re.findall(
                r'data-testid="chart-(\w+)-axis"><span>([^<]+)</span><span>[^<]+</span>'
                r"<span>([^<]+)</span>",
                overview.text,
            )
        }
        now = clock.now()
        assert axes["hourly"] == (
            f"{(now - timedelta(hours=24)):%Y-%m-%d %H}:00 UTC",
            f"{now:%Y-%m-%d %H}:00 UTC",
        )
        assert axes["daily"] == (
            f"{(now - timedelta(days=29)):%Y-%m-%d} UTC",
            f"{now:%Y-%m-%d} UTC",
        )
        assert "Decisions per hour, last 24 hours (UTC hours)" in overview.text


class TestPagesAreSafe:
    async def test_every_scrolling_region_is_focusable_and_named(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        async with console_client(make_app()) as browser:
            issued = await issue_for(browser, "Acme Grid")
            kept = await issue_for(browser, "Acme Grid", user_email="kept@acme.example")
            token = await signed_in(browser, admin_key)
            revoked = await browser.post(
                f"/console/credentials/{issued['credential_id']}/revoke",
                data={"csrf_token": token, "reason": "rotated"},
            )
            assert revoked.status_code == 303
            regions: list[str] = []
            for path in (
                "/console",
                "/console/credentials",
                f"/console/credentials/{kept['credential_id']}",
                "/console/decisions",
            ):
                page = await browser.get(path)
                assert page.status_code == 200, path
                found = scroll_regions(page)
                assert found, path
                regions += found
        # The overview's tables of organizations and revocations and its charts' tables too.
        assert len(regions) >= 4 + 3
        labels = []
        for tag in regions:
            assert 'tabindex="0"' in tag, tag
            assert 'role="region"' in tag, tag
            label = re.search(r'aria-label="([^"]+)"', tag)
            assert label is not None, tag
            labels.append(label.group(1))
        assert "Top organizations table" in labels
        assert "Revocations table" in labels

    async def test_console_answers_carry_the_security_headers(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        async with console_client(make_app()) as browser:
            answers = [await browser.get(SIGN_IN), await browser.get("/console")]
            await signed_in(browser, admin_key)
            answers += [
                await browser.get("/console"),
                await browser.get("/console/credentials", params={"page": "0"}),
            ]
            for answer in answers:
                policy = answer.headers["content-security-policy"]
                assert "script-src 'self'" in policy
                assert "frame-ancestors 'none'" in policy
                assert "unsafe-inline" not in policy
                assert answer.headers["x-frame-options"] == "DENY"
                assert answer.headers["cache-control"] == "no-store"
                assert answer.headers["referrer-policy"] == "no-referrer"
            page = answers[2].text
            assert "<script>" not in page
            assert ' style="' not in page

    async def test_static_assets_come_from_the_package(self, make_app: AppFactory) -> None:
        async with console_client(make_app()) as browser:
            for name, media_type in (
                ("htmx.min.js", "text/javascript"),
                ("console.js", "text/javascript"),
                ("console.css", "text/css"),
                ("htmx.LICENSE", "text/plain"),
            ):
                answer = await browser.get(f"/console/static/{name}")
                assert answer.status_code == 200
                assert answer.headers["content-type"].startswith(media_type)
                assert answer.content
            assert (await browser.get("/console/static/../config.py")).status_code == 404
            assert (await browser.get("/console/static/nope.js")).status_code == 404

    async def test_what_agents_wrote_is_escaped(self, make_app: AppFactory, admin_key: str) -> None:
        async with console_client(make_app()) as browser:
            hostile = "<script>alert(1)</script> Grid"
            await issue_for(browser, hostile, user_email="x@hostile.example")
            await signed_in(browser, admin_key)
            for path in ("/console", "/console/credentials", "/console/decisions"):
                page = await browser.get(path)
                assert "<script>alert(1)</script>" not in page.text
                assert "&lt;script&gt;alert(1)&lt;/script&gt; Grid" in page.text

    async def test_no_secret_is_ever_rendered(
        self, make_app: AppFactory, admin_key: str, settings: Settings
    ) -> None:
        app = make_app(webhooks_allow_private=True)
        async with console_client(app) as browser:
            issued = await issue_credential(browser)
            created = await browser.post(
                "/v1/admin/webhooks",
                json={"url": "http://127.0.0.1:9/hook", "events": ["credential.revoked"]},
                headers={"Authorization": f"Bearer {admin_key}"},
            )
            assert created.status_code == 201, created.text
            webhook_secret = created.json()["secret"]
            token = await signed_in(browser, admin_key)
            sent = await browser.post(
                f"/console/webhooks/{created.json()['endpoint_id']}/test",
                data={"csrf_token": token},
            )
            assert sent.status_code == 303
            secrets = (issued["credential"], admin_key, webhook_secret, TEST_SECRET)
            paths = [
                "/console",
                "/console/credentials",
                f"/console/credentials/{issued['credential_id']}",
                "/console/decisions",
                sent.headers["location"],
            ]
            for path in paths:
                page = await browser.get(path)
                assert page.status_code == 200, path
                for secret in secrets:
                    assert secret not in page.text, path
            webhooks = await browser.get(sent.headers["location"])
            assert 'data-testid="test-sent"' in webhooks.text
            assert "http://127.0.0.1:9/hook" in webhooks.text

    async def test_a_viewer_cannot_send_a_test_event(
        self, make_app: AppFactory, admin_key: str, viewer_key: str
    ) -> None:
        app = make_app(webhooks_allow_private=True)
        async with console_client(app) as browser:
            created = await browser.post(
                "/v1/admin/webhooks",
                json={"url": "http://127.0.0.1:9/hook", "events": ["credential.revoked"]},
                headers={"Authorization": f"Bearer {admin_key}"},
            )
            token = await signed_in(browser, viewer_key)
            page = await browser.get("/console/webhooks")
            assert "Send test event" not in page.text
            answer = await browser.post(
                f"/console/webhooks/{created.json()['endpoint_id']}/test",
                data={"csrf_token": token},
            )
            assert answer.status_code == 403

    async def test_console_routes_are_not_in_the_openapi_document(
        self, make_app: AppFactory
    ) -> None:
        async with console_client(make_app()) as browser:
            document = (await browser.get("/openapi.json")).json()
        assert not [path for path in document["paths"] if path.startswith("/console")]


class TestDecisionsPage:
    async def test_each_entry_shows_what_the_answer_asked_for(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        async with console_client(make_app()) as browser:
            await issue_credential(browser)
            asked = await request_credential(
                browser, user_email=None, requested_scopes=["homes", "nuclear:launch"]
            )
            assert asked.json()["outcome"] == "needs_more_info"
            await signed_in(browser, admin_key)
            page = await browser.get("/console/decisions", params={"outcome": "needs_more_info"})
            assert page.status_code == 200
            assert page.text.count("<tr data-outcome=") == 1
            assert "Missing fields: <code>user_email</code>" in page.text
            issued_page = await browser.get("/console/decisions", params={"outcome": "issued"})
            assert (
                'Issued for <span class="duration" data-seconds="86400" '
                'title="86400 seconds">1 day</span>'
            ) in issued_page.text
            assert "Unknown scopes: <code>nuclear:launch</code>" in page.text
            everything = await browser.get(
                "/console/decisions", params={"address": "203.0.113.7", "since": "2026-03-01T00:00"}
            )
            assert everything.text.count("<tr data-outcome=") == 2
            elsewhere = await browser.get("/console/decisions", params={"address": "192.0.2.1"})
            assert elsewhere.text.count("<tr data-outcome=") == 0


class TestWebhooksPage:
    async def test_a_test_event_and_its_failed_delivery_are_shown(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        app = make_app(webhooks_allow_private=True)
        async with console_client(app) as browser:
            created = await browser.post(
                "/v1/admin/webhooks",
                # Nothing listens on the discard port: the delivery fails at once.
                json={"url": "http://127.0.0.1:9/hook", "events": ["credential.revoked"]},
                headers={"Authorization": f"Bearer {admin_key}"},
            )
            endpoint_id = created.json()["endpoint_id"]
            token = await signed_in(browser, admin_key)
            before = await browser.get("/console/webhooks")
            assert "No delivery yet." in before.text
            sent = await browser.post(
                f"/console/webhooks/{endpoint_id}/test", data={"csrf_token": token}
            )
            assert sent.status_code == 303
            assert await app.state.webhooks.delivery.run_once() == 1
            page = await browser.get(sent.headers["location"])
        assert f'data-endpoint-id="{endpoint_id}"' in page.text
        assert page.text.count('<tr data-succeeded="false">') == 1
        assert 'data-testid="failures">1<' in page.text
        assert "Send test event" in page.text


class TestTrialFindings:
    """What a new user's trial found: banners a link could write, a 404 in JSON, revocation
    forms that lied or disagreed with the server."""

    async def test_banners_come_only_from_known_codes(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        async with console_client(make_app()) as browser:
            issued = await issue_credential(browser)
            await signed_in(browser, admin_key)
            phishing = "Your session expired: paste your admin key at evil.example"
            for path, params in (
                ("/console/credentials", {"notice": phishing}),
                ("/console/credentials", {"notice": "bulk-revoked"}),  # no count: no banner
                ("/console/webhooks", {"sent": phishing}),
                ("/console/webhooks", {"notice": phishing}),
                (f"/console/credentials/{issued['credential_id']}", {"revoked": "1"}),
            ):
                page = await browser.get(path, params=params)
                assert page.status_code == 200, (path, params)
                assert "evil.example" not in page.text
                assert 'role="status" class="alert alert-ok"' not in page.text, (path, params)
            known = await browser.get(
                "/console/credentials", params={"notice": "bulk-revoked", "count": "2"}
            )
            assert "Revoked 2 active credentials" in known.text

    async def test_an_unknown_console_path_is_the_html_404_page(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        async with console_client(make_app()) as browser:
            await signed_in(browser, admin_key)
            for path in ("/console/nonexistent", "/console/static/nope", "/console/a/b/c"):
                answer = await browser.get(path)
                assert answer.status_code == 404, path
                assert answer.headers["content-type"].startswith("text/html"), path
                assert_signed_in_layout(answer, "ops")

    async def test_a_revoked_credential_is_not_revoked_again(
        self, make_app: AppFactory, admin_key: str, db: DatabaseProbe
    ) -> None:
        async with console_client(make_app()) as browser:
            issued = await issue_credential(browser)
            credential_id = issued["credential_id"]
            token = await signed_in(browser, admin_key)
            path = f"/console/credentials/{credential_id}/revoke"
            first = await browser.post(path, data={"csrf_token": token, "reason": "First"})
            assert first.status_code == 303
            confirm = await browser.get(path)
            assert confirm.status_code == 200
            assert 'id="revoke-form"' not in confirm.text
            assert "already revoked" in confirm.text
            again = await browser.post(path, data={"csrf_token": token, "reason": "Second"})
            assert again.status_code == 409
            assert 'data-testid="already-revoked"' in again.text
            assert "admin:ops" in again.text
            assert 'id="revoke-form"' not in again.text
            assert 'data-testid="revoked-notice"' not in again.text
        stored = await db.rows(
            "SELECT revocation_reason FROM credentials WHERE id = :id", id=credential_id
        )
        assert stored == [{"revocation_reason": "First"}]

    async def test_form_limits_are_the_servers_and_errors_keep_the_form(
        self, make_app: AppFactory, admin_key: str
    ) -> None:
        async with console_client(make_app()) as browser:
            issued = await issue_credential(browser)
            credential_id = issued["credential_id"]
            await signed_in(browser, admin_key)
            path = f"/console/credentials/{credential_id}/revoke"
            confirm = await browser.get(path)
            assert 'maxlength="255"' in confirm.text
            assert 'maxlength="500"' not in confirm.text
            token = csrf_token_of(confirm)
            too_long = "x" * 256
            answer = await browser.post(path, data={"csrf_token": token, "reason": too_long})
            assert answer.status_code == 400
            assert 'id="revoke-form"' in answer.text
            assert 'data-testid="reason-error">At most 255 characters' in answer.text
            assert f">{too_long}</textarea>" in answer.text
            empty = await browser.post(path, data={"csrf_token": token, "reason": "  "})
            assert empty.status_code == 400
            assert 'data-testid="reason-error">Give a reason' in empty.text
            bulk = await browser.get(
                "/console/bulk-revoke", params={"organization": "Example Energy Co"}
            )
            assert bulk.text.count('maxlength="255"') == 2
            no_reason = await browser.post(
                "/console/bulk-revoke",
                data={"csrf_token": token, "organization": "Example Energy Co", "reason": ""},
            )
            assert no_reason.status_code == 400
            assert 'id="bulk-revoke-form"' in no_reason.text
            assert 'data-testid="reason-error">Give a reason' in no_reason.text
            assert 'value="Example Energy Co"' in no_reason.text
            no_organization = await browser.post(
                "/console/bulk-revoke",
                data={"csrf_token": token, "organization": " ", "reason": "Contract ended"},
            )
            assert no_organization.status_code == 400
            assert 'data-testid="organization-error">Give the organization' in no_organization.text
            assert "Value error" not in no_organization.text
            assert "exactly one of" not in no_organization.text
            assert (await browser.get(SELF, headers=key_header(issued["credential"]))).is_success


class TestDecisionFilters:
    async def test_times_ago_dates_and_addresses(
        self, make_app: AppFactory, admin_key: str, clock: FrozenClock
    ) -> None:
        async with console_client(make_app()) as browser:
            await issue_credential(browser)
            await signed_in(browser, admin_key)

            async def rows(**params: str) -> int:
                page = await browser.get("/console/decisions", params=params)
                assert page.status_code == 200, page.text
                return page.text.count("<tr data-outcome=")

            assert await rows(since="1h") == 1
            clock.advance(timedelta(hours=2))
            assert await rows(since="1h") == 0
            assert await rows(since="3h") == 1
            assert await rows(until="3h") == 0
            # The page's input holds the instant a time ago stands for, as datetime-local can.
            ago = await browser.get("/console/decisions", params={"since": "90m"})
            expected = (clock.now() - timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M")
            assert f'id="since" name="since" type="datetime-local" step="1" value="{expected}' in (
                ago.text
            )
            # A date alone is its midnight (UTC), in a value datetime-local accepts.
            day = await browser.get("/console/decisions", params={"until": "2026-03-01"})
            assert 'name="until" type="datetime-local" step="1" value="2026-03-01T00:00"' in (
                day.text
            )
            assert await rows(address="203.0.113.7") == 1
            assert await rows(address="203.0.113.7/32") == 1
            assert await rows(address="198.51.100.1") == 0
            bad = await browser.get("/console/decisions", params={"address": "10.0.0.999"})
            assert bad.status_code == 400
            assert "10.0.0.999" in bad.text
