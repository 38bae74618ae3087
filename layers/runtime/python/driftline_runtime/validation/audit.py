"""Recording what the checks find, batch after batch: each rule's count of failing rows,
its first examples (1-based rows as in the file, personal data masked) and first row."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from driftline_runtime.validation.parsing import count_true
from driftline_runtime.validation.report import RuleExample, RuleReport

MAX_EXAMPLES = 5
PII_MASK = "***"
# How the rows of a column appear in examples: 0-based rows of the batch -> values.
Shown = Callable[[list[int]], list[str]]


@dataclass
class RuleTally:
    """One rule over the whole file so far."""

    rule: str
    column: str | None
    description: str
    failed: int = 0
    examples: list[RuleExample] = field(default_factory=list)
    first_row: int | None = None  # 1-based

    def add(
        self, mask: pa.ChunkedArray | None, offset: int, shown: Shown
    ) -> pa.ChunkedArray | None:
        """Count the rows ``mask`` fails (True; null: does not apply) in the batch that
        starts at 0-based row ``offset``; the mask without nulls, or None if none fail."""
        if mask is None:
            return None
        failed = count_true(mask)
        if not failed:
            return None
        mask = mask.fill_null(False) if mask.null_count else mask
        self.failed += failed
        wanted = MAX_EXAMPLES - len(self.examples)
        if wanted > 0 or self.first_row is None:
            rows = first_rows(mask, max(wanted, 1))
            if self.first_row is None:
                self.first_row = offset + rows[0] + 1
            rows = rows[:wanted] if wanted > 0 else []
            self.examples += [
                RuleExample(row=offset + row + 1, value=value)
                for row, value in zip(rows, shown(rows), strict=True)
            ]
        return mask

    def report(self) -> RuleReport:
        return RuleReport(
            rule=self.rule,
            column=self.column,
            description=self.description,
            failed=self.failed,
            examples=list(self.examples),
        )


def shown_values(column: pa.ChunkedArray, secret: bool) -> Shown:
    """How the rows of ``column`` appear in examples: as found, personal data masked."""

    def values(rows: list[int]) -> list[str]:
        if not rows:
            return []
        found = column.take(pa.array(rows, pa.int64())).to_pylist()
        return [masked(display(value)) if secret else display(value) for value in found]

    return values


def first_rows(mask: pa.ChunkedArray, limit: int) -> list[int]:
    """The 0-based indices of the first ``limit`` True values, reading chunks in order."""
    rows: list[int] = []
    offset = 0
    for chunk in mask.chunks:
        if len(rows) >= limit:
            break
        hits = pc.indices_nonzero(chunk).slice(0, limit - len(rows))
        rows.extend(offset + index for index in hits.to_pylist())
        offset += len(chunk)
    return rows


def display(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def masked(value: str) -> str:
    # The last two characters help find the row without disclosing the value.
    return PII_MASK + value[-2:] if len(value) > 4 else PII_MASK
