"""The rules of the whole table: the schema (missing and added columns), the share of bad
rows the row policy tolerates, a minimum of valid rows and freshness, judged on what the
batches added up to."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pyarrow as pa

from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.reasons import Detail, Reason
from driftline_runtime.validation.audit import RuleTally, display
from driftline_runtime.validation.contract import ColumnContract
from driftline_runtime.validation.report import RuleReport, SchemaChange


@dataclass
class Findings:
    """The report's rules, reasons and schema changes, in the order they are judged."""

    rules: list[RuleReport] = field(default_factory=list)
    reasons: list[Reason] = field(default_factory=list)
    changes: list[SchemaChange] = field(default_factory=list)

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


def check_schema(
    findings: Findings, schema: pa.Schema, contract: tuple[ColumnContract, ...]
) -> None:
    known = {column.name for column in contract}
    for column in contract:
        if column.name not in schema.names:
            expected = f"{column.kind} ({column.arrow_type})"
            findings.changes.append(
                SchemaChange(change="missing", column=column.name, expected=expected)
            )
            findings.rules.append(
                RuleReport(
                    rule="schema.missing_column",
                    column=column.name,
                    description=f"{column.name} is present",
                    failed=1,
                )
            )
            findings.reasons.append(
                Reason(
                    code="schema.missing_column",
                    message=f"column {column.name!r} is missing",
                    details={"column": column.name, "expected": expected},
                )
            )
    for found in schema:
        if found.name not in known:
            # Schema evolution: an extra column is recorded, never a failure; it is left
            # out of the curated data (validation.output.DeclaredOnly).
            findings.changes.append(
                SchemaChange(change="added", column=found.name, found=str(found.type))
            )


def apply_row_policy(
    findings: Findings, spec: DatasetSpec, failing: list[RuleTally], bad: int, rows: int
) -> None:
    if spec.row_policy == "reject_file":
        # Every failing rule is a reason: the policy tolerates no bad row.
        findings.reasons += [
            Reason(
                code=tally.rule,
                message=f"{_rows_fail(tally.failed)} '{tally.description}' "
                f"(first at row {tally.first_row}) and the row policy rejects any bad row",
                details={"rows": tally.failed, "first_row": tally.first_row},
            )
            for tally in failing
        ]
        return
    share = bad / rows if rows else 0.0
    limit = spec.rules.max_bad_row_share
    broken = None
    names = [tally.rule for tally in failing]
    if share > limit:
        broken = (
            f"{bad} of {rows} rows ({share:.2%}) fail rules ({', '.join(names)}), "
            f"above the limit of {limit:.2%} that may be dropped"
        )
    findings.table_rule(
        "table.max_bad_row_share",
        f"bad rows are at most {limit:.2%}",
        broken,
        {"bad_rows": bad, "rows": rows, "share": share, "limit": limit, "rules": names},
    )


def _rows_fail(count: int) -> str:
    return "1 row fails" if count == 1 else f"{count} rows fail"


def check_min_rows(findings: Findings, spec: DatasetSpec, valid: int) -> None:
    least = spec.rules.min_rows
    broken = f"{valid} valid rows, fewer than the {least} required" if valid < least else None
    details: dict[str, Detail] = {"valid_rows": valid, "min_rows": least}
    findings.table_rule("table.min_rows", f"at least {least} valid rows", broken, details)


def check_freshness(
    findings: Findings, spec: DatasetSpec, newest: datetime | None, now: datetime
) -> None:
    """``newest``: the newest value of the freshness column on the valid rows."""
    rules = spec.rules
    if rules.freshness_column is None or rules.max_age is None:
        return
    name, oldest = rules.freshness_column, now - rules.max_age
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
    findings.table_rule(
        "table.freshness", f"the newest {name} is at most {rules.max_age} old", broken, details
    )
