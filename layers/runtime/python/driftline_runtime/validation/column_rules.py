"""The rules of each column: its type, presence, allowed values, finiteness and
constraints, checked on several threads (Arrow's kernels release the GIL)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.compute as pc

from driftline_runtime.reasons import Reason
from driftline_runtime.validation.audit import MAX_EXAMPLES, Audit, first_rows
from driftline_runtime.validation.contract import ARROW_TYPES, ColumnContract, Kind
from driftline_runtime.validation.parsing import Typed, coerce, is_text, parse_text
from driftline_runtime.validation.report import RuleExample, RuleReport, SchemaChange
from driftline_runtime.validation.table_rules import check_unique_key, key_repeats

# Arrow's compute kernels are single-threaded but release the GIL: columns are checked
# on this many threads (a Lambda function has 2 vCPUs at 1,769 MB, up to 6 above).
THREADS = min(6, os.cpu_count() or 1)


def check_column(audit: Audit, raw: pa.ChunkedArray, column: ColumnContract) -> Typed | None:
    """Every rule of one column; the typed values, or None when the column is retyped."""
    name = column.name
    typed = coerce(raw, column.kind)
    shown = audit.shown(name, raw)
    if typed.present and typed.failed == typed.present:
        _retyped(audit, raw, column, typed, shown)
        return None
    values = typed.values
    audit.row_rule(
        f"{name}.type", name, f"{name} parses as {column.kind}", typed.type_failures, shown
    )
    if not column.nullable:
        missing = values.is_null() if values.null_count else None
        if missing is not None and typed.type_failures is not None:
            missing = pc.and_not(missing, typed.type_failures)
        audit.row_rule(f"{name}.not_null", name, f"{name} is present", missing, shown)
    for rule, description, mask in _value_rules(values, column):
        audit.row_rule(rule, name, description, mask, shown)
    return typed


def _value_rules(
    values: pa.ChunkedArray, column: ColumnContract
) -> Iterator[tuple[str, str, pa.ChunkedArray]]:
    """(rule, description, mask) for the rules on present values: null never fails them."""
    name = column.name
    if column.allowed:
        allowed = pa.array(column.allowed, column.arrow_type)
        outside = pc.invert(pc.is_in(values, value_set=allowed))
        if values.null_count:
            outside = pc.and_(outside, values.is_valid())
        listed = ", ".join(str(value) for value in column.allowed)
        yield f"{name}.allowed_values", f"{name} is one of {listed}", outside
    if column.kind == "float":
        yield f"{name}.finite", f"{name} is a finite number", pc.invert(pc.is_finite(values))
    for constraint in column.constraints:
        yield constraint.rule, constraint.description, constraint.failing(values)


def _retyped(
    audit: Audit,
    raw: pa.ChunkedArray,
    column: ColumnContract,
    typed: Typed,
    shown: Callable[[list[int]], list[str]],
) -> None:
    expected = f"{column.kind} ({column.arrow_type})"
    found = _found_type(raw)
    audit.changes.append(
        SchemaChange(change="retyped", column=column.name, expected=expected, found=found)
    )
    rows = first_rows(typed.type_failures, MAX_EXAMPLES) if typed.type_failures else []
    examples = [RuleExample(row=r + 1, value=v) for r, v in zip(rows, shown(rows), strict=True)]
    audit.rules.append(
        RuleReport(
            rule="schema.retyped_column",
            column=column.name,
            description=f"{column.name} holds {column.kind} values",
            failed=typed.failed,
            examples=examples,
        )
    )
    audit.reasons.append(
        Reason(
            code="schema.retyped_column",
            message=f"column {column.name!r} should hold {expected} but holds {found}: none "
            f"of its {typed.present} values parses as {column.kind}",
            details={
                "column": column.name,
                "expected": expected,
                "found": found,
                "values": typed.present,
            },
        )
    )


def _found_type(raw: pa.ChunkedArray) -> str:
    """What a retyped column holds: its Arrow type, or for text what the text looks like."""
    if not is_text(raw.type):
        return str(raw.type)
    sample = raw.drop_null().slice(0, 1000)
    kinds: tuple[Kind, ...] = ("int", "float", "bool", "datetime")
    for kind in kinds:
        typed = parse_text(sample.cast(pa.string()), kind)
        if typed.present and not typed.failed:
            return f"text of {ARROW_TYPES[kind]}"
    return "text"


def check_columns(
    audit: Audit, table: pa.Table, contract: tuple[ColumnContract, ...]
) -> dict[str, Typed]:
    """Every column's rules and the unique key, on two threads (Arrow releases the GIL).

    Each column job records into an audit of its own; merging them in contract order
    keeps the report the same from run to run.
    """
    present = [column for column in contract if column.name in table.column_names]
    audits = [Audit(audit.spec, audit.rows) for _ in present]
    key = audit.spec.rules.unique_key
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        # The key's hashing is the longest job: it starts first, columns fill around it.
        repeats = pool.submit(key_repeats, table, contract, key) if key else None
        results = list(
            pool.map(
                lambda job: check_column(job[0], table[job[1].name], job[1]),
                zip(audits, present, strict=True),
            )
        )
        checked, repeated = repeats.result() if repeats is not None else (False, None)
    typed: dict[str, Typed] = {}
    for part, column, result in zip(audits, present, results, strict=True):
        audit.rules += part.rules
        audit.reasons += part.reasons
        audit.changes += part.changes
        audit.failing += part.failing
        if result is not None:
            typed[column.name] = result
    if checked:
        check_unique_key(audit, repeated, table)
    return typed
