"""The operator console in Chromium against a real `agentkeys serve` process (production mode:
its cookies are ``__Host-``/Secure, which Chromium keeps for http://127.0.0.1 as a secure origin).

Each scenario saves screenshots at its key steps (tests/support/browser.py says where)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Cookie, Page, expect

from agentkeys.console.session import SessionSigner
from agentkeys.credentials.identity import AdminRole
from tests.support.app import TEST_SECRET
from tests.support.browser import NARROW, WIDE, Screenshots
from tests.support.console_browser import (
    CONSOLE,
    SIGN_IN,
    bare_badges,
    csrf_token_of,
    focus_ring,
    horizontal_overflow,
    low_contrast_text,
    post_from_page,
    served_admin_key,
    shows_focus,
    sign_in,
    unreachable_scroll_regions,
)
from tests.support.databases import ServedDatabase
from tests.support.factories import credential_request, issue_credential, key_header
from tests.support.servers import RunningServer, running_server

pytestmark = pytest.mark.browser

SELF = "/v1/agent-credentials/self"
ORGANIZATION = "Browser Grid Cooperative"
OTHER_ORGANIZATION = "Unrelated Power & Light"
# Long enough to sign in and read a page on a loaded two-core machine, short enough to wait.
SHORT_SESSION_SECONDS = 8


@pytest.fixture
async def agent(server: RunningServer) -> AsyncIterator[httpx.AsyncClient]:
    """An agent's HTTP client on the server (no browser: it asks the API directly)."""
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        yield http


async def issued(agent: httpx.AsyncClient, organization: str, email: str) -> dict[str, Any]:
    return await issue_credential(agent, organization_name=organization, user_email=email)


async def session_cookie(context: BrowserContext) -> Cookie:
    """The browser's one console session cookie (production mode: the ``__Host-`` name)."""
    cookies = [c for c in await context.cookies() if c.get("name") == "__Host-agentkeys_console"]
    assert len(cookies) == 1, await context.cookies()
    return cookies[0]


class TestRevocation:
    async def test_an_admin_finds_the_agents_new_credential_and_revokes_it_for_good(
        self,
        server: RunningServer,
        served_database: ServedDatabase,
        agent: httpx.AsyncClient,
        page: Page,
        screenshots: Screenshots,
    ) -> None:
        admin_key = await served_admin_key(served_database.url, "oncall")
        other = await issued(agent, OTHER_ORGANIZATION, "dev@unrelated.example")
        body = await issued(agent, ORGANIZATION, "dev@browser-grid.example")
        credential_id, key = body["credential_id"], body["credential"]
        assert (await agent.get(SELF, headers=key_header(key))).status_code == 200

        await sign_in(page, server, admin_key)
        await expect(page.get_by_test_id("signed-in-as")).to_contain_text("oncall (admin)")
        await screenshots.take(page, "overview-signed-in")

        await page.get_by_role("link", name="Credentials", exact=True).click()
        rows = page.locator("tr[data-credential-id]")
        await expect(rows).to_have_count(2)
        await expect(page.locator(f"tr[data-credential-id='{credential_id}']")).to_be_visible()
        await screenshots.take(page, "credentials-both")

        await page.get_by_label("Organization").fill(ORGANIZATION)
        await page.get_by_role("button", name="Apply filters").click()
        # htmx swapped the table in place and put the filter in the address (shareable).
        await expect(rows).to_have_count(1)
        await expect(
            page.locator(f"tr[data-credential-id='{other['credential_id']}']")
        ).to_have_count(0)
        assert "organization=" in page.url
        await screenshots.take(page, "credentials-filtered-by-organization")

        row = page.locator(f"tr[data-credential-id='{credential_id}']")
        await row.get_by_role("link", name=ORGANIZATION).click()
        await expect(page.get_by_test_id("credential-status")).to_contain_text("active")
        await expect(page.locator("#agent-request")).to_contain_text(
            credential_request()["assignment"]
        )
        # Times in the browser's zone (the context's: Los Angeles), UTC kept on hover.
        created = page.locator("#credential-facts time").first
        await expect(created).to_have_attribute("data-localized", "true")
        await expect(created).to_contain_text(re.compile(r"P[SD]T"))
        await expect(created).to_have_attribute("title", re.compile(r" UTC$"))
        # A duration in words, its exact seconds on hover.
        lifetime = page.get_by_test_id("lifetime-granted").locator(".duration")
        await expect(lifetime).to_have_text("1 day")
        await expect(lifetime).to_have_attribute("title", "86400 seconds")
        await screenshots.take(page, "credential-active")

        await page.get_by_role("link", name="Revoke this credential…").click()
        await expect(page.get_by_role("heading", level=1)).to_contain_text(credential_id)
        await page.get_by_label("Reason (recorded with the revocation)").fill(
            "key pasted in a public issue"
        )
        await screenshots.take(page, "revoke-confirmation")
        await page.get_by_role("button", name="Revoke credential").click()

        await expect(page.get_by_test_id("revoked-notice")).to_be_visible()
        await expect(page.get_by_test_id("credential-status")).to_contain_text("revoked")
        await expect(page.get_by_test_id("revoked-by")).to_contain_text("admin:oncall")
        await expect(page.get_by_role("link", name="Revoke this credential…")).to_have_count(0)
        await screenshots.take(page, "credential-revoked")

        refused = await agent.get(SELF, headers=key_header(key))
        assert refused.status_code == 401
        assert refused.json()["error_code"] == "AUTH_REVOKED_CREDENTIAL"
        # The other organization's key was not touched.
        assert (await agent.get(SELF, headers=key_header(other["credential"]))).status_code == 200

    async def test_a_bulk_revocation_shows_the_count_before_it_revokes_that_many(
        self,
        server: RunningServer,
        served_database: ServedDatabase,
        agent: httpx.AsyncClient,
        page: Page,
        screenshots: Screenshots,
    ) -> None:
        admin_key = await served_admin_key(served_database.url, "oncall")
        keys = [
            (await issued(agent, ORGANIZATION, f"dev{number}@browser-grid.example"))["credential"]
            for number in range(3)
        ]
        other = (await issued(agent, OTHER_ORGANIZATION, "dev@unrelated.example"))["credential"]
        await sign_in(page, server, admin_key)

        await page.goto(f"{server.base_url}/console/credentials")
        await page.locator("#bulk-revoke-link").click()
        await page.get_by_label("Organization").fill(ORGANIZATION.upper())
        await page.get_by_role("button", name="Count its active credentials").click()
        await expect(page.get_by_test_id("bulk-count")).to_have_attribute("data-count", "3")
        # The organization as its credentials store it, not as typed (upper case).
        await expect(page.get_by_test_id("bulk-organization-names")).to_have_text(ORGANIZATION)
        await page.get_by_label("Reason (recorded with each revocation)").fill("contract ended")
        await screenshots.take(page, "bulk-count-before-confirming")
        for key in keys:  # nothing is revoked by counting
            assert (await agent.get(SELF, headers=key_header(key))).status_code == 200

        await page.get_by_role("button", name="Revoke 3 credentials").click()
        # Post-redirect-get: the list of that organization (as stored), with the count.
        await expect(page.get_by_test_id("notice")).to_contain_text("Revoked 3 active credentials")
        assert "notice=bulk-revoked&count=3" in page.url
        await expect(page.locator("#organization")).to_have_value(ORGANIZATION)
        await screenshots.take(page, "bulk-revoked")
        for key in keys:
            assert (await agent.get(SELF, headers=key_header(key))).status_code == 401
        assert (await agent.get(SELF, headers=key_header(other))).status_code == 200


class TestRefusedPosts:
    async def test_a_viewer_has_no_revoke_control_and_a_forged_revoke_is_refused(
        self,
        server: RunningServer,
        served_database: ServedDatabase,
        agent: httpx.AsyncClient,
        page: Page,
        screenshots: Screenshots,
    ) -> None:
        viewer_key = await served_admin_key(served_database.url, "auditor", AdminRole.VIEWER)
        body = await issued(agent, ORGANIZATION, "dev@browser-grid.example")
        credential_id, key = body["credential_id"], body["credential"]

        await sign_in(page, server, viewer_key)
        await expect(page.get_by_test_id("signed-in-as")).to_contain_text("auditor (viewer)")
        await page.goto(f"{server.base_url}/console/credentials/{credential_id}")
        await expect(page.get_by_test_id("credential-status")).to_contain_text("active")
        await expect(page.get_by_role("link", name="Revoke this credential…")).to_have_count(0)
        await expect(page.get_by_role("button", name="Revoke credential")).to_have_count(0)
        await screenshots.take(page, "viewer-credential-without-revoke")
        await page.goto(f"{server.base_url}/console/credentials")
        await expect(page.locator(f"tr[data-credential-id='{credential_id}']")).to_be_visible()
        await expect(page.locator("#bulk-revoke-link")).to_have_count(0)

        # The viewer's own valid session and CSRF token: the role, not the token, refuses it.
        token = await csrf_token_of(page)
        revoke = f"/console/credentials/{credential_id}/revoke"
        status = await post_from_page(page, revoke, {"csrf_token": token, "reason": "forged"})
        assert status == 403
        bulk = await post_from_page(
            page,
            "/console/bulk-revoke",
            {"csrf_token": token, "organization": ORGANIZATION, "reason": "forged"},
        )
        assert bulk == 403
        assert (await agent.get(SELF, headers=key_header(key))).status_code == 200
        await page.reload()
        await expect(page.get_by_test_id("signed-in-as")).to_contain_text("auditor (viewer)")

    async def test_a_post_without_the_sessions_csrf_token_is_refused(
        self,
        server: RunningServer,
        served_database: ServedDatabase,
        agent: httpx.AsyncClient,
        page: Page,
        screenshots: Screenshots,
    ) -> None:
        admin_key = await served_admin_key(served_database.url, "oncall")
        body = await issued(agent, ORGANIZATION, "dev@browser-grid.example")
        credential_id, key = body["credential_id"], body["credential"]
        await sign_in(page, server, admin_key)
        revoke = f"/console/credentials/{credential_id}/revoke"

        assert await post_from_page(page, revoke, {"reason": "no token"}) == 403
        assert await post_from_page(page, revoke, {"csrf_token": "x" * 43, "reason": "bad"}) == 403
        assert await post_from_page(page, "/console/logout", {}) == 403
        assert (await agent.get(SELF, headers=key_header(key))).status_code == 200

        # What the operator sees when a form's token is missing: the refusal page.
        await page.goto(f"{server.base_url}{revoke}")
        await page.locator("#revoke-form input[name=csrf_token]").evaluate("node => node.remove()")
        await page.get_by_label("Reason (recorded with the revocation)").fill("no token")
        await page.get_by_role("button", name="Revoke credential").click()
        await expect(page.get_by_test_id("error")).to_contain_text("403")
        # Still signed in: the page keeps the header, its nav and sign-out.
        await expect(page.get_by_test_id("signed-in-as")).to_contain_text("oncall (admin)")
        await expect(page.get_by_role("navigation", name="Console")).to_be_visible()
        await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        await screenshots.take(page, "csrf-token-missing-refused")
        assert (await agent.get(SELF, headers=key_header(key))).status_code == 200

        # The same form with its token goes through: the token was the only thing missing.
        await page.goto(f"{server.base_url}{revoke}")
        await page.get_by_label("Reason (recorded with the revocation)").fill("with token")
        await page.get_by_role("button", name="Revoke credential").click()
        await expect(page.get_by_test_id("revoked-notice")).to_be_visible()
        assert (await agent.get(SELF, headers=key_header(key))).status_code == 401


class TestSession:
    async def test_pages_refuse_a_visitor_without_a_session(
        self, server: RunningServer, page: Page, screenshots: Screenshots
    ) -> None:
        for path in (CONSOLE, "/console/credentials", "/console/decisions", "/console/webhooks"):
            await page.goto(f"{server.base_url}{path}")
            assert page.url == f"{server.base_url}{SIGN_IN}", path
        await expect(page.get_by_label("Admin key")).to_be_visible()
        await screenshots.take(page, "sign-in")

    async def test_signing_out_ends_the_session(
        self,
        server: RunningServer,
        served_database: ServedDatabase,
        context: BrowserContext,
        page: Page,
        screenshots: Screenshots,
    ) -> None:
        admin_key = await served_admin_key(served_database.url, "oncall")
        await sign_in(page, server, admin_key)
        await session_cookie(context)

        await page.get_by_role("button", name="Sign out").click()
        await page.wait_for_url(f"{server.base_url}{SIGN_IN}")
        await screenshots.take(page, "signed-out")
        await page.goto(f"{server.base_url}/console/credentials")
        assert page.url == f"{server.base_url}{SIGN_IN}"
        names = [cookie.get("name") for cookie in await context.cookies()]
        assert "__Host-agentkeys_console" not in names

    async def test_a_wrong_key_is_refused_with_a_clear_message(
        self,
        server: RunningServer,
        served_database: ServedDatabase,
        page: Page,
        screenshots: Screenshots,
    ) -> None:
        await served_admin_key(served_database.url, "oncall")
        await page.goto(f"{server.base_url}{SIGN_IN}")
        await page.get_by_label("Admin key").fill("wsk_admin_" + "0" * 49)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_test_id("sign-in-error")).to_contain_text("not a valid admin key")
        assert page.url == f"{server.base_url}{SIGN_IN}"
        await screenshots.take(page, "wrong-key-refused")

    async def test_an_expired_session_is_sent_back_to_sign_in(
        self,
        served_database: ServedDatabase,
        tmp_path: Path,
        context: BrowserContext,
        page: Page,
        screenshots: Screenshots,
    ) -> None:
        """A server whose sessions last seconds (AGENTKEYS_CONSOLE_SESSION_SECONDS): sign in,
        wait the session out, and the next page is the sign-in form."""
        lifetime = timedelta(seconds=SHORT_SESSION_SECONDS)
        with running_server(
            database_url=served_database.url,
            log_path=tmp_path / "short-sessions.log",
            extra_env={"AGENTKEYS_CONSOLE_SESSION_SECONDS": str(SHORT_SESSION_SECONDS)},
        ) as server:
            admin_key = await served_admin_key(served_database.url, "oncall")
            await page.goto(f"{server.base_url}{SIGN_IN}")
            await expect(page.get_by_test_id("session-lifetime")).to_have_text(
                f"{SHORT_SESSION_SECONDS} seconds"
            )
            signed_in_at = datetime.now(UTC)
            await sign_in(page, server, admin_key)
            cookie = await session_cookie(context)
            assert cookie.get("httpOnly")
            assert cookie.get("secure")
            assert cookie.get("sameSite") == "Strict"
            claims = SessionSigner(TEST_SECRET.encode()).decode(
                cookie.get("value"), now=datetime.now(UTC)
            )
            assert claims is not None
            # The setting's lifetime from the sign-in (the server counts whole seconds).
            earliest = signed_in_at.replace(microsecond=0) + lifetime
            assert earliest <= claims.expires_at <= datetime.now(UTC) + lifetime

            # Wait the session out (the browser drops the cookie at its Max-Age; the server
            # would refuse its signed expiry all the same: tests/integration covers that).
            await asyncio.sleep(max(0.0, (claims.expires_at - datetime.now(UTC)).total_seconds()))
            await asyncio.sleep(1)
            await page.goto(f"{server.base_url}/console/credentials")
            assert page.url == f"{server.base_url}{SIGN_IN}"
            await expect(page.get_by_label("Admin key")).to_be_visible()
            await screenshots.take(page, "expired-session-at-sign-in")

            # Signing in again starts a new session.
            await sign_in(page, server, admin_key)
            await expect(page.get_by_test_id("signed-in-as")).to_contain_text("oncall")


class TestOverview:
    async def test_the_charts_count_the_decisions_made_in_the_test(
        self,
        server: RunningServer,
        served_database: ServedDatabase,
        agent: httpx.AsyncClient,
        page: Page,
        screenshots: Screenshots,
    ) -> None:
        admin_key = await served_admin_key(served_database.url, "oncall")
        await issued(agent, ORGANIZATION, "one@browser-grid.example")
        await issued(agent, ORGANIZATION, "two@browser-grid.example")
        await issued(agent, OTHER_ORGANIZATION, "one@unrelated.example")
        missing = await agent.post(
            "/v1/agent-credentials", json=credential_request(user_email=None)
        )
        assert missing.json()["outcome"] == "needs_more_info", missing.text

        await sign_in(page, server, admin_key)
        for chart in ("chart-hourly", "chart-daily"):
            figure = page.get_by_test_id(chart)
            await expect(figure).to_have_attribute("data-total", "4")
            await expect(figure).to_have_attribute("data-issued", "3")
            await expect(figure).to_have_attribute("data-needs-more-info", "1")
            await expect(figure).to_have_attribute("data-rate-limited", "0")
            await expect(figure).to_have_attribute("data-production-denied", "0")
            # Drawn in the SVG's bars, all in the newest ones (two, should the test straddle
            # the turn of an hour or a day).
            bars = await figure.locator("g.bar").evaluate_all(
                "bars => bars.map(bar => Number(bar.dataset.total))"
            )
            assert sum(bars) == 4, bars
            assert sum(bars[-2:]) == 4, bars
            assert await figure.locator("svg[role=img] title").count() >= 1
            # Each end of the axis says its day and that the buckets are UTC's.
            ends = await figure.locator(".axis span").all_text_contents()
            date = r"\d{4}-\d{2}-\d{2}"
            assert re.fullmatch(rf"{date}( \d{{2}}:00)? UTC", ends[0]), ends
            assert re.fullmatch(rf"{date}( \d{{2}}:00)? UTC", ends[-1]), ends
            assert ends[0] != ends[-1], ends
        await expect(page.get_by_test_id("decisions-total")).to_contain_text("4")
        await expect(page.get_by_test_id("credentials-issued")).to_contain_text("3")
        await expect(page.locator("#top-organizations")).to_contain_text(ORGANIZATION)
        await screenshots.take(page, "overview-with-decisions")


class TestDecisions:
    async def test_the_ledger_filtered_by_outcome_shows_what_the_answer_asked_for(
        self,
        server: RunningServer,
        served_database: ServedDatabase,
        agent: httpx.AsyncClient,
        page: Page,
        screenshots: Screenshots,
    ) -> None:
        admin_key = await served_admin_key(served_database.url, "oncall")
        await issued(agent, ORGANIZATION, "dev@browser-grid.example")
        missing = await agent.post(
            "/v1/agent-credentials",
            json=credential_request(organization_name=ORGANIZATION, user_email=None),
        )
        assert missing.json()["outcome"] == "needs_more_info", missing.text
        await sign_in(page, server, admin_key)

        await page.get_by_role("link", name="Decisions", exact=True).click()
        rows = page.locator("#decisions-table tr[data-outcome]")
        await expect(rows).to_have_count(2)
        await page.get_by_label("Outcome").select_option("needs_more_info")
        await page.get_by_role("button", name="Apply filters").click()
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_have_attribute("data-outcome", "needs_more_info")
        await expect(rows.first).to_contain_text("Missing fields: user_email")
        await screenshots.take(page, "decisions-needs-more-info")


def console_pages(credential_id: str) -> list[tuple[str, str]]:
    """Every console page a signed-in admin reaches: (screenshot step, path)."""
    return [
        ("overview", CONSOLE),
        ("credentials", "/console/credentials"),
        ("credential", f"/console/credentials/{credential_id}"),
        ("revoke", f"/console/credentials/{credential_id}/revoke"),
        ("bulk-revoke", f"/console/bulk-revoke?organization={ORGANIZATION}"),
        ("decisions", "/console/decisions"),
        ("webhooks", "/console/webhooks"),
    ]


class TestLayout:
    @pytest.mark.parametrize("viewport", [NARROW, WIDE], ids=["390px", "1280px"])
    async def test_no_page_scrolls_sideways(
        self,
        server: RunningServer,
        served_database: ServedDatabase,
        agent: httpx.AsyncClient,
        browser: Browser,
        viewport: Any,
        screenshots: Screenshots,
    ) -> None:
        admin_key = await served_admin_key(served_database.url, "oncall")
        webhook = await agent.post(
            "/v1/admin/webhooks",
            json={
                "url": "https://hooks.example.com/agentkeys/credential-events",
                "events": ["credential.issued", "credential.revoked"],
            },
            headers={"Authorization": f"Bearer {admin_key}"},
        )
        assert webhook.status_code in {200, 201}, webhook.text
        credential_id = ""
        for number in range(3):
            body = await issued(agent, ORGANIZATION, f"developer{number}@browser-grid.example")
            credential_id = body["credential_id"]
        await agent.post("/v1/agent-credentials", json=credential_request(user_email=None))

        context = await browser.new_context(viewport=viewport, locale="en-US")
        try:
            page = await context.new_page()
            await page.goto(f"{server.base_url}{SIGN_IN}")
            overflow = await horizontal_overflow(page)
            await screenshots.take(page, "sign-in")
            assert overflow["scrollWidth"] <= overflow["innerWidth"], ("sign-in", overflow)
            await sign_in(page, server, admin_key)
            for step, path in console_pages(credential_id):
                await page.goto(f"{server.base_url}{path}")
                await expect(page.locator("main h1")).to_be_visible()
                overflow = await horizontal_overflow(page)
                await screenshots.take(page, step)
                assert overflow["scrollWidth"] <= overflow["innerWidth"], (step, overflow)
                assert await unreachable_scroll_regions(page) == [], step
                assert await bare_badges(page) == [], step
                if step == "decisions" and viewport == WIDE:
                    # Every column in view at 1280 px (no scroll inside the region), and the
                    # time on one line.
                    fit = await page.evaluate(
                        """() => {
                          const region = document.querySelector('#decisions-table').parentElement;
                          const cell = document.querySelector('#decisions-table td');
                          const line = parseFloat(getComputedStyle(cell).lineHeight) || 20;
                          const time = cell.querySelector('time').getBoundingClientRect();
                          return {table: region.scrollWidth, region: region.clientWidth,
                                  lines: Math.round(time.height / line)};
                        }"""
                    )
                    assert fit["table"] <= fit["region"], fit
                    assert fit["lines"] == 1, fit
        finally:
            await context.close()


class TestContrast:
    async def test_every_pages_text_is_readable_against_its_background(
        self,
        server: RunningServer,
        served_database: ServedDatabase,
        agent: httpx.AsyncClient,
        page: Page,
    ) -> None:
        admin_key = await served_admin_key(served_database.url, "oncall")
        body = await issued(agent, ORGANIZATION, "dev@browser-grid.example")
        await agent.post("/v1/agent-credentials", json=credential_request(user_email=None))
        await page.goto(f"{server.base_url}{SIGN_IN}")
        assert await low_contrast_text(page) == [], "sign-in"
        await page.get_by_label("Admin key").fill("wsk_admin_" + "0" * 49)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_test_id("sign-in-error")).to_be_visible()
        assert await low_contrast_text(page) == [], "sign-in refused"
        await sign_in(page, server, admin_key)
        for step, path in console_pages(body["credential_id"]):
            await page.goto(f"{server.base_url}{path}")
            await expect(page.locator("main h1")).to_be_visible()
            assert await low_contrast_text(page) == [], step


class TestKeyboard:
    async def test_tab_reaches_the_main_controls_with_a_visible_focus(
        self,
        server: RunningServer,
        served_database: ServedDatabase,
        agent: httpx.AsyncClient,
        page: Page,
        screenshots: Screenshots,
    ) -> None:
        admin_key = await served_admin_key(served_database.url, "oncall")
        body = await issued(agent, ORGANIZATION, "dev@browser-grid.example")
        credential_id = body["credential_id"]

        await page.goto(f"{server.base_url}{SIGN_IN}")
        reached = await tab_until(page, "Admin key")
        assert reached[0]["name"] == "Skip to content", reached
        await page.keyboard.type(admin_key)
        await screenshots.take(page, "sign-in-key-focused", full_page=False)
        await page.keyboard.press("Tab")
        assert (await focus_ring(page))["name"] == "Sign in"
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{server.base_url}{CONSOLE}")

        await page.goto(f"{server.base_url}/console/credentials")
        for name in ("Overview", "Credentials", "Decisions", "Webhooks", "Sign out", "Search"):
            await tab_until(page, name)
        await page.keyboard.type("browser grid")
        for name in ("Apply filters", "Organization", "Created", "Last used", ORGANIZATION):
            await tab_until(page, name)
        await screenshots.take(page, "credentials-link-focused", full_page=False)
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{server.base_url}/console/credentials/{credential_id}")

        await tab_until(page, "Revoke this credential…")
        await screenshots.take(page, "revoke-link-focused", full_page=False)
        await page.keyboard.press("Enter")
        await page.wait_for_url(f"{server.base_url}/console/credentials/{credential_id}/revoke")
        await tab_until(page, "reason", by="id")
        await page.keyboard.type("rotated by keyboard")
        await tab_until(page, "Revoke credential")
        await screenshots.take(page, "revoke-button-focused", full_page=False)
        await page.keyboard.press("Enter")
        await expect(page.get_by_test_id("revoked-notice")).to_be_visible()


MAX_TABS = 60


async def tab_until(page: Page, wanted: str, *, by: str = "name") -> list[dict[str, str]]:
    """Press Tab until the focus is on ``wanted`` (its name: aria-label, label or text; or its
    id); every stop on the way must show a visible focus ring. The stops, in order."""
    stops: list[dict[str, str]] = []
    for _ in range(MAX_TABS):
        await page.keyboard.press("Tab")
        ring = await focus_ring(page)
        if ring["tag"] == "body":
            continue
        stops.append(ring)
        assert shows_focus(ring), ring
        if by == "id" and ring["id"] == wanted:
            return stops
        # A sortable header's name ends in its arrow ("Created ▼").
        if by == "name" and wanted in (ring["name"], ring["name"].rsplit(" ", 1)[0]):
            return stops
    raise AssertionError(f"Tab never reached {wanted!r}: {[stop['name'] for stop in stops]}")
