"""The drift section: per batch, the verdict's evidence per feature (the test, its
statistic and threshold, the p-value against its Holm level, PSI against its floor),
PSI per feature and each feature's distributions."""

from __future__ import annotations

from driftline_runtime.drift import DriftReport, FeatureDrift
from driftline_runtime.steps.batch_inference import DriftReportDocument

from driftline.formatting import (
    feature_name,
    items,
    number,
    short_version,
    top_drifted,
)
from driftline.report.charts import by_score, distribution_chart, psi_chart, significance_chart
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


def _evidence_table(report: DriftReport) -> str:
    """Per feature: the test, its statistic and threshold at this batch size, the p-value
    and the effect size against its floor, and the verdict."""
    rows = []
    for drift in by_score(report.judged):
        if drift.p_value is None:
            verdict = badge(drift.note or "not tested", "info")
        elif drift.drifted:
            verdict = badge("drifted", "bad")
        elif drift.significant:
            verdict = badge("significant, effect below the floor", "warn")
        else:
            verdict = badge("no drift", "good")
        test = {"ks": "KS", "chi_square": f"chi-square ({drift.dof} dof)"}.get(drift.test or "")
        rows.append(
            [
                esc(feature_name(drift.feature)),
                esc(test or "-"),
                esc(number(drift.statistic, 4)),
                esc(number(drift.critical_value, 4)),
                esc("-" if drift.p_value is None else f"{drift.p_value:.2g}"),
                esc("-" if drift.level is None else f"{drift.level:.2g}"),
                esc(f"{drift.score:.3f} / {number(drift.threshold)}"),
                verdict,
            ]
        )
    headers = [
        "feature",
        "test",
        "statistic",
        f"threshold at {report.rows:,} rows",
        "p-value",
        "level (Holm)",
        "PSI / floor",
        "verdict",
    ]
    return html_table("The evidence per feature", headers, rows)


def _verdict_rule(report: DriftReport) -> str:
    """How this report's verdict was made, in a sentence."""
    settings = report.settings
    if settings is None:  # written before calibrated verdicts
        thresholds = report.thresholds or {}
        return "PSI above " + ", ".join(f"{v:g} ({k})" for k, v in thresholds.items())
    return (
        f"drifted when a feature's test is significant by Holm's procedure at a false-alarm "
        f"rate of {settings.false_alarm_rate:g} per batch ({report.tested or 0} tests) and "
        f"its PSI is at least {settings.min_psi:g}; batches below {settings.min_rows:,} rows "
        "get no verdict"
    )


def _drift_verdict(report: DriftReport) -> str:
    if report.outcome == "insufficient_rows" and report.settings is not None:
        return badge(f"no verdict: {report.rows:,} rows < {report.settings.min_rows:,}", "warn")
    if report.drifted:
        return badge(f"drifted: {len(report.drifted_features)} of {len(report.judged)}", "bad")
    return badge("no drift", "good")


def _drift_report(document: DriftReportDocument) -> str:
    report = document.report
    facts = (
        f"<dl class='facts'><dt>scored</dt><dd>{at_time(document.time)}, "
        f"{report.rows:,} rows</dd>"
        f"<dt>model</dt><dd>{package_cell(document.model_package_arn)}</dd>"
        f"<dt>report</dt><dd><code>{esc(document.report_uri)}</code></dd>"
        f"<dt>verdict</dt><dd>{esc(_verdict_rule(report))}</dd></dl>"
    )
    evidence = ""
    if report.settings is not None and report.outcome != "insufficient_rows":
        evidence = (
            f"<figure>{significance_chart(document)}<figcaption>p-value per tested feature "
            "(red: significant; the mark is the level it was held to)</figcaption></figure>"
            + _evidence_table(report)
        )
    distributions = "".join(
        f'<figure class="small">{distribution_chart(drift, document.dataset)}'
        f"<figcaption>{esc(feature_name(drift.feature))} "
        f"{badge(f'PSI {drift.score:.3f}', 'bad' if drift.drifted else 'good')}"
        f"{_mean_shift(drift)}</figcaption></figure>"
        for drift in by_score(report.judged)
        if drift.labels
    )
    return (
        f'<article class="drift"><h3>{esc(document.dataset)} '
        f"<code>{esc(short_version(document.version))}</code> {_drift_verdict(report)}</h3>"
        f"{facts}{evidence}"
        f"<figure>{psi_chart(document)}<figcaption>Population stability index per feature "
        f"(red: drifted; the vertical mark is its threshold)</figcaption></figure>"
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
