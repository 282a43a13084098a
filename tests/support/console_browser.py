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


async def unreachable_scroll_regions(page: Page) -> list[str]:
    """Elements that scroll sideways (overflow-x auto or scroll, whether or not their content is
    wider now: at another width it is) but that a keyboard cannot focus or a screen reader
    cannot name: each needs tabindex="0", role="region" and an aria-label (form fields, which
    scroll their own text, are focusable and labelled already)."""
    found: list[str] = await page.evaluate(
        """() => {
            const bad = [];
            // Form fields scroll their own text, are focusable and labelled by their <label>.
            for (const node of document.querySelectorAll("body *:not(textarea, select, input)")) {
                const overflow = getComputedStyle(node).overflowX;
                if (overflow !== "auto" && overflow !== "scroll") continue;
                if (node.getAttribute("tabindex") !== "0" || node.getAttribute("role") !== "region"
                    || !(node.getAttribute("aria-label") || "").trim()) {
                    bad.push(node.outerHTML.slice(0, 120));
                }
            }
            return bad;
        }"""
    )
    return found


async def bare_badges(page: Page) -> list[str]:
    """Status badges whose horizontal padding has no background to sit in (their text looks
    indented against the column): each needs a background colour or no padding."""
    found: list[str] = await page.evaluate(
        """() => {
            const bad = [];
            for (const node of document.querySelectorAll(".status")) {
                const style = getComputedStyle(node);
                const padded = parseFloat(style.paddingLeft) > 0;
                const transparent = style.backgroundColor === "rgba(0, 0, 0, 0)"
                    || style.backgroundColor === "transparent";
                if (padded && transparent) bad.push(node.outerHTML.slice(0, 120));
            }
            return bad;
        }"""
    )
    return found


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


# WCAG 2.2 AA (1.4.3): 4.5:1 for text, 3:1 for large text (24 px, or 18.66 px bold).
CONTRAST_SCRIPT = """() => {
    const channels = (color) => {
        const parts = color.match(/[0-9.]+/g).map(Number);
        return {rgb: parts.slice(0, 3), alpha: parts.length > 3 ? parts[3] : 1};
    };
    const luminance = ([r, g, b]) => {
        const linear = [r, g, b].map((value) => {
            const v = value / 255;
            return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2];
    };
    const background = (node) => {
        for (let at = node; at; at = at.parentElement) {
            const {rgb, alpha} = channels(getComputedStyle(at).backgroundColor);
            if (alpha > 0) return rgb;
        }
        return [255, 255, 255];
    };
    const failures = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    const seen = new Set();
    for (let text = walker.nextNode(); text; text = walker.nextNode()) {
        const node = text.parentElement;
        if (!text.textContent.trim() || seen.has(node) || node.closest("svg")) continue;
        seen.add(node);
        const box = node.getBoundingClientRect();
        const style = getComputedStyle(node);
        if (box.width === 0 || style.visibility === "hidden" || node.closest("[hidden]")) continue;
        if (box.right < 0 || box.bottom < 0) continue;  // off-screen (the skip link at rest)
        const front = luminance(channels(style.color).rgb);
        const back = luminance(background(node));
        const ratio = (Math.max(front, back) + 0.05) / (Math.min(front, back) + 0.05);
        const size = parseFloat(style.fontSize);
        const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
        if (ratio < (large ? 3 : 4.5)) {
            failures.push({
                text: text.textContent.trim().slice(0, 40),
                ratio: Math.round(ratio * 100) / 100,
                color: style.color,
                background: background(node).join(","),
            });
        }
    }
    return failures;
}"""


async def low_contrast_text(page: Page) -> list[dict[str, Any]]:
    """Visible text (outside the charts' SVG) below WCAG AA contrast against its background."""
    failures: list[dict[str, Any]] = await page.evaluate(CONTRAST_SCRIPT)
    return failures
