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
    """Two features and the prediction, as a training job's baseline.json holds them."""

    def numeric(edges: list[float], shares: list[float], mean: float) -> dict[str, Any]:
        return {
            "kind": "numeric",
            "count": 100,
            "null_share": 0.0,
            "bin_edges": edges,
            "bin_shares": shares,
            "mean": mean,
            "std": 1.0,
            "min": 0.0,
            "max": 100.0,
        }

    return Baseline.model_validate(
        {
            "schema_version": 1,
            "split": "train",
            "rows": 100,
            "positive_rate": 0.1,
            "target_column": "is_fraud",
            "id_column": "transaction_id",
            "feature_columns": ["amount", "channel"],
            "binning": {"quantiles": [0.5]},
            "features": {
                "amount": numeric([10.0, 50.0], [0.3, 0.4, 0.3], 40.0),
                "channel": {
                    "kind": "categorical",
                    "count": 100,
                    "null_share": 0.0,
                    "distinct": 2,
                    "frequencies": {"pos": 0.6, "online": 0.4, "__other__": 0.0, "__null__": 0.0},
                },
            },
            "prediction": numeric([0.5], [0.9, 0.1], 0.1),
        }
    )


def document(dataset: str = "scoring", *, drifted: bool) -> DriftReportDocument:
    if drifted:  # large amounts and online only: both features and the prediction move
        table = pa.table({"amount": [80.0, 90.0, 95.0, 99.0], "channel": ["online"] * 4})
        probabilities = np.array([0.9, 0.8, 0.7, 0.2])
    else:  # the training shares exactly
        table = pa.table(
            {
                "amount": [5.0] * 3 + [20.0] * 4 + [70.0] * 3,
                "channel": ["pos"] * 6 + ["online"] * 4,
            }
        )
        probabilities = np.array([0.1] * 9 + [0.9])
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
    table = pa.table({"amount": [1e6] * 5, "channel": [None, "atm", "atm", "x", "y"]})
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
