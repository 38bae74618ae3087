"""The report's model quality section: what labels measured, per model version over time.

One chart per model group: a bar per labelled scored run, oldest first, labelled with the
model version and the batch, its height the primary metric measured on the labelled rows
(red when it fell past the labels dataset's tolerance below the model's own test metric);
then the table of every measurement with its labelled row count and the test metric.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftline.formatting import items, number, short_version
from driftline.report.charts import DRIFTED_COLOUR, STABLE_COLOUR, Bar, column_chart
from driftline.report.html import at_time, empty, esc, html_table, section


def quality_section(status: Mapping[str, Any]) -> str:
    measured = items(status, "model_quality")
    if not measured:
        return section(
            "quality",
            "Model quality on labels",
            empty("No labels have measured a deployed model yet."),
        )
    charts = []
    for group in dict.fromkeys(str(q.get("model_group")) for q in measured):
        own = [q for q in measured if str(q.get("model_group")) == group]
        bars = [
            Bar(
                f"v{q.get('model_version')} · {short_version(q.get('version'))[:6]}",
                float(q["metrics"][q["primary_metric"]]),
                DRIFTED_COLOUR if q.get("degraded") else STABLE_COLOUR,
                "degraded" if q.get("degraded") else "",
            )
            for q in own
            if isinstance((q.get("metrics") or {}).get(q.get("primary_metric")), int | float)
        ]
        if bars:
            metric = str(own[-1].get("primary_metric"))
            # A score (AUC, F1, R2) is drawn on its 0..1 scale; an error (RMSE, MAE, log
            # loss) is in the target's units, so its axis follows the values.
            scale = 1.0 if all(q.get("direction", "higher") == "higher" for q in own) else None
            chart = column_chart(
                "quality", f"measured {metric} over time, {group}", bars, maximum=scale
            )
            charts.append(
                f"<figure>{chart}<figcaption>The primary metric ({esc(metric)}) measured on "
                f"labelled rows, per scored batch in time order, of <b>{esc(group)}</b>'s "
                "versions</figcaption></figure>"
            )
    rows = [
        [
            at_time(q.get("time")),
            esc(q.get("dataset")),
            f"<code>{esc(short_version(q.get('version')))}</code>",
            esc(f"{q.get('model_group')} v{q.get('model_version')}"),
            esc(number(q.get("labelled_rows"))),
            esc(number((q.get("metrics") or {}).get(q.get("primary_metric")))),
            esc(number(q.get("reference_metric"))),
            "degraded" if q.get("degraded") else "no",
        ]
        for q in measured
    ]
    table = html_table(
        "Every measurement, oldest first",
        ["time", "dataset", "batch", "model", "labelled rows", "measured", "test", "degraded"],
        rows,
    )
    return section(
        "quality",
        "Model quality on labels",
        '<div class="charts">' + "".join(charts) + "</div>" + table,
    )
