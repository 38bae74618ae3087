"""The human view of ``driftline status``: the ``--json`` document as tables.

:func:`status_tables` turns the status document (see ``driftline.status``; every list
may be empty or absent) into rich renderables, :func:`print_status` prints them. The
view shows the same facts as the JSON, shortened for a terminal: versions to 8
characters, ARNs to their names, drift to the top drifted features.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from driftline_runtime.names import HELD_OUT_ROWS_METRIC, HELD_OUT_SPLIT, PRIMARY_METRIC
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from driftline import formatting
from driftline.formatting import (
    MISSING,
    Tone,
    duration,
    execution_name,
    items,
    leading_metric,
    number,
    package_name,
    short_version,
    timestamp,
    tone,
    trigger_of,
)

TOP_FEATURES = 3
# Rich's colour for each tone of a state.
COLOURS: dict[Tone, str] = {"good": "green", "bad": "red", "warn": "yellow", "info": ""}


def _text(value: object) -> str:
    return MISSING if value is None or value == "" else str(value)


def _short(version: object) -> str:
    return short_version(version) or MISSING


def _state(value: object) -> Text:
    text = _text(value)
    return Text(text, style=COLOURS[tone(text)])


def _metric(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return MISSING
    return number(value)


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
    return formatting.top_drifted(event, count)


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
                timestamp(d.get("created_at")),
            )
            for d in items(status, "datasets")
        ),
    )


def rejection_reasons(status: Mapping[str, Any]) -> list[Text]:
    """One line per reason a dataset version was rejected, with its report's key."""
    lines = []
    for d in items(status, "datasets"):
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
                timestamp(e.get("started")),
                duration(e.get("started"), e.get("stopped")),
            )
            for e in items(status, "executions")
        ),
    )


def models_table(status: Mapping[str, Any], metric: str | None = None) -> Table:
    models = items(status, "models")
    metric = metric or leading_metric(models, PRIMARY_METRIC)
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
        (
            "group",
            "version",
            "approval",
            metric,
            *others,
            "champion, same holdout",
            "dataset version",
            "reason",
        ),
        (
            (
                _text(m.get("group")),
                _text(m.get("version")),
                _state(m.get("approval")),
                *(_metric((m.get("metrics") or {}).get(name)) for name in (metric, *others)),
                _champion(m.get("evaluation")),
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
                package_name(r.get("model_package_arn")),
                _text(r.get("rows")),
                _drifted(r.get("drifted"), r.get("drift_outcome")),
                _text(r.get("predictions_uri")),
                duration(r.get("started"), r.get("stopped")),
            )
            for r in items(status, "inference_runs")
        ),
    )


def _drifted(value: object, outcome: object = None) -> Text:
    if outcome == "insufficient_rows":
        return Text("too few rows", style="yellow")
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
                timestamp(e.get("time")),
                f"{len(e.get('drifted_features') or [])} of {len(e.get('features') or {})}",
                top_drifted(e),
                package_name(e.get("model_package_arn")),
                _text(e.get("report_uri")),
            )
            for e in items(status, "drift_events")
        ),
    )


def _champion(evaluation: object) -> str:
    """``v<version>: <metric>``, the champion's metric on this model's holdout."""
    champion = evaluation.get("champion") if isinstance(evaluation, Mapping) else None
    if not isinstance(champion, Mapping):
        return "-"
    return f"v{champion.get('model_version')}: {_metric(champion.get('metric'))}"


def quality_table(status: Mapping[str, Any]) -> Table:
    return _table(
        "Model quality measured on labels",
        ("dataset", "batch version", "model", "labelled rows", "measured", "test", "degraded"),
        (
            (
                _text(q.get("dataset")),
                _short(q.get("version")),
                f"{_text(q.get('model_group'))} v{_text(q.get('model_version'))}",
                _text(q.get("labelled_rows")),
                f"{_text(q.get('primary_metric'))} "
                + _metric((q.get("metrics") or {}).get(q.get("primary_metric"))),
                _metric(q.get("reference_metric")),
                Text("degraded", style="red") if q.get("degraded") else Text("no", style="green"),
            )
            for q in items(status, "model_quality")
        ),
    )


def retrainings_table(status: Mapping[str, Any]) -> Table:
    return _table(
        "Retrainings",
        ("dataset", "trigger", "batch version", "execution", "status", "started", "took"),
        (
            (
                _text(r.get("dataset")),
                _text(trigger_of(r)),
                _short(r.get("trigger_version")),
                execution_name(r.get("execution")),
                _state(r.get("status")),
                timestamp(r.get("started")),
                duration(r.get("started"), r.get("stopped")),
            )
            for r in items(status, "retrainings")
        ),
    )


def suppressed_table(status: Mapping[str, Any]) -> Table:
    return _table(
        "Retrainings held back by the cooldown",
        ("dataset", "time", "drift in", "batch version", "cooldown until"),
        (
            (
                _text(s.get("dataset")),
                timestamp(s.get("time")),
                _text(s.get("trigger_dataset")),
                _short(s.get("trigger_version")),
                timestamp(s.get("until")),
            )
            for s in items(status, "suppressed_retrainings")
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
            for f in items(status, "failures")
        ),
    )


def endpoints_table(status: Mapping[str, Any]) -> Table:
    def variants(endpoint: Mapping[str, Any]) -> str:
        return ", ".join(
            f"{v.get('name')} v{v.get('model_version') or '?'} ({_metric(v.get('weight'))})"
            for v in endpoint.get("variants") or []
        )

    return _table(
        "Real-time endpoints",
        ("endpoint", "dataset", "model", "status", "variants (weight)", "last deployment", "at"),
        (
            (
                _text(e.get("name")),
                _text(e.get("dataset")),
                _text(e.get("model_version")),
                _state(e.get("status")),
                variants(e),
                _state((e.get("last_deployment") or {}).get("outcome")),
                timestamp((e.get("last_deployment") or {}).get("time")),
            )
            for e in items(status, "endpoints")
        ),
    )


SECTIONS = (
    ("models", models_table),
    ("endpoints", endpoints_table),
    ("inference_runs", inference_table),
    ("drift_events", drift_table),
    ("model_quality", quality_table),
    ("retrainings", retrainings_table),
    ("suppressed_retrainings", suppressed_table),
    ("executions", executions_table),
    ("failures", failures_table),
)


def status_tables(status: Mapping[str, Any]) -> list[RenderableType]:
    """Every non-empty part of the status document, in the pipeline's order."""
    parts: list[RenderableType] = []
    if items(status, "datasets"):
        parts.append(datasets_table(status))
        parts.extend(rejection_reasons(status))
    else:
        parts.append(Text("No dataset versions yet: drop a file with `driftline drop`.", "dim"))
    for key, table in SECTIONS:
        if items(status, key):
            parts.append(table(status))
    return parts


def print_status(status: Mapping[str, Any], console: Console) -> None:
    for part in status_tables(status):
        console.print(part)
