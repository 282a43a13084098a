"""Fixtures of the browser tests: Chromium (skipped, or failed under AGENTKEYS_REQUIRE_SERVICES=1,
when missing), a browser context per test, its screenshots, and a real `agentkeys serve` process.

Playwright's async API: every test has its own event loop (pytest-asyncio, function scope), so the
browser is launched per test, on that loop, and each xdist worker drives its own Chromium.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

from tests.support.browser import (
    WIDE,
    Screenshots,
    launch_arguments,
    require_chromium,
    screenshot_directory,
)
from tests.support.databases import ServedDatabase
from tests.support.servers import RunningServer, running_server

# Times on the pages follow the browser's zone: one that is not UTC shows the conversion.
TIME_ZONE = "America/Los_Angeles"
# expect(...) waits 5 s by default: a page from a server on a loaded two-core CI machine, with
# the other worker busy, can take longer.
expect.set_options(timeout=15_000)


@pytest.fixture(scope="session")
def chromium() -> Path:
    return require_chromium()


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium, args=launch_arguments()
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh profile (no cookies) at 1280 px."""
    opened = await browser.new_context(viewport=WIDE, locale="en-US", timezone_id=TIME_ZONE)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Screenshots:
    return Screenshots(screenshot_directory(request.node.nodeid))


@pytest.fixture
def server(
    chromium: Path, served_database: ServedDatabase, tmp_path: Path
) -> Iterator[RunningServer]:
    """`agentkeys serve` in production mode on the test's database (SQLite: it migrates it)."""
    with running_server(
        database_url=served_database.url, log_path=tmp_path / "server.log"
    ) as running:
        yield running
