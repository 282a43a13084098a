"""The operator console as a browser test meets it: admin keys in the served database, signing
in through the page, posts made from inside the page, and the page's geometry and focus."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Page

from agentkeys.config import Mode, Settings
from agentkeys.credentials.identity import AdminRole
from tests.support.admin import create_admin_key
from tests.support.app import TEST_SECRET
from tests.support.servers import RunningServer

CONSOLE = "/console"
SIGN_IN = "/console/login"


async def served_admin_key(
    server_database_url: str, name: str, role: AdminRole = AdminRole.ADMIN
) -> str:
    """A new admin key in the served database, as `agentkeys admin create-key` makes it."""
    settings = Settings(mode=Mode.PRODUCTION, secret=TEST_SECRET, database_url=server_database_url)
    _, key = await create_admin_key(settings, name, role)
    return key


async def sign_in(page: Page, server: RunningServer, key: str) -> None:
    """Through the sign-in form, as an operator does; on the overview when it returns."""
    await page.goto(f"{server.base_url}{SIGN_IN}")
    await page.get_by_label("Admin key").fill(key)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(f"{server.base_url}{CONSOLE}")


async def post_from_page(page: Page, path: str, fields: dict[str, str]) -> int:
    """A form POST made by script inside the signed-in page (its cookies, its origin: what a
    forged request riding the session would be); the status, redirects not followed."""
    status: int = await page.evaluate(
        """async ([path, fields]) => {
            const answer = await fetch(path, {
                method: "POST",
                body: new URLSearchParams(fields),
                redirect: "manual",
                credentials: "same-origin",
            });
            return answer.type === "opaqueredirect" ? 303 : answer.status;
        }""",
        [path, fields],
    )
    return status


async def csrf_token_of(page: Page) -> str:
    """This session's CSRF token, from the sign-out form every signed-in page carries."""
    token = await page.locator(
        "form[action='/console/logout'] input[name=csrf_token]"
    ).get_attribute("value")
    assert token, "no CSRF token on the page"
    return token


async def horizontal_overflow(page: Page) -> dict[str, Any]:
    """How far the page scrolls sideways, and the widest elements past the viewport's edge."""
    overflow: dict[str, Any] = await page.evaluate(
        """() => {
            const width = window.innerWidth;
            const wide = [];
            for (const node of document.querySelectorAll("body *")) {
                const box = node.getBoundingClientRect();
                if (box.right > width + 0.5 && box.width > 0) {
                    wide.push(`${node.tagName.toLowerCase()}#${node.id}.${node.className}`);
                }
            }
            return {
                scrollWidth: document.documentElement.scrollWidth,
                innerWidth: width,
                wide: wide.slice(0, 5),
            };
        }"""
    )
    return overflow


async def focus_ring(page: Page) -> dict[str, str]:
    """The focused element and how it shows focus: its outline and box shadow."""
    ring: dict[str, str] = await page.evaluate(
        """() => {
            const node = document.activeElement;
            const style = getComputedStyle(node);
            return {
                tag: node.tagName.toLowerCase(),
                // What a screen reader announces, near enough: the aria-label, the control's
                // label, or the link's or button's text.
                name: (node.getAttribute("aria-label") || node.labels?.[0]?.textContent
                    || node.textContent || "").trim().replace(/\\s+/g, " ").slice(0, 80),
                id: node.id,
                outlineStyle: style.outlineStyle,
                outlineWidth: style.outlineWidth,
                boxShadow: style.boxShadow,
                focusVisible: String(node.matches(":focus-visible")),
            };
        }"""
    )
    return ring


def shows_focus(ring: dict[str, str]) -> bool:
    """A visible ring: an outline of some width, or a box shadow, while ``:focus-visible``."""
    outlined = ring["outlineStyle"] != "none" and _pixels(ring["outlineWidth"]) > 0
    return ring["focusVisible"] == "true" and (outlined or ring["boxShadow"] != "none")


def _pixels(length: str) -> float:
    match = re.fullmatch(r"([0-9.]+)px", length)
    return float(match.group(1)) if match else 0.0
