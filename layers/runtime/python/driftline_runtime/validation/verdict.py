"""The verdict on a table already in memory: its batches through :class:`Validation`."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa

from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.validation.output import MemorySpool
from driftline_runtime.validation.report import ValidationResult
from driftline_runtime.validation.stream import Validation, ValidationLimits

# A table already in memory: the validation's defaults, nothing spilled to disk.
IN_MEMORY = ValidationLimits()


def validate(
    table: pa.Table,
    spec: DatasetSpec,
    now: datetime,
    *,
    batch_rows: int | None = None,
    limits: ValidationLimits = IN_MEMORY,
) -> ValidationResult:
    """Check ``table`` against ``spec``: the report, and the accepted rows if any.

    ``now`` is the clock for the freshness rule and the report (naive means UTC).
    ``batch_rows`` feeds the table in batches of that many rows, as a file read in
    batches would be (the verdict is the same).
    """
    spool = MemorySpool()
    validation = Validation(spec, now, spool, limits)
    try:
        step = batch_rows or max(1, table.num_rows)
        validation.add(table.slice(0, step))
        for start in range(step, table.num_rows, step):
            validation.add(table.slice(start, step))
        report = validation.finish()
    finally:
        validation.close()
    clean = spool.table() if report.outcome == "accepted" else None
    return ValidationResult(report=report, clean=clean)
