"""The HTML report (driftline.report): content, escaping, self-containment, the CLI."""

from __future__ import annotations

import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from driftline_runtime.baseline import Baseline
from driftline_runtime.drift import drift_report

from driftline.cli import main
from driftline.report import (
    DriftReportDocument,
    LineageChain,
    LineageStep,
    ReportData,
    render_report,
)
from tests.unit.status_document import HOSTILE, NOW, full_status


def baseline() -> Baseline:
    """Two features and the prediction, as a training job's baseline.json holds them (v2)."""

    def numeric(
        edges: list[float], shares: list[float], mean: float, sketch: list[float], rows: int
    ) -> dict[str, Any]:
        return {
            "kind": "numeric",
            "rows": rows,
            "count": rows,
            "null_share": 0.0,
            "bin_edges": edges,
            "bin_shares": shares,
            "mean": mean,
            "std": 1.0,
            "min": 0.0,
            "max": 100.0,
            "quantiles": sketch,
        }

    return Baseline.model_validate(
        {
            "schema_version": 2,
            "split": "train",
            "rows": 1_000,
            "positive_rate": 0.1,
            "target_column": "is_fraud",
            "id_column": "transaction_id",
            "feature_columns": ["amount", "channel"],
            "binning": {"quantiles": [0.5]},
            "features": {
                "amount": numeric(
                    [10.0, 50.0], [0.3, 0.4, 0.3], 40.0, [5.0] * 3 + [20.0] * 4 + [70.0] * 3, 1_000
                ),
                "channel": {
                    "kind": "categorical",
                    "rows": 1_000,
                    "count": 1_000,
                    "null_share": 0.0,
                    "distinct": 2,
                    "frequencies": {"pos": 0.6, "online": 0.4, "__other__": 0.0, "__null__": 0.0},
                },
            },
            "prediction": {
                **numeric([0.5], [0.9, 0.1], 0.1, [0.1] * 9 + [0.9], 200),
                "split": "test",
            },
        }
    )


def document(dataset: str = "scoring", *, drifted: bool) -> DriftReportDocument:
    if drifted:  # large amounts and online only: both features and the prediction move
        table = pa.table({"amount": [80.0, 90.0, 95.0, 99.0] * 20, "channel": ["online"] * 80})
        probabilities = np.array([0.9, 0.8, 0.7, 0.2] * 20)
    else:  # the training shares exactly
        table = pa.table(
            {
                "amount": ([5.0] * 3 + [20.0] * 4 + [70.0] * 3) * 10,
                "channel": (["pos"] * 6 + ["online"] * 4) * 10,
            }
        )
        probabilities = np.array(([0.1] * 9 + [0.9]) * 10)
    return DriftReportDocument(
        dataset=dataset,
        version="b542644ec70d8217",
        time=NOW + timedelta(minutes=1 if drifted else 0),
        model_package_arn="arn:aws:sagemaker:us-east-1:000000000000:model-package/g-transactions/1",
        report_uri=f"s3://artifacts/drift/{dataset}.json",
        report=drift_report(baseline(), table, probabilities),
    )


def report_data(status: dict[str, Any], *, dataset: str = "scoring") -> ReportData:
    return ReportData(
        generated_at=NOW,
        target="local cloud (http://127.0.0.1:4566)",
        status=status,
        drift_reports=[document(dataset, drifted=False), document(dataset, drifted=True)],
        lineage=[
            LineageChain(
                title="transactions.csv to model v1",
                steps=[
                    LineageStep(kind="raw object", name="transactions.csv", uri="s3://raw/t.csv"),
                    LineageStep(kind="model package", name="g-transactions v1", detail="AUC"),
                ],
            )
        ],
    )


class Elements(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(page)
    return parser.tags


# -- what the page shows -------------------------------------------------------------------
def test_the_page_tells_every_part_of_the_story() -> None:
    # Given a status document with every list filled, two drift reports and a lineage chain
    page = render_report(report_data(full_status()))
    # Then each section is there with its facts
    for anchor in ("datasets", "models", "inference", "drift", "retraining", "lineage"):
        assert f'<section id="{anchor}"' in page
    assert "amount.gt: 15 of 300 rows fail" in page  # the rejection reason
    assert "0.874" in page and "0.812" in page  # the metric per model version
    assert "g-transactions v1" in page  # the package ARN, shortened
    assert "s3://artifacts/predictions/b542/" in page
    assert "drift-b542" in page and "c0ffee00" in page  # retraining and suppressed one
    assert "transactions.csv to model v1" in page


def test_every_chart_is_an_svg_plot_with_a_name_and_a_text_alternative() -> None:
    page = render_report(report_data(full_status()))
    plots = [attrs for tag, attrs in elements(page) if tag == "svg"]
    names = [attrs["data-plot"] for attrs in plots]
    # Then: one metric chart (one model group), and per drift report a PSI chart and a
    # distribution per feature plus the prediction
    assert names.count("metric") == 1
    assert names.count("psi") == 2
    for feature in ("amount", "channel", "prediction"):
        assert names.count(f"distribution:{feature}") == 2
    for attrs in plots:
        assert attrs["class"] == "plot"
        assert attrs["role"] == "img" and attrs["aria-labelledby"]
        for ident in (attrs["aria-labelledby"] or "").split():
            assert f'id="{ident}"' in page
    assert page.count("<title id=") == len(plots) and page.count("<desc id=") == len(plots)


def test_the_psi_chart_states_the_drifted_features_and_draws_each_threshold() -> None:
    page = render_report(report_data(full_status()))
    psi = re.findall(r"<svg class=\"plot\" data-plot=\"psi\".*?</svg>", page)[0]
    # Then the newest report, the drifted one, comes first; its chart names what drifted ...
    assert re.search(r"drifted: (amount|channel|prediction)", psi)
    # ... and has a threshold mark per row (two features and the prediction)
    assert psi.count('class="threshold"') == 3


def test_the_evidence_per_feature_is_on_the_page_and_plotted() -> None:
    # Given the drifted report (80 rows)
    data = report_data(full_status())
    drifted = data.drift_reports[1].report
    page = render_report(data)
    # Then a significance chart marks the level of each tested feature (two and the
    # prediction), and a red bar for each significant one
    chart = re.findall(r'<svg class="plot" data-plot="significance".*?</svg>', page)[0]
    assert chart.count('class="threshold"') == 3
    significant = [d for d in drifted.judged if d.significant]
    assert chart.count('fill="#cf222e"') == len(significant) > 0
    # And the table gives, per feature, the test, the statistic with its threshold at
    # this batch size, the p-value, the level and the PSI against its floor
    assert "threshold at 80 rows" in page
    amount = next(d for d in drifted.features if d.feature == "amount")
    assert amount.test == "ks" and amount.critical_value is not None
    cells = re.search(r"<td>amount</td>(.*?)</tr>", page)
    assert cells is not None
    # (every batch amount lies above every training one: the KS distance is 1)
    assert amount.statistic == 1.0
    assert f"<td>KS</td><td>1</td><td>{amount.critical_value:.4f}</td>" in cells.group(1)
    assert f"<td>{amount.p_value:.2g}</td>" in cells.group(1)
    assert f"{amount.score:.3f} / 0.100" in cells.group(1)
    # And the rule the verdict followed is stated with its numbers
    assert "false-alarm rate of 0.01 per batch (3 tests)" in page
    assert "PSI is at least 0.1" in page


def test_a_batch_too_small_for_a_verdict_says_so() -> None:
    # Given a 20-row batch (the default minimum is 50)
    table = pa.table({"amount": [80.0] * 20, "channel": ["online"] * 20})
    small = document(drifted=True).model_copy(
        update={"report": drift_report(baseline(), table, np.array([0.9] * 20))}
    )
    page = render_report(
        ReportData(generated_at=NOW, target="t", status={}, drift_reports=[small], lineage=[])
    )
    # Then the verdict names both numbers, and nothing claims significance
    assert "no verdict: 20 rows &lt; 50" in page
    assert 'data-plot="significance"' not in page
    assert "The evidence per feature" not in page


def test_a_report_of_the_psi_threshold_era_still_renders() -> None:
    # Given a stored report from before calibrated verdicts
    old = DriftReportDocument.model_validate(
        {
            "dataset": "scoring",
            "version": "v1",
            "time": NOW.isoformat(),
            "model_package_arn": None,
            "report_uri": "s3://p/drift/scoring/v1/r.json",
            "report": {
                "rows": 10,
                "thresholds": {"numeric": 0.2, "categorical": 0.2, "prediction": 0.1},
                "features": [
                    {
                        "feature": "channel",
                        "kind": "categorical",
                        "rows": 10,
                        "psi": 0.5,
                        "labels": ["web", "pos"],
                        "expected_shares": [0.6, 0.4],
                        "actual_shares": [0.1, 0.9],
                        "threshold": 0.2,
                        "drifted": True,
                    }
                ],
                "drifted_features": ["channel"],
                "drifted": True,
            },
        }
    )
    page = render_report(
        ReportData(generated_at=NOW, target="t", status={}, drift_reports=[old], lineage=[])
    )
    # Then it shows its verdict and the thresholds it was made with
    assert "drifted: 1 of 1" in page
    assert "PSI above 0.2 (numeric), 0.2 (categorical), 0.1 (prediction)" in page


def test_the_metric_chart_plots_each_version_with_its_approval() -> None:
    page = render_report(report_data(full_status()))
    chart = re.search(r'<svg class="plot" data-plot="metric".*?</svg>', page)
    assert chart is not None
    # Then the approved and the rejected version are bars in their approval's colour
    assert chart.group(0).count('class="mark"') == 2
    assert "#1a7f37" in chart.group(0) and "#cf222e" in chart.group(0)
    assert "v1: 0.874 Approved" in chart.group(0) and "v2: 0.812 Rejected" in chart.group(0)


# -- robustness ------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [{}, {key: [] for key in full_status()}])
def test_absent_or_empty_lists_give_a_page_that_says_so(status: dict[str, Any]) -> None:
    data = ReportData(
        generated_at=NOW,
        target="AWS 123456789012 eu-west-1",
        status=status,
        drift_reports=[],
        lineage=[],
    )
    page = render_report(data)
    assert "No file has been dropped yet." in page
    assert "No model has been registered yet." in page
    assert "No drift report yet" in page
    assert "<svg" not in page
    assert "AWS 123456789012 eu-west-1" in page


def test_user_text_is_escaped_everywhere() -> None:
    # Given a hostile dataset name in the status document, the drift reports and lineage
    data = report_data(full_status(dataset=HOSTILE), dataset=HOSTILE)
    data.lineage[0].steps[0].name = HOSTILE
    page = render_report(data)
    # Then it never becomes markup: no script element, the text shows escaped
    assert "<script" not in page
    assert [tag for tag, _ in elements(page) if tag == "script"] == []
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&quot;&#x27;" in page


def test_the_page_fetches_nothing() -> None:
    page = render_report(report_data(full_status()))
    tags = elements(page)
    # Then nothing refers to another resource, and the CSP forbids it anyway
    for tag, attrs in tags:
        assert tag not in {"script", "link", "img", "iframe", "object"}
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith("#"), (tag, attrs)
    csp = [a["content"] for t, a in tags if t == "meta" and a.get("http-equiv")]
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'; img-src data:"]
    assert "url(" not in page and "@import" not in page


def test_the_same_data_renders_the_same_page() -> None:
    data = report_data(full_status())
    assert render_report(data) == render_report(
        ReportData.model_validate_json(data.model_dump_json())
    )


# -- the command -----------------------------------------------------------------------------
def test_driftline_report_renders_a_saved_document(tmp_path: Path) -> None:
    # Given a report document saved as JSON
    data = report_data(full_status())
    saved = tmp_path / "data.json"
    saved.write_text(data.model_dump_json())
    # When `driftline report --from-json` renders it
    out = tmp_path / "site" / "report.html"
    assert main(["report", "--from-json", str(saved), "--out", str(out)]) == 0
    # Then the page is the one render_report makes
    assert out.read_text(encoding="utf-8") == render_report(data)


def test_driftline_report_says_what_is_wrong_with_a_bad_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    saved = tmp_path / "data.json"
    saved.write_text('{"target": "x"}')
    out = tmp_path / "report.html"
    assert main(["report", "--from-json", str(saved), "--out", str(out)]) == 1
    assert not out.exists()
    assert "generated_at: Field required" in " ".join(capsys.readouterr().err.split())


def test_a_report_without_prediction_and_with_odd_values_still_renders() -> None:
    # Given a drift report scored without predictions, and status entries with missing,
    # null and unparseable values
    table = pa.table({"amount": [1e6] * 60, "channel": [None, "atm", "atm", "x", "y"] * 12})
    lonely = document(drifted=True).model_copy(
        update={"report": drift_report(baseline(), table), "model_package_arn": None}
    )
    status: dict[str, Any] = {
        "datasets": [{"dataset": "d", "state": "validated", "rows": None, "created_at": "soon"}],
        "models": [{"group": "g", "version": 1, "approval": None, "metrics": {}}],
        "inference_runs": [{"dataset": "d", "drifted": None, "started": None}],
        "drift_events": [{"dataset": "d", "features": {}, "drifted_features": ["amount"]}],
    }
    data = ReportData(
        generated_at=NOW, target="t", status=status, drift_reports=[lonely], lineage=[]
    )
    page = render_report(data)
    names = [attrs["data-plot"] for tag, attrs in elements(page) if tag == "svg"]
    # Then there is no prediction chart and no metric chart (no metric to plot) ...
    assert "distribution:prediction" not in names and "metric" not in names
    assert names.count("psi") == 1
    # ... the huge PSI is on the chart's scale, and odd values show as they are
    psi = re.search(r'<svg class="plot" data-plot="psi".*?width="([\d.]+)".*?</svg>', page)
    assert psi is not None
    bars = re.findall(r'<rect class="mark" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"', psi.group(0))
    assert len(bars) == 2
    assert all(0 < float(x) + float(w) <= float(psi.group(1)) for x, w in bars)
    assert "soon" in page
    assert "drifted: amount, channel" in page


def test_measured_quality_is_plotted_per_model_version_over_time() -> None:
    # Given v1 measured degraded on one batch and v2 measured on the next
    measurement = {
        "dataset": "scoring",
        "model_group": "driftline-dev-transactions",
        "labelled_rows": 3000,
        "primary_metric": "auc",
    }
    status = {
        "model_quality": [
            {
                **measurement,
                "version": "aaaaaaaa11111111",
                "model_version": "1",
                "metrics": {"auc": 0.844},
                "reference_metric": 0.895,
                "degraded": True,
                "time": "2026-11-29T17:58:40+00:00",
            },
            {
                **measurement,
                "version": "bbbbbbbb22222222",
                "model_version": "2",
                "metrics": {"auc": 0.863},
                "reference_metric": 0.924,
                "degraded": False,
                "time": "2026-11-29T18:00:20+00:00",
            },
        ]
    }
    # When the report is rendered
    page = render_report(
        ReportData(generated_at=NOW, target="t", status=status, drift_reports=[], lineage=[])
    )
    # Then the quality section plots both, in time order, the degraded one marked
    assert 'id="quality"' in page and 'data-plot="quality"' in page
    assert page.index("v1 · aaaaaa") < page.index("v2 · bbbbbb")
    assert "0.844" in page and "0.863" in page and "degraded" in page


def test_a_measured_error_is_plotted_on_its_own_scale() -> None:
    # Given a regression model whose RMSE labels measured at 263.9 (its test RMSE 46.7)
    status = {
        "model_quality": [
            {
                "dataset": "energy-batches",
                "model_group": "driftline-dev-energy",
                "labelled_rows": 600,
                "primary_metric": "rmse",
                "direction": "lower",
                "version": "015a96eed526b0de",
                "model_version": "1",
                "metrics": {"rmse": 263.905},
                "reference_metric": 46.692,
                "degraded": True,
                "time": "2026-11-30T05:55:04+00:00",
            }
        ]
    }
    # When the report is rendered
    page = render_report(
        ReportData(generated_at=NOW, target="t", status=status, drift_reports=[], lineage=[])
    )
    # Then the chart names the metric and its axis reaches past the value, not 0..1
    chart = re.search(r'<svg class="plot" data-plot="quality".*?</svg>', page, re.S)
    assert chart is not None and "measured rmse over time" in page
    ticks = [float(t) for t in re.findall(r'class="tick"[^>]*>([\d.]+)<', chart.group(0))]
    assert ticks and max(ticks) >= 263.905
