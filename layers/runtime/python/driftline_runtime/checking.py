"""One file judged against its dataset's contract, and the report that says how.

The ingest function and the SageMaker Processing job decide with :func:`check_source`
(the file spooled to disk, read and validated batch by batch, the accepted rows spooled
to a Parquet file) and file :func:`report` next to the data or in quarantine;
``driftline drop --check`` runs :func:`check_file` on a local file's bytes, the same
steps with the rows kept in memory, so a check and an ingestion never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from driftline_runtime.check_limits import CheckLimits
from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.readers import (
    BytesSource,
    Data,
    ReaderLimits,
    Source,
    TableFile,
    UnreadableFile,
    open_table_file,
)
from driftline_runtime.reasons import Reason
from driftline_runtime.reports import Outcome, report
from driftline_runtime.validation import (
    DeclaredOnly,
    MemorySpool,
    ParquetSpool,
    Spool,
    Validation,
    ValidationLimits,
    ValidationReport,
)

__all__ = [
    "CheckLimits",
    "Outcome",
    "TooMuchText",
    "Verdict",
    "check_file",
    "check_source",
    "report",
]

DEFAULT_LIMITS = CheckLimits()


class TooMuchText(Exception):  # noqa: N818  # a limit, not a fault
    """The file holds more text than the caller may read (a gzip file inflating past it)."""

    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


@dataclass(frozen=True)
class Verdict:
    """Why a file is rejected (``reasons``), the validator's report as JSON data
    (``validation``; None when the file could not be read as a table), and when it is
    accepted, the rows to keep: ``clean`` in memory (:func:`check_file`) or the Parquet
    file ``curated`` (:func:`check_source`)."""

    reasons: list[Reason]
    validation: dict[str, Any] | None
    clean: pa.Table | None = None
    curated: Path | None = None
    rows: int = 0
    valid_rows: int = 0

    @property
    def outcome(self) -> Outcome:
        return "accepted" if not self.reasons and self.validation is not None else "rejected"


def check_source(
    source: Source,
    key: str,
    spec: DatasetSpec,
    now: datetime,
    workdir: Path,
    limits: CheckLimits = DEFAULT_LIMITS,
    *,
    max_text_bytes: int | None = None,
) -> Verdict:
    """Read ``source`` (named ``key``, whose suffix gives the format) batch by batch and
    validate it; accepted rows go to ``workdir/curated.parquet``. TooMuchText when its
    text (for gzip, what it inflates to) is larger than ``max_text_bytes``."""
    try:
        table_file = open_table_file(source, key, spec, limits.reader())
    except UnreadableFile as error:
        return Verdict([error.as_reason()], None)
    if max_text_bytes is not None and table_file.text_bytes > max_text_bytes:
        raise TooMuchText(table_file.text_bytes)
    parquet = ParquetSpool(workdir / "curated.parquet")
    spool = DeclaredOnly(parquet, spec.columns)
    try:
        report = _validate(table_file, spec, now, spool, limits.validation(workdir))
    except UnreadableFile as error:
        spool.discard()
        return Verdict([error.as_reason()], None)
    finally:
        parquet.close()
    validation = {**json.loads(report.model_dump_json()), "dropped_columns": spool.dropped}
    if report.outcome == "rejected":
        return Verdict(list(report.reasons), validation, rows=report.rows)
    return Verdict(
        [], validation, curated=parquet.path, rows=report.rows, valid_rows=report.valid_rows
    )


def check_file(
    data: Data, key: str, spec: DatasetSpec, now: datetime, limits: ReaderLimits | None = None
) -> Verdict:
    """Read ``data`` (named ``key``) and validate it with its rows kept in memory, within
    ``limits`` (the ingest function's defaults otherwise)."""
    try:
        table_file = open_table_file(BytesSource(data), key, spec, limits or ReaderLimits())
        memory = MemorySpool()
        spool = DeclaredOnly(memory, spec.columns)
        report = _validate(table_file, spec, now, spool, ValidationLimits())
    except UnreadableFile as error:
        return Verdict([error.as_reason()], None)
    validation = {**json.loads(report.model_dump_json()), "dropped_columns": spool.dropped}
    if report.outcome == "rejected":
        return Verdict(list(report.reasons), validation, rows=report.rows)
    clean = memory.table()
    return Verdict([], validation, clean=clean, rows=report.rows, valid_rows=report.valid_rows)


def _validate(
    table_file: TableFile,
    spec: DatasetSpec,
    now: datetime,
    spool: Spool,
    limits: ValidationLimits,
) -> ValidationReport:
    def attempt(batches: Iterator[pa.Table]) -> ValidationReport:
        validation = Validation(spec, now, spool, limits)
        try:
            for batch in batches:
                validation.add(batch)
            return validation.finish()
        finally:
            validation.close()

    return table_file.scan(attempt)
