"""One file judged against its dataset's contract, and the report that says how.

The ingest function decides with :func:`check_file` and files :func:`report` next to the
data or in quarantine; ``driftline drop --check`` runs the very same two on a local file
before anything is uploaded, so a check and an ingestion never disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pyarrow as pa

from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.readers import Data, ReaderLimits, UnreadableFile, read_table
from driftline_runtime.reasons import Reason
from driftline_runtime.validation import validate

Outcome = Literal["accepted", "rejected"]


@dataclass(frozen=True)
class Verdict:
    """Why a file is rejected (``reasons``), the validator's report as JSON data
    (``validation``; None when the file could not be read as a table) and, when it is
    accepted, the rows to keep (``clean``)."""

    reasons: list[Reason]
    validation: dict[str, Any] | None
    clean: pa.Table | None

    @property
    def outcome(self) -> Outcome:
        return "accepted" if self.clean is not None else "rejected"


def check_file(
    data: Data, key: str, spec: DatasetSpec, now: datetime, limits: ReaderLimits | None = None
) -> Verdict:
    """Read ``data`` (named ``key``, whose suffix gives the format) and validate it, within
    ``limits`` (the ingest function's settings; the defaults otherwise)."""
    try:
        table = read_table(data, key, spec, limits or ReaderLimits())
    except UnreadableFile as error:
        return Verdict([error.as_reason()], None, None)
    result = validate(table, spec, now)
    validation = json.loads(result.report.model_dump_json())
    if result.clean is None:
        return Verdict(list(result.report.reasons), validation, None)
    return Verdict([], validation, result.clean)


def report(
    *,
    dataset: str,
    version: str,
    outcome: Outcome,
    reasons: list[Reason],
    source: dict[str, Any],
    checked_at: datetime,
    validation: dict[str, Any] | None,
) -> dict[str, Any]:
    """The report document (``report.json`` in quarantine, ``reports/...`` when curated)."""
    return {
        "dataset": dataset,
        "version": version,
        "outcome": outcome,
        "reasons": [reason.model_dump(mode="json") for reason in reasons],
        "source": source,
        "checked_at": checked_at.isoformat(),
        "validation": validation,
    }
