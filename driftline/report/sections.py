"""The report's other sections: summary, datasets, models, inference, retraining,
lineage and executions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from driftline_runtime.names import (
    HELD_OUT_ROWS_METRIC,
    HELD_OUT_SPLIT,
)

from driftline.formatting import (
    duration,
    execution_name,
    items,
    leading_metric,
    number,
    short_version,
    trigger_of,
)
from driftline.report.charts import APPROVAL_COLOURS, EXPECTED_COLOUR, Bar, column_chart
from driftline.report.document import LineageChain, ReportData
from driftline.report.html import (
    at_time,
    drift_badge,
    empty,
    esc,
    file_cell,
    html_table,
    package_cell,
    section,
    state_badge,
)


def summary_section(data: ReportData) -> str:
    status = data.status
    datasets = items(status, "datasets")
    models = items(status, "models")
    validated = sum(1 for d in datasets if d.get("state") == "validated")
    rejected = sum(1 for d in datasets if d.get("state") == "rejected")
    approved = sum(1 for m in models if m.get("approval") == "Approved")
    drifted = sum(1 for d in data.drift_reports if d.report.drifted)
    events = len(items(status, "drift_events"))
    facts = [
        (len(datasets), "dataset version", f"{validated} validated, {rejected} rejected"),
        (len(models), "model version", f"{approved} approved"),
        (len(items(status, "inference_runs")), "inference run", "batch scoring"),
        (len(data.drift_reports), "drift report", f"{drifted} drifted, {_count(events, 'event')}"),
        (
            len(items(status, "retrainings")),
            "retraining",
            f"{len(items(status, 'suppressed_retrainings'))} held back by the cooldown",
        ),
        (len(items(status, "executions")), "execution", "state-machine runs"),
    ]
    cards = "".join(
        f'<div class="card"><div class="count">{count}</div>'
        f'<div class="what">{esc(_plural(count, what))}</div>'
        f'<div class="detail">{esc(detail)}</div></div>'
        for count, what, detail in facts
    )
    return f'<section aria-label="Summary"><div class="cards">{cards}</div></section>'


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else f"{noun}s"


def _count(count: int, noun: str) -> str:
    return f"{count} {_plural(count, noun)}"


def datasets_section(status: Mapping[str, Any]) -> str:
    datasets = items(status, "datasets")
    if not datasets:
        return section("datasets", "Datasets", empty("No file has been dropped yet."))
    rows = []
    for d in datasets:
        reasons = [str(r) for r in d.get("reasons") or []]
        outcome = (
            "<ul class='reasons'>" + "".join(f"<li>{esc(r)}</li>" for r in reasons) + "</ul>"
            if reasons
            else ""
        )
        report = d.get("report_key")
        rows.append(
            [
                esc(d.get("dataset")),
                esc(d.get("kind") or "-"),
                f'<code title="{esc(d.get("version"))}">'
                f"{esc(short_version(d.get('version')))}</code>",
                state_badge(d.get("state")) + outcome,
                esc(number(d.get("rows"))),
                file_cell(d.get("source_key")),
                file_cell(report),
                at_time(d.get("created_at")),
            ]
        )
    table = html_table(
        "Every dropped file and what the data contract made of it",
        ["dataset", "kind", "version", "outcome", "rows", "dropped file", "report", "created"],
        rows,
    )
    return section("datasets", "Datasets and validation", table)


def models_section(data: ReportData) -> str:
    models = items(data.status, "models")
    if not models:
        return section("models", "Model versions", empty("No model has been registered yet."))
    metric = leading_metric(models, data.primary_metric)
    charts = []
    for group in dict.fromkeys(str(m.get("group")) for m in models):
        # Each group's chart shows its own dataset's primary metric.
        group_metric = leading_metric([m for m in models if str(m.get("group")) == group], metric)
        bars = [
            Bar(
                f"v{m.get('version')}",
                float(m["metrics"][group_metric]),
                APPROVAL_COLOURS.get(str(m.get("approval")), EXPECTED_COLOUR),
                str(m.get("approval") or ""),
            )
            for m in models
            if str(m.get("group")) == group
            and isinstance((m.get("metrics") or {}).get(group_metric), int | float)
        ]
        if bars:
            maximum = 1.0 if all(0 <= b.value <= 1 for b in bars) else None
            chart = column_chart(
                "metric", f"{group_metric} per version of {group}", bars, maximum=maximum
            )
            charts.append(
                f"<figure>{chart}"
                f"<figcaption>{esc(group_metric)} per model version of <b>{esc(group)}</b>, "
                f"coloured by approval</figcaption></figure>"
            )
    names = sorted({name for m in models for name in (m.get("metrics") or {})})
    shown = [
        metric,
        *[
            n
            for n in names
            if n not in {metric, HELD_OUT_ROWS_METRIC} and n.startswith(f"{HELD_OUT_SPLIT}:")
        ],
    ]
    shown = [n for n in shown if n in names]
    rows = [
        [
            esc(m.get("group")),
            esc(m.get("version")),
            state_badge(m.get("approval")),
            *(esc(number((m.get("metrics") or {}).get(n))) for n in shown),
            esc(short_version(m.get("dataset_version")) or "-"),
            esc(m.get("reason") or ""),
        ]
        for m in models
    ]
    table = html_table(
        "Registered model packages, rejected challengers included",
        ["group", "version", "approval", *shown, "dataset version", "reason"],
        rows,
    )
    return section(
        "models", "Model versions", '<div class="charts">' + "".join(charts) + "</div>" + table
    )


def inference_section(status: Mapping[str, Any]) -> str:
    runs = items(status, "inference_runs")
    if not runs:
        return section("inference", "Inference runs", empty("No batch has been scored yet."))
    rows = [
        [
            esc(r.get("dataset")),
            f"<code>{esc(short_version(r.get('version')))}</code>",
            state_badge(r.get("status")),
            package_cell(r.get("model_package_arn")),
            esc(number(r.get("rows"))),
            f"<code>{esc(r.get('predictions_uri') or '-')}</code>",
            drift_badge(r.get("drifted"), r.get("drift_outcome")),
            at_time(r.get("started")),
            esc(duration(r.get("started"), r.get("stopped"), minutes_after=120)),
        ]
        for r in runs
    ]
    headers = ["dataset", "version", "status", "model", "rows", "predictions", "drift"]
    table = html_table("Batch transform runs", [*headers, "started", "took"], rows)
    return section("inference", "Inference runs", table)


def retraining_section(status: Mapping[str, Any]) -> str:
    runs = items(status, "retrainings")
    suppressed = items(status, "suppressed_retrainings")
    parts = []
    if runs:
        rows = [
            [
                esc(r.get("dataset")),
                esc(trigger_of(r)),
                f"<code>{esc(short_version(r.get('trigger_version')))}</code>",
                f"<code>{esc(execution_name(r.get('execution')))}</code>",
                state_badge(r.get("status")),
                at_time(r.get("started")),
                esc(duration(r.get("started"), r.get("stopped"), minutes_after=120)),
            ]
            for r in runs
        ]
        parts.append(
            html_table(
                "Retrainings started by drift or degraded quality",
                ["dataset", "trigger", "batch version", "execution", "status", "started", "took"],
                rows,
            )
        )
    else:
        parts.append(empty("No retraining has been triggered."))
    if suppressed:
        rows = [
            [
                esc(s.get("dataset")),
                at_time(s.get("time")),
                esc(s.get("trigger_dataset")),
                f"<code>{esc(short_version(s.get('trigger_version')))}</code>",
                at_time(s.get("until")),
            ]
            for s in suppressed
        ]
        parts.append(
            html_table(
                "Retrainings the cooldown held back",
                ["dataset", "time", "drift in", "batch version", "cooldown until"],
                rows,
            )
        )
    return section("retraining", "Retraining", "".join(parts))


def executions_section(status: Mapping[str, Any]) -> str:
    runs = items(status, "executions")
    if not runs:
        return section("executions", "Executions", empty("No state machine has run yet."))
    rows = [
        [
            esc(r.get("state_machine")),
            f"<code>{esc(r.get('name') or '-')}</code>",
            state_badge(r.get("status")),
            at_time(r.get("started")),
            esc(duration(r.get("started"), r.get("stopped"), minutes_after=120)),
        ]
        for r in runs
    ]
    table = html_table(
        "State-machine executions", ["state machine", "name", "status", "started", "took"], rows
    )
    return section("executions", "Executions", table)


def lineage_section(chains: Sequence[LineageChain]) -> str:
    if not chains:
        return section("lineage", "Lineage", empty("No lineage recorded yet."))
    parts = []
    for chain in chains:
        steps = "".join(
            f'<li class="step"><span class="kind">{esc(step.kind)}</span>'
            f'<span class="name">{esc(step.name)}</span>'
            + (f'<code class="uri">{esc(step.uri)}</code>' if step.uri else "")
            + (f'<span class="detail">{esc(step.detail)}</span>' if step.detail else "")
            + "</li>"
            for step in chain.steps
        )
        parts.append(
            f'<div class="chain"><h3>{esc(chain.title)}</h3>'
            f'<ol class="steps" aria-label="{esc(chain.title)}">{steps}</ol></div>'
        )
    return section("lineage", "Lineage: from a dropped file to a prediction", "".join(parts))
