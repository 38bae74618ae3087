"""The rules of the whole table: a unique key, the share of bad rows the row policy
tolerates, a minimum of valid rows, freshness, and the schema (missing and added columns)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftline_runtime.reasons import Detail, Reason
from driftline_runtime.validation.audit import Audit, Failure, display
from driftline_runtime.validation.contract import ColumnContract
from driftline_runtime.validation.fixed_width import fixed_width_bytes, row_hashes
from driftline_runtime.validation.parsing import Typed, coerce
from driftline_runtime.validation.report import RuleReport, SchemaChange


def key_repeats(
    table: pa.Table, contract: tuple[ColumnContract, ...], key: tuple[str, ...]
) -> tuple[bool, pa.ChunkedArray | None]:
    """(whether the key can be checked, its repeats): not when a key column is unusable.

    The key is compared in its contract types (``01`` and ``1`` are one int), so it is
    parsed here too; for typed columns that costs nothing.
    """
    kinds = {column.name: column.kind for column in contract}
    values = []
    for name in key:
        if name not in table.column_names:
            return False, None  # reported as a missing column
        typed = coerce(table[name], kinds[name])
        if typed.present and typed.failed == typed.present:
            return False, None  # reported as a retyped column
        values.append(typed.values)
    return True, _repeats(values, table.num_rows)


def check_unique_key(audit: Audit, repeated: pa.ChunkedArray | None, raw: pa.Table) -> None:
    key = audit.spec.rules.unique_key

    def shown(rows: list[int]) -> list[str]:
        parts = [audit.shown(name, raw[name])(rows) for name in key]
        return ["|".join(row) for row in zip(*parts, strict=True)]

    description = f"({', '.join(key)}) is unique"
    audit.row_rule("table.unique_key", None, description, repeated, shown)


def _repeats(values: list[pa.ChunkedArray], rows: int) -> pa.ChunkedArray | None:
    """True on each row whose key was seen on an earlier row; rows with a null key pass."""
    if len(values) == 1 and _surely_unique(values[0]):
        return None
    names = [f"key{index}" for index in range(len(values))]
    keyed = pa.table([*values, pa.array(np.arange(rows, dtype=np.int64))], [*names, "row"])
    firsts = keyed.group_by(names).aggregate([("row", "min")])["row_min"]
    first = np.zeros(rows, dtype=bool)
    first[firsts.to_numpy()] = True
    complete = np.ones(rows, dtype=bool)
    for column in values:
        if column.null_count:
            complete &= column.is_valid().to_numpy(zero_copy_only=False)
    return pa.chunked_array([pa.array(complete & ~first)])


def _surely_unique(column: pa.ChunkedArray) -> bool:
    """Whether the values are all distinct, settled cheaply for the usual, clean file.

    Integers, and fixed-width text by a 64-bit hash of each value, are sorted and
    compared with their neighbours: distinct hashes prove distinct values. Equal hashes
    may be a collision, so they answer False and the exact grouping decides.
    """
    if column.null_count:
        return False
    matrix = fixed_width_bytes(column)
    if matrix is not None:
        keys = row_hashes(matrix)
    elif pa.types.is_integer(column.type):
        keys = column.to_numpy()
    else:
        return bool(pc.count_distinct(column).as_py() == len(column))
    keys.sort()
    return not bool(np.any(keys[1:] == keys[:-1]))


def bad_rows(failing: list[Failure]) -> pa.ChunkedArray | None:
    if not failing:
        return None
    bad = failing[0].mask
    for failure in failing[1:]:
        bad = pc.or_(bad, failure.mask)
    return bad


def apply_row_policy(audit: Audit, bad: int) -> None:
    spec = audit.spec
    if spec.row_policy == "reject_file":
        # Every failing rule is a reason: the policy tolerates no bad row.
        audit.reasons += [
            Reason(
                code=failure.rule,
                message=f"{_rows_fail(failure.failed)} '{failure.description}' "
                f"(first at row {failure.first_row}) and the row policy rejects any bad row",
                details={"rows": failure.failed, "first_row": failure.first_row},
            )
            for failure in audit.failing
        ]
        return
    share = bad / audit.rows if audit.rows else 0.0
    limit = spec.rules.max_bad_row_share
    broken = None
    rules = [failure.rule for failure in audit.failing]
    if share > limit:
        broken = (
            f"{bad} of {audit.rows} rows ({share:.2%}) fail rules ({', '.join(rules)}), "
            f"above the limit of {limit:.2%} that may be dropped"
        )
    audit.table_rule(
        "table.max_bad_row_share",
        f"bad rows are at most {limit:.2%}",
        broken,
        {"bad_rows": bad, "rows": audit.rows, "share": share, "limit": limit, "rules": rules},
    )


def _rows_fail(count: int) -> str:
    return "1 row fails" if count == 1 else f"{count} rows fail"


def check_min_rows(audit: Audit, valid: int) -> None:
    least = audit.spec.rules.min_rows
    broken = f"{valid} valid rows, fewer than the {least} required" if valid < least else None
    details: dict[str, Detail] = {"valid_rows": valid, "min_rows": least}
    audit.table_rule("table.min_rows", f"at least {least} valid rows", broken, details)


def check_freshness(
    audit: Audit, typed: dict[str, Typed], bad: pa.ChunkedArray | None, now: datetime
) -> None:
    rules = audit.spec.rules
    if rules.freshness_column is None or rules.max_age is None:
        return
    name, oldest = rules.freshness_column, now - rules.max_age
    description = f"the newest {name} is at most {rules.max_age} old"
    if name not in typed:
        return  # missing or retyped: reported already
    values = typed[name].values
    if bad is not None:
        values = pc.if_else(bad, pa.scalar(None, values.type), values)
    newest = pc.max(values).as_py()
    broken = None
    if newest is None:
        broken = f"no valid {name} to tell how fresh the file is"
    elif newest < oldest:
        broken = (
            f"the newest {name} is {display(newest)}, older than {rules.max_age} "
            f"before {display(now)}"
        )
    details: dict[str, Detail] = {
        "column": name,
        "newest": None if newest is None else display(newest),
        "max_age_seconds": rules.max_age.total_seconds(),
    }
    audit.table_rule("table.freshness", description, broken, details)


def check_schema(audit: Audit, table: pa.Table, contract: tuple[ColumnContract, ...]) -> None:
    known = {column.name for column in contract}
    for column in contract:
        if column.name not in table.column_names:
            expected = f"{column.kind} ({column.arrow_type})"
            audit.changes.append(
                SchemaChange(change="missing", column=column.name, expected=expected)
            )
            audit.rules.append(
                RuleReport(
                    rule="schema.missing_column",
                    column=column.name,
                    description=f"{column.name} is present",
                    failed=1,
                )
            )
            audit.reasons.append(
                Reason(
                    code="schema.missing_column",
                    message=f"column {column.name!r} is missing",
                    details={"column": column.name, "expected": expected},
                )
            )
    for found in table.schema:
        if found.name not in known:
            # Schema evolution: an extra column is kept and recorded, never a failure.
            audit.changes.append(
                SchemaChange(change="added", column=found.name, found=str(found.type))
            )
