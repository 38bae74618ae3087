"""The human view of ``driftline status``: the ``--json`` document as tables.

:func:`status_tables` turns the status document (see ``driftline.status``; every list
may be empty or absent) into rich renderables, :func:`print_status` prints them. The
view shows the same facts as the JSON, shortened for a terminal: versions to 8
characters, ARNs to their names, drift to the top drifted features.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from driftline_runtime.names import (
    HELD_OUT_ROWS_METRIC,
    HELD_OUT_SPLIT,
    PREDICTION_FEATURE,
    PRIMARY_METRIC,
)
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

TOP_FEATURES = 3
STYLES = {
    "validated": "green",
    "rejected": "red",
    "Approved": "green",
    "Rejected": "red",
    "PendingManualApproval": "yellow",
    "SUCCEEDED": "green",
    "Completed": "green",
    "FAILED": "red",
    "Failed": "red",
    "TIMED_OUT": "red",
    "ABORTED": "yellow",
    "Stopped": "yellow",
}


def _items(status: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    return [item for item in status.get(key) or [] if isinstance(item, Mapping)]


def _text(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def _short(version: object) -> str:
    text = _text(version)
    return text[:8] if len(text) > 12 else text


def _state(value: object) -> Text:
    text = _text(value)
    return Text(text, style=STYLES.get(text, ""))


def _time(value: object) -> str:
    """``2026-11-27T10:00:20.123+00:00`` as ``2026-11-27 10:00:20``."""
    if value is None or value == "":
        return "-"
    try:
        return f"{datetime.fromisoformat(str(value)):%Y-%m-%d %H:%M:%S}"
    except ValueError:
        return str(value)


def _took(started: object, stopped: object) -> str:
    try:
        seconds = (
            datetime.fromisoformat(str(stopped)) - datetime.fromisoformat(str(started))
        ).total_seconds()
    except ValueError:
        return "-"
    return f"{seconds:.1f} s"


def _package(arn: object) -> str:
    """A model package ARN as ``group v3``."""
    if not arn:
        return "-"
    name = str(arn).rsplit(":model-package/", 1)[-1]
    group, _, version = name.rpartition("/")
    return f"{group} v{version}" if group and version.isdigit() else name


def _name(arn: object) -> str:
    return "-" if not arn else str(arn).rsplit(":", 1)[-1]


def _metric(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    return f"{value:.3f}" if not float(value).is_integer() else f"{value:.0f}"


def _table(title: str, columns: Sequence[str], rows: Iterable[Sequence[RenderableType]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        # Plain text, never markup: dataset names and reasons come from users.
        table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in row))
    return table


def top_drifted(event: Mapping[str, Any], count: int = TOP_FEATURES) -> str:
    """``amount 1.23, channel 0.84 (+5 more)``: the drifted features by score."""
    scores: Mapping[str, Any] = event.get("features") or {}
    drifted = [str(f) for f in event.get("drifted_features") or []]
    ranked = sorted(drifted, key=lambda f: -float(scores.get(f) or 0.0))
    shown = [
        ("prediction" if f == PREDICTION_FEATURE else f)
        + (f" {float(scores[f]):.2f}" if f in scores else "")
        for f in ranked[:count]
    ]
    more = f" (+{len(ranked) - count} more)" if len(ranked) > count else ""
    return ", ".join(shown) + more if shown else "none"


# -- the tables --------------------------------------------------------------------------
def datasets_table(status: Mapping[str, Any]) -> Table:
    return _table(
        "Dataset versions",
        ("dataset", "kind", "version", "state", "rows", "file", "created"),
        (
            (
                _text(d.get("dataset")),
                _text(d.get("kind")),
                _short(d.get("version")),
                _state(d.get("state")),
                _text(d.get("rows")),
                _text(d.get("source_key")).rsplit("/", 1)[-1],
                _time(d.get("created_at")),
            )
            for d in _items(status, "datasets")
        ),
    )


def rejection_reasons(status: Mapping[str, Any]) -> list[Text]:
    """One line per reason a dataset version was rejected, with its report's key."""
    lines = []
    for d in _items(status, "datasets"):
        for reason in d.get("reasons") or []:
            line = Text(f"{_text(d.get('dataset'))} {_short(d.get('version'))}", style="red")
            line.append(f": {reason}", style="")
            lines.append(line)
        if d.get("state") == "rejected" and d.get("report_key"):
            lines.append(Text(f"  report: {d['report_key']}", style="dim"))
    return lines


def executions_table(status: Mapping[str, Any]) -> Table:
    return _table(
        "Executions",
        ("state machine", "name", "status", "started", "took"),
        (
            (
                _text(e.get("state_machine")),
                _text(e.get("name")),
                _state(e.get("status")),
                _time(e.get("started")),
                _took(e.get("started"), e.get("stopped")),
            )
            for e in _items(status, "executions")
        ),
    )


def models_table(status: Mapping[str, Any], metric: str = PRIMARY_METRIC) -> Table:
    models = _items(status, "models")
    others = sorted(
        {
            name
            for m in models
            for name in m.get("metrics") or {}
            if name.startswith(f"{HELD_OUT_SPLIT}:") and name not in {metric, HELD_OUT_ROWS_METRIC}
        }
    )
    return _table(
        "Models",
        ("group", "version", "approval", metric, *others, "dataset version", "reason"),
        (
            (
                _text(m.get("group")),
                _text(m.get("version")),
                _state(m.get("approval")),
                *(_metric((m.get("metrics") or {}).get(name)) for name in (metric, *others)),
                _short(m.get("dataset_version")),
                _text(m.get("reason")),
            )
            for m in models
        ),
    )


def inference_table(status: Mapping[str, Any]) -> Table:
    return _table(
        "Inference runs",
        ("dataset", "version", "status", "model", "rows", "drift", "predictions", "took"),
        (
            (
                _text(r.get("dataset")),
                _short(r.get("version")),
                _state(r.get("status")),
                _package(r.get("model_package_arn")),
                _text(r.get("rows")),
                _drifted(r.get("drifted")),
                _text(r.get("predictions_uri")),
                _took(r.get("started"), r.get("stopped")),
            )
            for r in _items(status, "inference_runs")
        ),
    )


def _drifted(value: object) -> Text:
    if value is None:
        return Text("-")
    return Text("drifted", style="red") if value else Text("no drift", style="green")


def drift_table(status: Mapping[str, Any]) -> Table:
    return _table(
        "Drift events",
        ("dataset", "version", "time", "drifted", "top drifted features (PSI)", "model", "report"),
        (
            (
                _text(e.get("dataset")),
                _short(e.get("version")),
                _time(e.get("time")),
                f"{len(e.get('drifted_features') or [])} of {len(e.get('features') or {})}",
                top_drifted(e),
                _package(e.get("model_package_arn")),
                _text(e.get("report_uri")),
            )
            for e in _items(status, "drift_events")
        ),
    )


def retrainings_table(status: Mapping[str, Any]) -> Table:
    return _table(
        "Retrainings",
        ("dataset", "drift in", "batch version", "execution", "status", "started", "took"),
        (
            (
                _text(r.get("dataset")),
                _text(r.get("trigger_dataset")),
                _short(r.get("trigger_version")),
                _name(r.get("execution")),
                _state(r.get("status")),
                _time(r.get("started")),
                _took(r.get("started"), r.get("stopped")),
            )
            for r in _items(status, "retrainings")
        ),
    )


def suppressed_table(status: Mapping[str, Any]) -> Table:
    return _table(
        "Retrainings held back by the cooldown",
        ("dataset", "time", "drift in", "batch version", "cooldown until"),
        (
            (
                _text(s.get("dataset")),
                _time(s.get("time")),
                _text(s.get("trigger_dataset")),
                _short(s.get("trigger_version")),
                _time(s.get("until")),
            )
            for s in _items(status, "suppressed_retrainings")
        ),
    )


def failures_table(status: Mapping[str, Any]) -> Table:
    return _table(
        "Failures, and the command whose log lines explain each",
        ("what", "name", "status", "reason", "logs"),
        (
            (
                _text(f.get("kind")).replace("_", " "),
                _text(f.get("name")),
                _state(f.get("status")),
                _text(f.get("reason")),
                _text(f.get("logs_command")),
            )
            for f in _items(status, "failures")
        ),
    )


SECTIONS = (
    ("models", models_table),
    ("inference_runs", inference_table),
    ("drift_events", drift_table),
    ("retrainings", retrainings_table),
    ("suppressed_retrainings", suppressed_table),
    ("executions", executions_table),
    ("failures", failures_table),
)


def status_tables(status: Mapping[str, Any]) -> list[RenderableType]:
    """Every non-empty part of the status document, in the pipeline's order."""
    parts: list[RenderableType] = []
    if _items(status, "datasets"):
        parts.append(datasets_table(status))
        parts.extend(rejection_reasons(status))
    else:
        parts.append(Text("No dataset versions yet: drop a file with `driftline drop`.", "dim"))
    for key, table in SECTIONS:
        if _items(status, key):
            parts.append(table(status))
    return parts


def print_status(status: Mapping[str, Any], console: Console) -> None:
    for part in status_tables(status):
        console.print(part)
