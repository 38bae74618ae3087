"""What a report is drawn from: the status document, the drift reports, the lineage.

A drift report is the document the drift monitor writes
(``driftline_runtime.steps.batch_inference.DriftReportDocument``), read as it is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from driftline_runtime.names import (
    PRIMARY_METRIC,
)
from driftline_runtime.steps.batch_inference import DriftReportDocument as DriftReportDocument
from pydantic import BaseModel


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
