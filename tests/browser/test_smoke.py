"""The browser tests' machinery on a page every server has: Chromium drives a real server process
and the screenshots land where the docs say."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from tests.support.browser import SCREENSHOTS, Screenshots
from tests.support.servers import RunningServer

pytestmark = pytest.mark.browser


async def test_the_api_reference_renders_from_the_server_itself(
    server: RunningServer, page: Page, screenshots: Screenshots
) -> None:
    failed: list[str] = []
    page.on("requestfailed", lambda request: failed.append(request.url))
    page.on("pageerror", lambda error: failed.append(str(error)))

    answer = await page.goto(f"{server.base_url}/docs")

    assert answer is not None
    assert answer.status == 200
    # Swagger UI's script ran: it fetched the OpenAPI document and drew an operation per route.
    await page.locator(".opblock").first.wait_for()
    assert await page.locator(".opblock").count() > 10
    assert failed == []
    shot = await screenshots.take(page, "api-reference", full_page=False)
    assert shot.is_relative_to(SCREENSHOTS)
    assert shot.read_bytes().startswith(b"\x89PNG")
