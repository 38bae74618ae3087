"""What validation reports: every rule with its failures and examples, schema changes,
the reasons a file is rejected, and the accepted rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import pyarrow as pa
from pydantic import BaseModel

from driftline_runtime.contracts import RowPolicy
from driftline_runtime.reasons import Reason


class RuleExample(BaseModel):
    row: int
    value: str


class RuleReport(BaseModel):
    rule: str
    column: str | None
    description: str
    failed: int
    examples: list[RuleExample] = []


class SchemaChange(BaseModel):
    change: Literal["added", "missing", "retyped"]
    column: str
    expected: str | None = None
    found: str | None = None


class ValidationReport(BaseModel):
    dataset: str
    contract_version: str
    row_policy: RowPolicy
    validated_at: datetime
    outcome: Literal["accepted", "rejected"]
    rows: int
    valid_rows: int
    bad_rows: int
    # Why the file is rejected (empty when it is accepted).
    reasons: list[Reason]
    rules: list[RuleReport]
    schema_changes: list[SchemaChange]


@dataclass(frozen=True)
class ValidationResult:
    report: ValidationReport
    # The accepted rows, typed as the contract says; None when the file is rejected.
    clean: pa.Table | None
