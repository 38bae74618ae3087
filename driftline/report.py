"""``driftline report``: the pipeline's story as one self-contained HTML page.

:func:`render_report` turns a :class:`ReportData` (the ``driftline status --json``
document, the drift reports and the lineage chains) into a page that opens with no
network: inline CSS, charts drawn here as inline SVG, no script, and a content security
policy that forbids fetching anything. Every text that comes from the pipeline (dataset
names come from users) is escaped.

Every chart is an ``<svg class="plot" data-plot="...">`` with a ``<title>`` and a
``<desc>`` that states its numbers in words, so the page reads without the pictures.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any

from driftline_runtime.drift import FeatureDrift
from driftline_runtime.names import (
    HELD_OUT_ROWS_METRIC,
    HELD_OUT_SPLIT,
    PREDICTION_FEATURE,
    PRIMARY_METRIC,
)
from driftline_runtime.steps.batch_inference import DriftReportDocument as DriftReportDocument
from pydantic import BaseModel

APPROVAL_COLOURS = {
    "Approved": "#1a7f37",
    "Rejected": "#cf222e",
    "PendingManualApproval": "#bf8700",
}
EXPECTED_COLOUR = "#6e7781"  # training baseline
ACTUAL_COLOUR = "#0969da"  # the batch
DRIFTED_COLOUR = "#cf222e"
STABLE_COLOUR = "#1a7f37"


# -- the input ---------------------------------------------------------------------------
class LineageStep(BaseModel):
    kind: str  # "raw object" | "dataset version" | "training job" | "model package" | ...
    name: str
    uri: str | None = None
    detail: str | None = None


class LineageChain(BaseModel):
    title: str
    steps: list[LineageStep]


class ReportData(BaseModel):
    generated_at: datetime
    target: str  # e.g. "local cloud (http://127.0.0.1:4566)" or "AWS 123456789012 eu-west-1"
    status: dict[str, Any]  # the `driftline status --json` document
    drift_reports: list[DriftReportDocument]
    lineage: list[LineageChain]
    title: str = "driftline report"
    primary_metric: str = PRIMARY_METRIC


# -- small helpers -----------------------------------------------------------------------
def _e(value: object) -> str:
    """Escaped text for element content and quoted attribute values."""
    return escape("" if value is None else str(value), quote=True)


def _items(status: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    """A list from the status document; absent or null counts as empty."""
    value = status.get(key) or []
    return [item for item in value if isinstance(item, Mapping)]


def _when(value: object) -> str:
    """ISO text or a datetime as ``2026-11-27 10:00:20 UTC``; anything else as it is."""
    if value is None or value == "":
        return "-"
    moment: datetime | None = value if isinstance(value, datetime) else None
    if moment is None:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return str(value)
    zone = moment.tzname() or ""
    return f"{moment:%Y-%m-%d %H:%M:%S} {'UTC' if zone in {'UTC', 'UTC+00:00'} else zone}".strip()


def _at(value: object) -> str:
    """A time for a table cell, kept on one line."""
    return f'<span class="when">{_e(_when(value))}</span>'


def _duration(started: object, stopped: object) -> str:
    try:
        start = datetime.fromisoformat(str(started))
        stop = datetime.fromisoformat(str(stopped))
    except ValueError:
        return "-"
    seconds = (stop - start).total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _short(version: object) -> str:
    text = "" if version is None else str(version)
    return text[:8] if len(text) > 12 else text


def _number(value: object, digits: int = 3) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-" if value is None else str(value)
    if isinstance(value, int) or float(value).is_integer() and abs(value) >= 1:
        return f"{value:,.0f}"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}f}"


def _feature_name(feature: str) -> str:
    return "prediction" if feature == PREDICTION_FEATURE else feature


def _badge(text: object, tone: str) -> str:
    return f'<span class="badge {tone}">{_e(text)}</span>'


STATE_TONES = {
    "validated": "good",
    "rejected": "bad",
    "Approved": "good",
    "Rejected": "bad",
    "PendingManualApproval": "warn",
    "SUCCEEDED": "good",
    "Completed": "good",
    "FAILED": "bad",
    "Failed": "bad",
    "TIMED_OUT": "bad",
    "ABORTED": "warn",
    "RUNNING": "info",
    "InProgress": "info",
}


def _state(text: object) -> str:
    return _badge(text if text is not None else "-", STATE_TONES.get(str(text), "info"))


def _table(caption: str, headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table whose cells are already HTML (escaped by the caller)."""
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return (
        f'<div class="scroll"><table><caption>{_e(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _empty(text: str) -> str:
    return f'<p class="empty">{_e(text)}</p>'


# -- charts ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    colour: str
    note: str = ""  # printed after the value, e.g. the approval


def _svg(plot: str, title: str, desc: str, width: float, height: float, body: str) -> str:
    # Derived from the content, so the same data renders the same page byte for byte.
    ident = "plot-" + hashlib.sha1(f"{plot}\0{title}\0{desc}\0{body}".encode()).hexdigest()[:12]
    return (
        f'<svg class="plot" data-plot="{_e(plot)}" xmlns="http://www.w3.org/2000/svg" '
        f'role="img" aria-labelledby="{ident}-t {ident}-d" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
        f'<title id="{ident}-t">{_e(title)}</title><desc id="{ident}-d">{_e(desc)}</desc>'
        f"{body}</svg>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{_e(text)}</text>'


def _nice_ceiling(value: float) -> float:
    """The top of an axis: 1, 2, 2.5 or 5 times a power of ten, at least ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def column_chart(
    plot: str, title: str, bars: Sequence[Bar], *, maximum: float | None = None, unit: str = ""
) -> str:
    """Vertical bars with their values on top (model versions and their metric)."""
    top = maximum if maximum is not None else _nice_ceiling(max((b.value for b in bars), default=1))
    left, right, upper, lower, slot = 44.0, 12.0, 28.0, 44.0, 72.0
    width = left + right + slot * max(len(bars), 3)
    height = 230.0
    plot_h = height - upper - lower
    marks = [_axis_y(left, upper, plot_h, width - right, top, unit)]
    for index, bar in enumerate(bars):
        x = left + slot * index + slot * 0.2
        h = max(plot_h * min(bar.value, top) / top, 1.0)
        y = upper + plot_h - h
        marks.append(
            f'<rect class="mark" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.6:.1f}" '
            f'height="{h:.1f}" fill="{bar.colour}"><title>{_e(bar.label)}: '
            f"{_e(_number(bar.value))}{unit} {_e(bar.note)}</title></rect>"
        )
        centre = x + slot * 0.3
        marks.append(_text(centre, y - 5, _number(bar.value) + unit, anchor="middle", cls="value"))
        marks.append(_text(centre, height - lower + 16, bar.label, anchor="middle"))
        marks.append(_text(centre, height - lower + 31, bar.note, anchor="middle", cls="note"))
    desc = "; ".join(f"{b.label}: {_number(b.value)}{unit} {b.note}".strip() for b in bars)
    return _svg(plot, title, desc, width, height, "".join(marks))


def _axis_y(left: float, upper: float, plot_h: float, x_end: float, top: float, unit: str) -> str:
    parts = []
    for step in range(5):
        value = top * step / 4
        y = upper + plot_h - plot_h * step / 4
        parts.append(
            f'<line class="grid" x1="{left:.1f}" x2="{x_end:.1f}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(_text(left - 6, y + 4, _tick(value) + unit, anchor="end", cls="tick"))
    return "".join(parts)


def _tick(value: float) -> str:
    return f"{value:g}" if value >= 1 or value == 0 else f"{value:.2g}"


def psi_chart(document: DriftReportDocument) -> str:
    """Horizontal PSI bars, one per feature and the prediction, with each threshold."""
    report = document.report
    drifts = _by_score([*report.features, *([report.prediction] if report.prediction else [])])
    thresholds = [d.threshold or 0.0 for d in drifts]
    top = _nice_ceiling(max([*(d.score for d in drifts), *thresholds, 0.05]))
    label_w, right, upper, row = 170.0, 70.0, 26.0, 22.0
    chart_w = 420.0
    width = label_w + chart_w + right
    height = upper + row * max(len(drifts), 1) + 12
    marks = []
    for step in range(5):
        x = label_w + chart_w * step / 4
        marks.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{upper - 4:.1f}" '
            f'y2="{height - 10:.1f}"/>'
        )
        marks.append(_text(x, upper - 10, _tick(top * step / 4), anchor="middle", cls="tick"))
    for index, drift in enumerate(drifts):
        y = upper + row * index
        w = max(chart_w * min(drift.score, top) / top, 1.5)
        colour = DRIFTED_COLOUR if drift.drifted else STABLE_COLOUR
        name = _feature_name(drift.feature)
        marks.append(_text(label_w - 8, y + row * 0.68, name, anchor="end"))
        marks.append(
            f'<rect class="mark" x="{label_w:.1f}" y="{y + 4:.1f}" width="{w:.1f}" '
            f'height="{row - 8:.1f}" fill="{colour}"><title>{_e(name)}: PSI '
            f"{drift.score:.3f}{' (drifted)' if drift.drifted else ''}</title></rect>"
        )
        tx = label_w + chart_w * min(drift.threshold or 0.0, top) / top
        # The value goes after the bar, or after the threshold mark when that is further.
        value_x = max(label_w + w, tx if drift.threshold is not None else 0.0) + 5
        marks.append(_text(value_x, y + row * 0.68, f"{drift.score:.3f}", cls="value"))
        if drift.threshold is not None:
            marks.append(
                f'<line class="threshold" x1="{tx:.1f}" x2="{tx:.1f}" y1="{y:.1f}" '
                f'y2="{y + row:.1f}"/>'
            )
    desc = (
        f"PSI per feature of {document.dataset} version {document.version}; drifted: "
        + (", ".join(map(_feature_name, report.drifted_features)) or "none")
        + ". "
        + "; ".join(
            f"{_feature_name(d.feature)} {d.score:.3f} (threshold {_number(d.threshold)})"
            for d in drifts
        )
    )
    title = f"PSI per feature, {document.dataset} {_short(document.version)}"
    return _svg("psi", title, desc, width, height, "".join(marks))


def _by_score(drifts: Iterable[FeatureDrift]) -> list[FeatureDrift]:
    return sorted(drifts, key=lambda d: (-d.score, d.feature))


def distribution_chart(drift: FeatureDrift, dataset: str) -> str:
    """Grouped bars: the training share and the batch's share of every bin or category."""
    labels = drift.labels
    n = max(len(labels), 1)
    top = _nice_ceiling(max([*drift.expected_shares, *drift.actual_shares, 0.01]))
    left, right, upper, lower = 56.0, 8.0, 14.0, 76.0
    slot = 34.0
    width = max(left + right + slot * n, 300.0)
    slot = (width - left - right) / n
    height = 200.0
    plot_h = height - upper - lower
    marks = [_axis_y(left, upper, plot_h, width - right, top * 100, "%")]
    name = _feature_name(drift.feature)
    for index, label in enumerate(labels):
        x = left + slot * index
        for offset, share, colour, side in (
            (0.12, drift.expected_shares[index], EXPECTED_COLOUR, "training"),
            (0.5, drift.actual_shares[index], ACTUAL_COLOUR, "batch"),
        ):
            h = max(plot_h * min(share, top) / top, 1.0 if share > 0 else 0.0)
            marks.append(
                f'<rect class="mark {side}" x="{x + slot * offset:.1f}" '
                f'y="{upper + plot_h - h:.1f}" width="{slot * 0.38:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{_e(label)}, {side}: {share:.1%}</title></rect>'
            )
        lx, ly = x + slot / 2, height - lower + 12
        marks.append(
            f'<text class="category" x="{lx:.1f}" y="{ly:.1f}" text-anchor="end" '
            f'transform="rotate(-40 {lx:.1f} {ly:.1f})">{_e(_axis_label(label, drift.kind))}</text>'
        )
    desc = f"{name}: share per {'bin' if drift.kind in ('numeric', 'prediction') else 'category'}"
    desc += ", training vs batch: " + "; ".join(
        f"{label} {e:.1%} vs {a:.1%}"
        for label, e, a in zip(labels, drift.expected_shares, drift.actual_shares, strict=False)
    )
    return _svg(
        f"distribution:{name}",
        f"{name} in {dataset}: training vs batch",
        desc,
        width,
        height,
        "".join(marks),
    )


_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def _axis_label(label: str, kind: str) -> str:
    """A bin's label with 3 significant digits (the exact one is in the bar's tooltip)."""
    if kind not in ("numeric", "prediction"):
        return _clip(label, 16)
    return _NUMBER.sub(lambda match: f"{float(match.group(0)):.3g}", label)


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


# -- sections ----------------------------------------------------------------------------
def _summary(data: ReportData) -> str:
    status = data.status
    datasets = _items(status, "datasets")
    models = _items(status, "models")
    validated = sum(1 for d in datasets if d.get("state") == "validated")
    rejected = sum(1 for d in datasets if d.get("state") == "rejected")
    approved = sum(1 for m in models if m.get("approval") == "Approved")
    drifted = sum(1 for d in data.drift_reports if d.report.drifted)
    events = len(_items(status, "drift_events"))
    facts = [
        (len(datasets), "dataset version", f"{validated} validated, {rejected} rejected"),
        (len(models), "model version", f"{approved} approved"),
        (len(_items(status, "inference_runs")), "inference run", "batch scoring"),
        (len(data.drift_reports), "drift report", f"{drifted} drifted, {_count(events, 'event')}"),
        (
            len(_items(status, "retrainings")),
            "retraining",
            f"{len(_items(status, 'suppressed_retrainings'))} held back by the cooldown",
        ),
        (len(_items(status, "executions")), "execution", "state-machine runs"),
    ]
    cards = "".join(
        f'<div class="card"><div class="count">{count}</div>'
        f'<div class="what">{_e(_plural(count, what))}</div>'
        f'<div class="detail">{_e(detail)}</div></div>'
        for count, what, detail in facts
    )
    return f'<section aria-label="Summary"><div class="cards">{cards}</div></section>'


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else f"{noun}s"


def _count(count: int, noun: str) -> str:
    return f"{count} {_plural(count, noun)}"


def _file(key: object) -> str:
    """An object key as its file name, the whole key on hover."""
    if not key:
        return "-"
    text = str(key)
    return f'<code title="{_e(text)}">{_e(text.rsplit("/", 1)[-1])}</code>'


def _datasets(status: Mapping[str, Any]) -> str:
    datasets = _items(status, "datasets")
    if not datasets:
        return _section("datasets", "Datasets", _empty("No file has been dropped yet."))
    rows = []
    for d in datasets:
        reasons = [str(r) for r in d.get("reasons") or []]
        outcome = (
            "<ul class='reasons'>" + "".join(f"<li>{_e(r)}</li>" for r in reasons) + "</ul>"
            if reasons
            else ""
        )
        report = d.get("report_key")
        rows.append(
            [
                _e(d.get("dataset")),
                _e(d.get("kind") or "-"),
                f'<code title="{_e(d.get("version"))}">{_e(_short(d.get("version")))}</code>',
                _state(d.get("state")) + outcome,
                _e(_number(d.get("rows"))),
                _file(d.get("source_key")),
                _file(report),
                _at(d.get("created_at")),
            ]
        )
    table = _table(
        "Every dropped file and what the data contract made of it",
        ["dataset", "kind", "version", "outcome", "rows", "dropped file", "report", "created"],
        rows,
    )
    return _section("datasets", "Datasets and validation", table)


def _models(data: ReportData) -> str:
    models = _items(data.status, "models")
    if not models:
        return _section("models", "Model versions", _empty("No model has been registered yet."))
    metric = data.primary_metric
    charts = []
    for group in dict.fromkeys(str(m.get("group")) for m in models):
        bars = [
            Bar(
                f"v{m.get('version')}",
                float(m["metrics"][metric]),
                APPROVAL_COLOURS.get(str(m.get("approval")), EXPECTED_COLOUR),
                str(m.get("approval") or ""),
            )
            for m in models
            if str(m.get("group")) == group
            and isinstance((m.get("metrics") or {}).get(metric), int | float)
        ]
        if bars:
            maximum = 1.0 if all(0 <= b.value <= 1 for b in bars) else None
            chart = column_chart(
                "metric", f"{metric} per version of {group}", bars, maximum=maximum
            )
            charts.append(
                f"<figure>{chart}"
                f"<figcaption>{_e(metric)} per model version of <b>{_e(group)}</b>, "
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
            _e(m.get("group")),
            _e(m.get("version")),
            _state(m.get("approval")),
            *(_e(_number((m.get("metrics") or {}).get(n))) for n in shown),
            _e(_short(m.get("dataset_version")) or "-"),
            _e(m.get("reason") or ""),
        ]
        for m in models
    ]
    table = _table(
        "Registered model packages, rejected challengers included",
        ["group", "version", "approval", *shown, "dataset version", "reason"],
        rows,
    )
    return _section(
        "models", "Model versions", '<div class="charts">' + "".join(charts) + "</div>" + table
    )


def _inference(status: Mapping[str, Any]) -> str:
    runs = _items(status, "inference_runs")
    if not runs:
        return _section("inference", "Inference runs", _empty("No batch has been scored yet."))
    rows = [
        [
            _e(r.get("dataset")),
            f"<code>{_e(_short(r.get('version')))}</code>",
            _state(r.get("status")),
            _package(r.get("model_package_arn")),
            _e(_number(r.get("rows"))),
            f"<code>{_e(r.get('predictions_uri') or '-')}</code>",
            _drifted(r.get("drifted")),
            _at(r.get("started")),
            _e(_duration(r.get("started"), r.get("stopped"))),
        ]
        for r in runs
    ]
    headers = ["dataset", "version", "status", "model", "rows", "predictions", "drift"]
    table = _table("Batch transform runs", [*headers, "started", "took"], rows)
    return _section("inference", "Inference runs", table)


def _package(arn: object) -> str:
    """``.../group-name/3`` as ``group-name v3`` with the full ARN on hover."""
    if not arn:
        return "-"
    text = str(arn)
    name = text.rsplit(":model-package/", 1)[-1]
    group, _, version = name.rpartition("/")
    shown = f"{group} v{version}" if group and version.isdigit() else name
    return f'<span title="{_e(text)}">{_e(shown)}</span>'


def _drifted(value: object) -> str:
    if value is None:
        return "-"
    return _badge("drifted", "bad") if value else _badge("no drift", "good")


def _drift(data: ReportData) -> str:
    parts = []
    if not data.drift_reports:
        parts.append(_empty("No drift report yet: they are written when a batch is scored."))
    # The newest batch first: it is the one a reader came for.
    for document in sorted(data.drift_reports, key=lambda d: d.time, reverse=True):
        parts.append(_drift_report(document))
    events = _items(data.status, "drift_events")
    if events:
        rows = [
            [
                _e(ev.get("dataset")),
                f"<code>{_e(_short(ev.get('version')))}</code>",
                _at(ev.get("time")),
                _e(_top_features(ev)),
                _package(ev.get("model_package_arn")),
                f"<code>{_e(ev.get('report_uri') or '-')}</code>",
            ]
            for ev in events
        ]
        parts.append(
            _table(
                "DriftDetected events",
                ["dataset", "version", "time", "drifted features (PSI)", "model", "report"],
                rows,
            )
        )
    return _section("drift", "Drift per feature", "".join(parts))


def _top_features(event: Mapping[str, Any], count: int = 5) -> str:
    scores: Mapping[str, Any] = event.get("features") or {}
    drifted = [str(f) for f in event.get("drifted_features") or []] or list(scores)
    ranked = sorted(drifted, key=lambda f: -float(scores.get(f) or 0.0))
    shown = [
        f"{_feature_name(f)} {float(scores[f]):.2f}" if f in scores else _feature_name(f)
        for f in ranked[:count]
    ]
    more = f" (+{len(ranked) - count} more)" if len(ranked) > count else ""
    return ", ".join(shown) + more if shown else "none"


def _drift_report(document: DriftReportDocument) -> str:
    report = document.report
    judged = [*report.features, *([report.prediction] if report.prediction else [])]
    verdict = (
        _badge(f"drifted: {len(report.drifted_features)} of {len(judged)}", "bad")
        if report.drifted
        else _badge("no drift", "good")
    )
    thresholds = report.thresholds
    facts = (
        f"<dl class='facts'><dt>scored</dt><dd>{_at(document.time)}, "
        f"{report.rows:,} rows</dd>"
        f"<dt>model</dt><dd>{_package(document.model_package_arn)}</dd>"
        f"<dt>report</dt><dd><code>{_e(document.report_uri)}</code></dd>"
        f"<dt>thresholds</dt><dd>PSI above {thresholds.numeric:g} (numeric), "
        f"{thresholds.categorical:g} (categorical), {thresholds.prediction:g} (prediction)"
        "</dd></dl>"
    )
    distributions = "".join(
        f'<figure class="small">{distribution_chart(drift, document.dataset)}'
        f"<figcaption>{_e(_feature_name(drift.feature))} "
        f"{_badge(f'PSI {drift.score:.3f}', 'bad' if drift.drifted else 'good')}"
        f"{_mean_shift(drift)}</figcaption></figure>"
        for drift in _by_score(judged)
        if drift.labels
    )
    return (
        f'<article class="drift"><h3>{_e(document.dataset)} '
        f"<code>{_e(_short(document.version))}</code> {verdict}</h3>{facts}"
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
        f' <span class="note">mean {_number(drift.expected_mean)} → '
        f"{_number(drift.actual_mean)}</span>"
    )


def _retrainings(status: Mapping[str, Any]) -> str:
    runs = _items(status, "retrainings")
    suppressed = _items(status, "suppressed_retrainings")
    parts = []
    if runs:
        rows = [
            [
                _e(r.get("dataset")),
                _e(r.get("trigger_dataset")),
                f"<code>{_e(_short(r.get('trigger_version')))}</code>",
                f"<code>{_e(_execution_name(r.get('execution')))}</code>",
                _state(r.get("status")),
                _at(r.get("started")),
                _e(_duration(r.get("started"), r.get("stopped"))),
            ]
            for r in runs
        ]
        parts.append(
            _table(
                "Retrainings started by drift",
                ["dataset", "drift in", "batch version", "execution", "status", "started", "took"],
                rows,
            )
        )
    else:
        parts.append(_empty("No retraining has been triggered."))
    if suppressed:
        rows = [
            [
                _e(s.get("dataset")),
                _at(s.get("time")),
                _e(s.get("trigger_dataset")),
                f"<code>{_e(_short(s.get('trigger_version')))}</code>",
                _at(s.get("until")),
            ]
            for s in suppressed
        ]
        parts.append(
            _table(
                "Retrainings the cooldown held back",
                ["dataset", "time", "drift in", "batch version", "cooldown until"],
                rows,
            )
        )
    return _section("retraining", "Retraining", "".join(parts))


def _execution_name(arn: object) -> str:
    return "-" if not arn else str(arn).rsplit(":", 1)[-1]


def _executions(status: Mapping[str, Any]) -> str:
    runs = _items(status, "executions")
    if not runs:
        return _section("executions", "Executions", _empty("No state machine has run yet."))
    rows = [
        [
            _e(r.get("state_machine")),
            f"<code>{_e(r.get('name') or '-')}</code>",
            _state(r.get("status")),
            _at(r.get("started")),
            _e(_duration(r.get("started"), r.get("stopped"))),
        ]
        for r in runs
    ]
    table = _table(
        "State-machine executions", ["state machine", "name", "status", "started", "took"], rows
    )
    return _section("executions", "Executions", table)


def _lineage(chains: Sequence[LineageChain]) -> str:
    if not chains:
        return _section("lineage", "Lineage", _empty("No lineage recorded yet."))
    parts = []
    for chain in chains:
        steps = "".join(
            f'<li class="step"><span class="kind">{_e(step.kind)}</span>'
            f'<span class="name">{_e(step.name)}</span>'
            + (f'<code class="uri">{_e(step.uri)}</code>' if step.uri else "")
            + (f'<span class="detail">{_e(step.detail)}</span>' if step.detail else "")
            + "</li>"
            for step in chain.steps
        )
        parts.append(
            f'<div class="chain"><h3>{_e(chain.title)}</h3>'
            f'<ol class="steps" aria-label="{_e(chain.title)}">{steps}</ol></div>'
        )
    return _section("lineage", "Lineage: from a dropped file to a prediction", "".join(parts))


def _section(anchor: str, heading: str, body: str) -> str:
    return (
        f'<section id="{anchor}" aria-labelledby="{anchor}-h">'
        f'<h2 id="{anchor}-h">{_e(heading)}</h2>{body}</section>'
    )


# -- the page ----------------------------------------------------------------------------
STYLE = """
:root { color-scheme: light; --fg: #1f2328; --muted: #59636e; --line: #d1d9e0;
  --bg: #ffffff; --panel: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans",
  sans-serif; color: var(--fg); background: var(--bg); }
header { padding: 20px 32px 8px; border-bottom: 1px solid var(--line); background: var(--panel); }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0 0 12px; color: var(--muted); }
nav a { margin-right: 14px; color: #0969da; text-decoration: none; }
main { padding: 8px 32px 40px; max-width: 1400px; }
h2 { margin: 28px 0 10px; font-size: 18px; border-bottom: 1px solid var(--line);
  padding-bottom: 4px; }
h3 { font-size: 15px; margin: 18px 0 8px; }
h4 { font-size: 13px; margin: 14px 0 6px; color: var(--muted); }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-top: 16px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; min-width: 140px;
  background: var(--bg); }
.card .count { font-size: 26px; font-weight: 600; }
.card .what { font-weight: 600; }
.card .detail { color: var(--muted); font-size: 12px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
caption { text-align: left; color: var(--muted); padding: 4px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 10px; text-align: left;
  vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
code { font: 12px ui-monospace, "DejaVu Sans Mono", monospace; overflow-wrap: anywhere; }
td:nth-child(-n+3) code, .when { white-space: nowrap; }
.badge { display: inline-block; padding: 0 8px; border-radius: 10px; font-size: 12px;
  font-weight: 600; white-space: nowrap; border: 1px solid; }
.good { color: #1a7f37; border-color: #1a7f37; background: #dafbe1; }
.bad { color: #a40e26; border-color: #cf222e; background: #ffebe9; }
.warn { color: #7d4e00; border-color: #bf8700; background: #fff8c5; }
.info { color: #0550ae; border-color: #0969da; background: #ddf4ff; }
.reasons { margin: 4px 0 0; padding-left: 18px; color: #a40e26; max-width: 560px; }
.empty { color: var(--muted); font-style: italic; }
.charts { display: flex; flex-wrap: wrap; gap: 8px 18px; align-items: flex-end; }
figure { margin: 8px 0; }
figcaption { color: var(--muted); font-size: 12px; }
figure.small figcaption { font-weight: 600; color: var(--fg); }
.note { color: var(--muted); font-weight: 400; }
svg.plot { max-width: 100%; height: auto; display: block; }
svg.plot text { font: 11px system-ui, "DejaVu Sans", sans-serif; fill: var(--fg); }
svg.plot text.tick, svg.plot text.note, svg.plot text.category { fill: var(--muted); }
svg.plot text.value { font-weight: 600; }
svg.plot line.grid { stroke: #eaeef2; }
svg.plot line.threshold { stroke: var(--fg); stroke-width: 2; stroke-dasharray: 3 2; }
.key { display: inline-block; width: 10px; height: 10px; vertical-align: middle; }
.key.expected { background: #6e7781; } .key.actual { background: #0969da; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 0; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
article.drift { border: 1px solid var(--line); border-radius: 8px; padding: 4px 16px 12px;
  margin: 12px 0; }
ol.steps { list-style: none; display: flex; flex-wrap: wrap; align-items: stretch; gap: 6px;
  padding: 0; margin: 0 0 12px; }
ol.steps li { border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px;
  background: var(--panel); display: flex; flex-direction: column; max-width: 260px; }
ol.steps li + li::before { content: "→"; position: relative; left: -22px; top: 8px; width: 0;
  height: 0; color: var(--muted); }
ol.steps li + li { margin-left: 16px; }
.step .kind { font-size: 11px; text-transform: uppercase; color: var(--muted); }
.step .name { font-weight: 600; overflow-wrap: anywhere; }
.step .detail { font-size: 12px; color: var(--muted); }
"""

# Nothing may be fetched: no script, no remote style, font or image.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def render_report(data: ReportData) -> str:
    """The whole page as one HTML document (UTF-8, self-contained)."""
    sections = [
        _summary(data),
        _datasets(data.status),
        _models(data),
        _inference(data.status),
        _drift(data),
        _retrainings(data.status),
        _lineage(data.lineage),
        _executions(data.status),
    ]
    nav = "".join(
        f'<a href="#{anchor}">{_e(label)}</a>'
        for anchor, label in (
            ("datasets", "Datasets"),
            ("models", "Models"),
            ("inference", "Inference"),
            ("drift", "Drift"),
            ("retraining", "Retraining"),
            ("lineage", "Lineage"),
            ("executions", "Executions"),
        )
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(data.title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{_e(data.title)}</h1><p>{_e(data.target)} · generated "
        f"{_at(data.generated_at)}</p><nav aria-label='Sections'>{nav}</nav></header>"
        f"<main>{''.join(sections)}</main></body></html>\n"
    )
