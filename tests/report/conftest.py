"""The report rendered from real computations, opened in Debian's headless Chromium.

These tests need no network and open no socket to another host: Playwright talks to the
browser it starts over a pipe, and the page itself may fetch nothing (its CSP says so,
and the tests check that nothing was requested).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from driftline.report import ReportData, render_report
from tests.report.sample import build

CHROMIUM = Path("/usr/bin/chromium")
# This machine's network is closed: without the background-networking flags Chromium
# keeps trying to reach its services and logs refused connections.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory: pytest.TempPathFactory) -> ReportData:
    return build(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="session")
def report_file(sample_data: ReportData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report(sample_data), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    assert CHROMIUM.is_file(), "Chromium is missing: `make setup` installs Debian's chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield browser
        finally:
            browser.close()
