"""The report rendered from real computations, opened in headless Chromium or Chrome:
the machine's own, found by ``tests/report/browser.py`` (``make test`` installs one
where there is none).

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
from tests.report.browser import Machine, find_browser, missing_message
from tests.report.sample import build

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
    tried: list[str] = []
    found = find_browser(Machine(), tried)
    if found is None:
        pytest.fail(
            missing_message(tried) + "\n`make test` (python -m tests.report.browser) installs one."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=found.path, headless=True, args=CHROMIUM_FLAGS
        )
        try:
            yield browser
        finally:
            browser.close()
