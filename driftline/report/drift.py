"""The drift section: per batch, PSI per feature and each feature's distributions."""

from __future__ import annotations

from driftline_runtime.drift import FeatureDrift
from driftline_runtime.steps.batch_inference import DriftReportDocument

from driftline.formatting import (
    feature_name,
    items,
    number,
    short_version,
    top_drifted,
)
from driftline.report.charts import by_score, distribution_chart, psi_chart
from driftline.report.document import ReportData
from driftline.report.html import at_time, badge, empty, esc, html_table, package_cell, section


def drift_section(data: ReportData) -> str:
    parts = []
    if not data.drift_reports:
        parts.append(empty("No drift report yet: they are written when a batch is scored."))
    # The newest batch first: it is the one a reader came for.
    for document in sorted(data.drift_reports, key=lambda d: d.time, reverse=True):
        parts.append(_drift_report(document))
    events = items(data.status, "drift_events")
    if events:
        rows = [
            [
                esc(ev.get("dataset")),
                f"<code>{esc(short_version(ev.get('version')))}</code>",
                at_time(ev.get("time")),
                esc(top_drifted(ev, 5, else_all=True)),
                package_cell(ev.get("model_package_arn")),
                f"<code>{esc(ev.get('report_uri') or '-')}</code>",
            ]
            for ev in events
        ]
        parts.append(
            html_table(
                "DriftDetected events",
                ["dataset", "version", "time", "drifted features (PSI)", "model", "report"],
                rows,
            )
        )
    return section("drift", "Drift per feature", "".join(parts))


def _drift_report(document: DriftReportDocument) -> str:
    report = document.report
    judged = [*report.features, *([report.prediction] if report.prediction else [])]
    verdict = (
        badge(f"drifted: {len(report.drifted_features)} of {len(judged)}", "bad")
        if report.drifted
        else badge("no drift", "good")
    )
    thresholds = report.thresholds
    facts = (
        f"<dl class='facts'><dt>scored</dt><dd>{at_time(document.time)}, "
        f"{report.rows:,} rows</dd>"
        f"<dt>model</dt><dd>{package_cell(document.model_package_arn)}</dd>"
        f"<dt>report</dt><dd><code>{esc(document.report_uri)}</code></dd>"
        f"<dt>thresholds</dt><dd>PSI above {thresholds.numeric:g} (numeric), "
        f"{thresholds.categorical:g} (categorical), {thresholds.prediction:g} (prediction)"
        "</dd></dl>"
    )
    distributions = "".join(
        f'<figure class="small">{distribution_chart(drift, document.dataset)}'
        f"<figcaption>{esc(feature_name(drift.feature))} "
        f"{badge(f'PSI {drift.score:.3f}', 'bad' if drift.drifted else 'good')}"
        f"{_mean_shift(drift)}</figcaption></figure>"
        for drift in by_score(judged)
        if drift.labels
    )
    return (
        f'<article class="drift"><h3>{esc(document.dataset)} '
        f"<code>{esc(short_version(document.version))}</code> {verdict}</h3>{facts}"
        f"<figure>{psi_chart(document)}<figcaption>Population stability index per feature "
        f"(red: above its threshold, the vertical mark)</figcaption></figure>"
        f'<h4>Distributions: training <span class="key expected"></span> vs batch '
        f'<span class="key actual"></span></h4><div class="charts">{distributions}</div>'
        "</article>"
    )


def _mean_shift(drift: FeatureDrift) -> str:
    if drift.expected_mean is None or drift.actual_mean is None:
        return ""
    return (
        f' <span class="note">mean {number(drift.expected_mean)} → '
        f"{number(drift.actual_mean)}</span>"
    )
