"""The verdict on a table: every check in order, the report, and the accepted rows."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.validation.audit import Audit
from driftline_runtime.validation.column_rules import check_columns
from driftline_runtime.validation.contract import ColumnContract, compile_contract
from driftline_runtime.validation.parsing import Typed, count_true
from driftline_runtime.validation.report import ValidationReport, ValidationResult
from driftline_runtime.validation.table_rules import (
    apply_row_policy,
    bad_rows,
    check_freshness,
    check_min_rows,
    check_schema,
)


def validate(table: pa.Table, spec: DatasetSpec, now: datetime) -> ValidationResult:
    """Check ``table`` against ``spec``: the report, and the accepted rows if any.

    ``now`` is the clock for the freshness rule and the report (naive means UTC).
    """
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    contract = compile_contract(spec.contract)
    audit = Audit(spec, table.num_rows)
    check_schema(audit, table, contract)
    typed = check_columns(audit, table, contract)
    bad = bad_rows(audit.failing)
    bad_count = 0 if bad is None else count_true(bad)
    apply_row_policy(audit, bad_count)
    valid_rows = audit.rows - bad_count
    check_min_rows(audit, valid_rows)
    check_freshness(audit, typed, bad, now)
    accepted = not audit.reasons
    report = ValidationReport(
        dataset=spec.name,
        contract_version=spec.contract_version,
        row_policy=spec.row_policy,
        validated_at=now,
        outcome="accepted" if accepted else "rejected",
        rows=audit.rows,
        valid_rows=valid_rows,
        bad_rows=bad_count,
        reasons=audit.reasons,
        rules=audit.rules,
        schema_changes=audit.changes,
    )
    clean = clean_table(table, contract, typed, bad) if accepted else None
    return ValidationResult(report=report, clean=clean)


def clean_table(
    table: pa.Table,
    contract: tuple[ColumnContract, ...],
    typed: dict[str, Typed],
    bad: pa.ChunkedArray | None,
) -> pa.Table:
    """Contract columns in contract order and types, then the added columns, good rows."""
    known = {column.name for column in contract}
    fields = [pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in contract]
    arrays = [typed[c.name].values for c in contract]
    for added in table.schema:
        if added.name not in known:
            fields.append(added)
            arrays.append(table[added.name])
    clean = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    return clean if bad is None else clean.filter(pc.invert(bad))
