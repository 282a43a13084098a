"""The probes the console scenarios judge pages by, on pages made to pass or fail them: a probe
that could not fail would pass every console page."""

from __future__ import annotations

import pytest
from playwright.async_api import Page

from tests.support.browser import NARROW
from tests.support.console_browser import (
    focus_ring,
    horizontal_overflow,
    low_contrast_text,
    shows_focus,
)

pytestmark = pytest.mark.browser


class TestContrastProbe:
    async def test_grey_on_white_is_too_faint_and_black_is_not(self, page: Page) -> None:
        await page.set_content(
            '<p style="color:#999">faint</p><p style="color:#000">dark</p>'
            '<div style="background:#1b1e23"><p style="color:#fff">white on ink</p></div>'
            '<h1 style="font-size:32px;color:#888">large grey</h1>'
        )
        flagged = [failure["text"] for failure in await low_contrast_text(page)]
        # #999 on white is 2.85:1; #888 at 32 px is 3.54:1, enough for large text.
        assert flagged == ["faint"]


class TestOverflowProbe:
    async def test_a_block_wider_than_the_screen_is_found(self, page: Page) -> None:
        await page.set_viewport_size(NARROW)
        await page.set_content('<div id="wide" style="width:500px">wide</div>')
        overflow = await horizontal_overflow(page)
        assert overflow["scrollWidth"] > overflow["innerWidth"] == 390
        assert any(name.startswith("div#wide") for name in overflow["wide"])

    async def test_a_wide_table_in_a_scroll_region_is_not_the_pages_overflow(
        self, page: Page
    ) -> None:
        await page.set_viewport_size(NARROW)
        await page.set_content(
            '<div style="overflow-x:auto"><table style="width:900px"><tr><td>x</td></tr></table>'
            "</div>"
        )
        overflow = await horizontal_overflow(page)
        assert overflow["scrollWidth"] <= overflow["innerWidth"]


class TestFocusProbe:
    async def test_a_control_whose_outline_is_removed_shows_no_focus(self, page: Page) -> None:
        await page.set_content(
            '<button style="outline:none;box-shadow:none">hidden</button>'
            '<button style="outline:3px solid orange">shown</button>'
        )
        await page.keyboard.press("Tab")
        hidden = await focus_ring(page)
        await page.keyboard.press("Tab")
        shown = await focus_ring(page)
        assert (hidden["name"], shows_focus(hidden)) == ("hidden", False)
        assert (shown["name"], shows_focus(shown)) == ("shown", True)
