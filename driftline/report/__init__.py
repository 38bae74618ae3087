"""``driftline report``: the pipeline's story as one self-contained HTML page.

:func:`render_report` turns a :class:`ReportData` (the ``driftline status --json``
document, the drift reports and the lineage chains) into a page that opens with no
network: inline CSS, charts drawn here as inline SVG, no script, and a content security
policy that forbids fetching anything. Every text that comes from the pipeline (dataset
names come from users) is escaped.

Every chart is an ``<svg class="plot" data-plot="...">`` with a ``<title>`` and a
``<desc>`` that states its numbers in words, so the page reads without the pictures.
"""

from driftline.report.charts import Bar, column_chart, distribution_chart, psi_chart
from driftline.report.document import DriftReportDocument, LineageChain, LineageStep, ReportData
from driftline.report.page import render_report

__all__ = [
    "Bar",
    "DriftReportDocument",
    "LineageChain",
    "LineageStep",
    "ReportData",
    "column_chart",
    "distribution_chart",
    "psi_chart",
    "render_report",
]
