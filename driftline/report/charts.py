"""The report's charts, drawn here as inline SVG: no script, no library, no network.

Every chart is an ``<svg class="plot" data-plot="...">`` with a ``<title>`` and a
``<desc>`` that states its numbers in words, so the page reads without the pictures.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from driftline_runtime.drift import FeatureDrift
from driftline_runtime.steps.batch_inference import DriftReportDocument

from driftline.formatting import (
    feature_name,
    number,
    short_version,
)
from driftline.report.html import esc

APPROVAL_COLOURS = {
    "Approved": "#1a7f37",
    "Rejected": "#cf222e",
    "PendingManualApproval": "#bf8700",
}
EXPECTED_COLOUR = "#6e7781"  # training baseline
ACTUAL_COLOUR = "#0969da"  # the batch
DRIFTED_COLOUR = "#cf222e"
STABLE_COLOUR = "#1a7f37"


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
        f'<svg class="plot" data-plot="{esc(plot)}" xmlns="http://www.w3.org/2000/svg" '
        f'role="img" aria-labelledby="{ident}-t {ident}-d" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
        f'<title id="{ident}-t">{esc(title)}</title><desc id="{ident}-d">{esc(desc)}</desc>'
        f"{body}</svg>"
    )


def _text(x: float, y: float, text: str, *, anchor: str = "start", cls: str = "") -> str:
    klass = f' class="{cls}"' if cls else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{klass}>{esc(text)}</text>'


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
            f'height="{h:.1f}" fill="{bar.colour}"><title>{esc(bar.label)}: '
            f"{esc(number(bar.value))}{unit} {esc(bar.note)}</title></rect>"
        )
        centre = x + slot * 0.3
        marks.append(_text(centre, y - 5, number(bar.value) + unit, anchor="middle", cls="value"))
        marks.append(_text(centre, height - lower + 16, bar.label, anchor="middle"))
        marks.append(_text(centre, height - lower + 31, bar.note, anchor="middle", cls="note"))
    desc = "; ".join(f"{b.label}: {number(b.value)}{unit} {b.note}".strip() for b in bars)
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
    drifts = by_score(report.judged)
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
        name = feature_name(drift.feature)
        marks.append(_text(label_w - 8, y + row * 0.68, name, anchor="end"))
        marks.append(
            f'<rect class="mark" x="{label_w:.1f}" y="{y + 4:.1f}" width="{w:.1f}" '
            f'height="{row - 8:.1f}" fill="{colour}"><title>{esc(name)}: PSI '
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
        + (", ".join(map(feature_name, report.drifted_features)) or "none")
        + ". "
        + "; ".join(
            f"{feature_name(d.feature)} {d.score:.3f} (threshold {number(d.threshold)})"
            for d in drifts
        )
    )
    title = f"PSI per feature, {document.dataset} {short_version(document.version)}"
    return _svg("psi", title, desc, width, height, "".join(marks))


# p-values below this are drawn as this: the bar is full, the text gives the number.
SMALLEST_P = 1e-12


def _log_p(value: float) -> float:
    return -math.log10(max(value, SMALLEST_P))


def significance_chart(document: DriftReportDocument) -> str:
    """Per tested feature, -log10 of its p-value against -log10 of the level Holm's
    procedure held it to (the mark): a bar past its mark is significant."""
    report = document.report
    tested = sorted(
        (d for d in report.judged if d.p_value is not None and d.level is not None),
        key=lambda d: (d.p_value or 0.0, d.feature),
    )
    top = _log_p(SMALLEST_P)
    label_w, chart_w, upper, row = 170.0, 420.0, 26.0, 22.0
    width, height = label_w + chart_w + 90.0, upper + row * max(len(tested), 1) + 12
    marks = []
    for step in range(5):
        x = label_w + chart_w * step / 4
        marks.append(
            f'<line class="grid" x1="{x:.1f}" x2="{x:.1f}" y1="{upper - 4:.1f}" '
            f'y2="{height - 10:.1f}"/>'
        )
        tick = "1" if step == 0 else f"1e-{top * step / 4:g}"
        marks.append(_text(x, upper - 10, tick, anchor="middle", cls="tick"))
    for index, drift in enumerate(tested):
        y = upper + row * index
        w = max(chart_w * _log_p(drift.p_value or 1.0) / top, 1.5)
        colour = DRIFTED_COLOUR if drift.significant else STABLE_COLOUR
        name = feature_name(drift.feature)
        marks.append(_text(label_w - 8, y + row * 0.68, name, anchor="end"))
        marks.append(
            f'<rect class="mark" x="{label_w:.1f}" y="{y + 4:.1f}" width="{w:.1f}" '
            f'height="{row - 8:.1f}" fill="{colour}"><title>{esc(name)}: p = '
            f"{drift.p_value:.2g}, level {drift.level:.2g}</title></rect>"
        )
        tx = label_w + chart_w * _log_p(drift.level or 1.0) / top
        marks.append(
            f'<line class="threshold" x1="{tx:.1f}" x2="{tx:.1f}" y1="{y:.1f}" y2="{y + row:.1f}"/>'
        )
        marks.append(_text(max(label_w + w, tx) + 5, y + row * 0.68, f"p {drift.p_value:.2g}"))
    desc = (
        f"p-value per tested feature of {document.dataset} version {document.version}, "
        "against the level it was judged at: "
        + "; ".join(
            f"{feature_name(d.feature)} p {d.p_value:.2g} (level {d.level:.2g})" for d in tested
        )
    )
    title = f"Significance per feature, {document.dataset} {short_version(document.version)}"
    return _svg("significance", title, desc, width, height, "".join(marks))


def by_score(drifts: Iterable[FeatureDrift]) -> list[FeatureDrift]:
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
    name = feature_name(drift.feature)
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
                f'fill="{colour}"><title>{esc(label)}, {side}: {share:.1%}</title></rect>'
            )
        lx, ly = x + slot / 2, height - lower + 12
        marks.append(
            f'<text class="category" x="{lx:.1f}" y="{ly:.1f}" text-anchor="end" '
            f'transform="rotate(-40 {lx:.1f} {ly:.1f})">'
            f"{esc(_axis_label(label, drift.kind))}</text>"
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
