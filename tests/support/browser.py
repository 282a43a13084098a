"""Chromium for the console's browser tests: Debian's build (never a Playwright download), skipped
or failed when missing like the other services, and screenshots kept under the run's output."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from playwright.async_api import Page, ViewportSize

CHROMIUM = Path(os.environ.get("AGENTKEYS_TEST_CHROMIUM", "/usr/bin/chromium"))
REPOSITORY = Path(__file__).resolve().parents[2]
# Git-ignored; AGENTKEYS_TEST_OUTPUT moves it (a CI artifact folder, a temporary directory).
OUTPUT = Path(os.environ.get("AGENTKEYS_TEST_OUTPUT", REPOSITORY / "test-output"))
SCREENSHOTS = OUTPUT / "screenshots"

# The widths the issue names: a phone and a laptop.
NARROW = ViewportSize(width=390, height=844)
WIDE = ViewportSize(width=1280, height=800)


def require_chromium() -> Path:
    """Skip (or, with AGENTKEYS_REQUIRE_SERVICES=1, fail) when Chromium is not installed."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("AGENTKEYS_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (AGENTKEYS_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(reason)


def launch_arguments() -> list[str]:
    """Chromium's sandbox needs user namespaces a root process may not have: off as root only.
    /dev/shm is small in containers; Chromium crashes filling it, so it uses /tmp instead."""
    arguments = ["--disable-dev-shm-usage"]
    if os.geteuid() == 0:
        arguments.append("--no-sandbox")
    return arguments


def screenshot_directory(nodeid: str) -> Path:
    """Where a test's screenshots go: ``tests/browser/test_x.py::TestY::test_z[sqlite]`` →
    ``test_x/TestY.test_z[sqlite]`` under ``SCREENSHOTS``."""
    path, _, name = nodeid.partition("::")
    safe = re.sub(r"[^A-Za-z0-9_.\[\]-]+", "_", name.replace("::", "."))
    return SCREENSHOTS / Path(path).stem / safe


class Screenshots:
    """One test's screenshots, numbered in the order taken: ``01-signed-in.png``, ..."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.taken: list[Path] = []
        # A rerun replaces the test's earlier pictures rather than mixing with them.
        shutil.rmtree(directory, ignore_errors=True)

    async def take(self, page: Page, step: str, *, full_page: bool = True) -> Path:
        """The page as ``NN-step.png``: all of it, or only what the viewport shows."""
        path = self.directory / f"{len(self.taken) + 1:02d}-{step}.png"
        await page.screenshot(path=path, full_page=full_page)
        self.taken.append(path)
        return path
