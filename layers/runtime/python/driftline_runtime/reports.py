"""The report document of one checked file: ``report.json`` in quarantine, or
``reports/...`` next to the curated data.

Plain data, no pyarrow: a file refused on its key or size gets a report too, and the
function that refuses it never loads the readers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from driftline_runtime.reasons import Reason

Outcome = Literal["accepted", "rejected"]


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
