"""The whole page: every section, the navigation, the style and the policy."""

from __future__ import annotations

from driftline.report.document import ReportData
from driftline.report.drift import drift_section
from driftline.report.html import at_time, esc
from driftline.report.quality import quality_section
from driftline.report.sections import (
    datasets_section,
    executions_section,
    inference_section,
    lineage_section,
    models_section,
    retraining_section,
    summary_section,
)
from driftline.report.style import CSP, STYLE


def render_report(data: ReportData) -> str:
    """The whole page as one HTML document (UTF-8, self-contained)."""
    sections = [
        summary_section(data),
        datasets_section(data.status),
        models_section(data),
        inference_section(data.status),
        drift_section(data),
        quality_section(data.status),
        retraining_section(data.status),
        lineage_section(data.lineage),
        executions_section(data.status),
    ]
    nav = "".join(
        f'<a href="#{anchor}">{esc(label)}</a>'
        for anchor, label in (
            ("datasets", "Datasets"),
            ("models", "Models"),
            ("inference", "Inference"),
            ("drift", "Drift"),
            ("quality", "Quality"),
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
        f"<title>{esc(data.title)}</title><style>{STYLE}</style></head><body>"
        f"<header><h1>{esc(data.title)}</h1><p>{esc(data.target)} · generated "
        f"{at_time(data.generated_at)}</p><nav aria-label='Sections'>{nav}</nav></header>"
        f"<main>{''.join(sections)}</main></body></html>\n"
    )
