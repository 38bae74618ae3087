"""Recording what the checks find: rule reports with counts and examples, bad-row masks,
reasons and schema changes, with personal data masked in every example."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.reasons import Detail, Reason
from driftline_runtime.validation.parsing import count_true
from driftline_runtime.validation.report import RuleExample, RuleReport, SchemaChange

MAX_EXAMPLES = 5
PII_MASK = "***"


@dataclass(frozen=True)
class Failure:
    rule: str
    description: str
    mask: pa.ChunkedArray
    failed: int
    first_row: int


@dataclass
class Audit:
    """What the checks found: rule reports, bad-row masks, reasons and schema changes."""

    spec: DatasetSpec
    rows: int
    rules: list[RuleReport] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)
    changes: list[SchemaChange] = field(default_factory=list)
    # The row rules that failed, with their masks (no nulls): their union is the bad rows.
    failing: list[Failure] = field(default_factory=list)

    def row_rule(
        self,
        rule: str,
        column: str | None,
        description: str,
        mask: pa.ChunkedArray | None,
        shown: Callable[[list[int]], list[str]],
    ) -> None:
        """Record a row rule; ``mask`` is True where a row fails (null: does not apply)."""
        failed = 0 if mask is None else count_true(mask)
        examples: list[RuleExample] = []
        if mask is not None and failed:
            mask = mask.fill_null(False) if mask.null_count else mask
            rows = first_rows(mask, MAX_EXAMPLES)
            self.failing.append(Failure(rule, description, mask, failed, rows[0] + 1))
            examples = [
                RuleExample(row=row + 1, value=value)
                for row, value in zip(rows, shown(rows), strict=True)
            ]
        self.rules.append(
            RuleReport(
                rule=rule, column=column, description=description, failed=failed, examples=examples
            )
        )

    def table_rule(
        self, rule: str, description: str, broken: str | None, details: dict[str, Detail]
    ) -> None:
        """Record a table rule; ``broken`` says why it rejects the file, None if it holds
        (``details``: the numbers behind it, for the reason)."""
        self.rules.append(
            RuleReport(
                rule=rule, column=None, description=description, failed=int(broken is not None)
            )
        )
        if broken is not None:
            self.reasons.append(Reason(code=rule, message=broken, details=details))

    def shown(self, name: str, column: pa.ChunkedArray) -> Callable[[list[int]], list[str]]:
        """How the rows of ``column`` appear in examples: as found, personal data masked."""
        secret = name in self.spec.pii_columns

        def values(rows: list[int]) -> list[str]:
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
