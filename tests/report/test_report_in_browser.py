"""The HTML report renders its plots in a real browser (no screenshots, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request

from driftline.report import ReportData

# Every plot's box, and the drawn marks (bars) inside it with a box of their own.
PLOTS_JS = """
() => [...document.querySelectorAll('svg.plot')].map(svg => {
  const box = svg.getBoundingClientRect();
  const marks = [...svg.querySelectorAll('rect, path')].map(m => m.getBoundingClientRect())
    .filter(r => r.width > 0 && r.height > 0);
  const labels = [...svg.querySelectorAll('text')].filter(t => t.getBBox().width > 0);
  return {name: svg.dataset.plot, width: box.width, height: box.height,
          marks: marks.length, labels: labels.length,
          title: svg.querySelector('title')?.textContent ?? '',
          desc: svg.querySelector('desc')?.textContent ?? ''};
})
"""


@pytest.fixture(scope="module")
def opened(browser: Browser, report_file: Path) -> Any:
    """The report opened from its file, with its console messages and requests."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    messages: list[ConsoleMessage] = []
    errors: list[str] = []
    requests: list[Request] = []
    page.on("console", lambda message: messages.append(message))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request))
    page.goto(report_file.as_uri(), wait_until="load")
    plots = page.evaluate(PLOTS_JS)
    yield page, plots, messages, errors, requests
    context.close()


def test_every_plot_renders_with_size_and_drawn_marks(opened: Any, sample_data: ReportData) -> None:
    page: Page
    page, plots, *_ = opened
    # Then there is the metric chart, and per drift report a significance chart, a PSI
    # chart and a distribution for every feature and the prediction
    features = len(sample_data.drift_reports[0].report.features) + 1
    names = [plot["name"] for plot in plots]
    assert names.count("metric") == 1
    assert names.count("psi") == len(sample_data.drift_reports) == 2
    assert names.count("significance") == 2
    assert names.count("distribution:prediction") == 2
    assert len(plots) == 1 + 2 * (2 + features)
    for plot in plots:
        # Each has a box on the page, bars with a size, readable labels and a title
        assert plot["width"] > 100 and plot["height"] > 100, plot
        assert plot["marks"] >= 2, plot
        assert plot["labels"] >= 2, plot
        assert plot["title"] and plot["desc"], plot


def test_the_psi_chart_draws_a_bar_and_a_threshold_per_feature(
    opened: Any, sample_data: ReportData
) -> None:
    page: Page = opened[0]
    drifted = sample_data.drift_reports[1].report
    judged = len(drifted.features) + 1
    chart = page.locator('svg.plot[data-plot="psi"]').first
    bars = chart.locator("rect.mark")
    assert bars.count() == judged
    assert chart.locator("line.threshold").count() == judged
    # The drifted bars are the red ones, one per drifted feature
    red = chart.locator('rect.mark[fill="#cf222e"]')
    assert red.count() == len(drifted.drifted_features) > 0
    widths = [box["width"] for box in (bars.nth(i).bounding_box() for i in range(judged)) if box]
    assert len(widths) == judged and all(width > 0 for width in widths)
    # Sorted by PSI: the widest bar comes first
    assert widths[0] == max(widths)


def test_the_page_has_no_console_errors_and_requests_nothing(opened: Any) -> None:
    _, _, messages, errors, requests = opened
    assert errors == []
    assert [m.text for m in messages if m.type in {"error", "warning"}] == []
    # Only the page itself was loaded, from its file
    assert [r.url for r in requests if not r.url.startswith("file://")] == []
    assert len(requests) == 1


def test_every_section_is_on_the_page(opened: Any, sample_data: ReportData) -> None:
    page: Page = opened[0]
    for heading in (
        "Datasets and validation",
        "Model versions",
        "Inference runs",
        "Drift per feature",
        "Model quality on labels",
        "Retraining",
        "Lineage: from a dropped file to a prediction",
    ):
        assert page.get_by_role("heading", name=heading, exact=True).is_visible()
    # The rejected file's reason, as the contract wrote it, is readable
    reason = sample_data.status["datasets"][2]["reasons"][0]
    assert page.get_by_text(reason).is_visible()
    # Every plot is announced to assistive technology as an image with a name
    assert page.get_by_role("img").count() == page.locator("svg.plot").count()


def test_the_significance_chart_draws_a_bar_and_a_level_per_tested_feature(
    opened: Any, sample_data: ReportData
) -> None:
    page: Page = opened[0]
    drifted = sample_data.drift_reports[1].report  # the newest report comes first
    tested = [d for d in drifted.judged if d.p_value is not None]
    chart = page.locator('svg.plot[data-plot="significance"]').first
    # One bar and one level mark per tested feature, the significant ones red
    assert chart.locator("rect.mark").count() == len(tested) == drifted.tested
    assert chart.locator("line.threshold").count() == len(tested)
    red = chart.locator('rect.mark[fill="#cf222e"]')
    assert red.count() == sum(1 for d in tested if d.significant) > 0
    box = chart.locator("rect.mark").first.bounding_box()
    assert box is not None and box["width"] > 0
