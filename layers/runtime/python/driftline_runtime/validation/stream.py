"""A file validated batch by batch, in memory bounded by its limits, not by its size.

:class:`Validation` takes the batches of one file in order (``add``): each column's
rules run on the batch (on several threads: Arrow's kernels release the GIL), their
counts and first examples add up, the batch's failing rows are logged as a bitmap, its
keys go to the unique-key index and its clean rows to the spool. ``finish`` then judges
what only the whole file can tell (retyped columns, repeated keys, the share of bad
rows, the minimum of valid rows, freshness) and returns the same report a validation of
the whole table at once gave; the spool then holds exactly the accepted rows.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.readers.modes import AddedColumnsDisagree
from driftline_runtime.validation.audit import RuleTally, display, masked
from driftline_runtime.validation.bad_rows import BadRowLog, BatchLog
from driftline_runtime.validation.column_rules import ColumnCheck
from driftline_runtime.validation.contract import compile_contract
from driftline_runtime.validation.keys import KeyIndex, Repeats, fast_hashes
from driftline_runtime.validation.output import Spool
from driftline_runtime.validation.parsing import Typed
from driftline_runtime.validation.report import RuleExample, ValidationReport
from driftline_runtime.validation.table_rules import (
    Findings,
    apply_row_policy,
    check_freshness,
    check_min_rows,
    check_schema,
)

MIB = 1024 * 1024
# Arrow's compute kernels are single-threaded but release the GIL: columns are checked
# on this many threads (a Lambda function has 2 vCPUs at 1,769 MB, up to 6 above).
THREADS = min(6, os.cpu_count() or 1)


@dataclass(frozen=True)
class ValidationLimits:
    """What one validation may hold in memory besides its batch, and where it may spill.

    A quarter of ``memory_bytes`` holds the unique key's index before it spills to
    ``workdir`` (None: never spill, for tables already in memory); an eighth the
    repeated rows' numbers. The batches' own share is the readers' (``ReaderLimits``).
    """

    memory_bytes: int = 256 * MIB
    workdir: Path | None = None
    threads: int = THREADS


class Validation:
    def __init__(
        self,
        spec: DatasetSpec,
        now: datetime,
        spool: Spool,
        limits: ValidationLimits = ValidationLimits(),
    ) -> None:
        self.spec = spec
        self.now = now if now.tzinfo else now.replace(tzinfo=UTC)
        self.spool = spool
        self.limits = limits
        self.contract = compile_contract(spec.contract)
        self.rows = 0
        self.findings = Findings()
        self.checks: list[ColumnCheck] = []
        self.added: list[pa.Field] = []
        self.schema: pa.Schema | None = None  # of the clean rows
        self.keys: KeyIndex | None = None
        self.rejected = False  # certainly, whatever the rest of the file holds
        self._workdir = Path(tempfile.mkdtemp(dir=limits.workdir)) if limits.workdir else None
        self.bad = BadRowLog(self._workdir)
        self._pool = ThreadPoolExecutor(max(1, limits.threads), thread_name_prefix="validate")

    # -- batch by batch ------------------------------------------------------------------
    def add(self, table: pa.Table) -> None:
        """Check the next batch of the file (the first one may have no rows)."""
        if self.schema is None:
            self._start(table.schema)
        else:
            table = self._conformed(table)
        if not table.num_rows:
            return
        offset, self.rows = self.rows, self.rows + table.num_rows
        key = self.spec.rules.unique_key
        hashed = key[0] if self.keys is not None and len(key) == 1 else None

        def run(check: ColumnCheck) -> tuple[tuple[Typed, np.ndarray | None], np.ndarray | None]:
            # A single key column's hashes are taken on the same thread as its checks,
            # alongside the other columns', rather than all at the end of the file.
            result = check.check(table[check.column.name], offset)
            return result, fast_hashes(result[0].values) if check.column.name == hashed else None

        outcomes = list(self._pool.map(run, self.checks))
        results = [result for result, _ in outcomes]
        hashes = next((found for _, found in outcomes if found is not None), None)
        typed = {
            check.column.name: result[0] for check, result in zip(self.checks, results, strict=True)
        }
        plain: np.ndarray | None = None
        candidates: dict[str, np.ndarray] = {}
        for check, (_, failing) in zip(self.checks, results, strict=True):
            if failing is None:
                continue
            if check.candidate:
                candidates[check.column.name] = failing
            else:
                plain = failing if plain is None else plain | failing
        if self.keys is not None:
            self.keys.add([typed[name].values for name in key], offset, hashes)
        log, bad = self.bad.add(offset, table.num_rows, plain, candidates)
        self._newest(log, typed, plain, bad)
        if not self.rejected and self.spec.row_policy == "reject_file" and log.bad_plain:
            self._reject()
        if not self.rejected:
            self.spool.write(len(self.bad.batches) - 1, self._clean(table, typed, bad))

    def _start(self, schema: pa.Schema) -> None:
        check_schema(self.findings, schema, self.contract)
        pii = set(self.spec.pii_columns)
        self.checks = [
            ColumnCheck(column, column.name in pii)
            for column in self.contract
            if column.name in schema.names
        ]
        known = {column.name for column in self.contract}
        self.added = [found for found in schema if found.name not in known]
        fields = [pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.contract]
        self.schema = pa.schema(fields + self.added)
        key = self.spec.rules.unique_key
        if key and all(name in schema.names for name in key):
            self.keys = KeyIndex(key, self.limits.memory_bytes // 4, self._workdir)
        self.spool.start(self.schema)
        if len(self.checks) < len(self.contract):
            self._reject()  # a missing column

    def _conformed(self, table: pa.Table) -> pa.Table:
        """A later batch with the first batch's types for the columns the contract lacks."""
        disagree = []
        for found in self.added:
            column = table[found.name]
            if column.type == found.type:
                continue
            try:
                table = table.set_column(
                    table.schema.get_field_index(found.name), found.name, column.cast(found.type)
                )
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                disagree.append(found.name)
        if disagree:
            raise AddedColumnsDisagree(disagree)
        return table

    def _newest(
        self,
        log: BatchLog,
        typed: dict[str, Typed],
        plain: np.ndarray | None,
        bad: np.ndarray | None,
    ) -> None:
        name = self.spec.rules.freshness_column
        if name is None or name not in typed:
            return
        values = typed[name].values
        log.newest_all = _newest(values, bad)
        log.newest_plain = log.newest_all if plain is bad else _newest(values, plain)

    def _clean(self, table: pa.Table, typed: dict[str, Typed], bad: np.ndarray | None) -> pa.Table:
        """Contract columns in contract order and types, then the added columns, good rows."""
        assert self.schema is not None
        arrays = [typed[column.name].values for column in self.contract]
        arrays += [table[found.name] for found in self.added]
        clean = pa.Table.from_arrays(arrays, schema=self.schema)
        return clean if bad is None else clean.filter(pa.array(~bad))

    def _reject(self) -> None:
        self.rejected = True
        self.spool.discard()

    # -- the whole file ------------------------------------------------------------------
    def finish(self) -> ValidationReport:
        """Judge the file; when it is accepted, the spool holds the accepted rows."""
        spec, findings = self.spec, self.findings
        retyped = {check.column.name for check in self.checks if check.retyped}
        failing: list[RuleTally] = []
        for check in self.checks:
            findings.rules += check.reports()
            if check.retyped:
                findings.reasons.append(check.retyped_reason())
                findings.changes.append(check.retyped_change())
            else:
                failing += [tally for tally in check.tallies if tally.failed]
        bad = sum(self.bad.bad_count(log, retyped) for log in self.bad.batches)
        repeats = self._unique_key(retyped, failing)
        dropped: dict[int, np.ndarray] = {}
        if repeats is not None and repeats.count:
            dropped = self._good_repeats(repeats, retyped)
            bad += sum(len(rows) for rows in dropped.values())
        apply_row_policy(findings, spec, failing, bad, self.rows)
        check_min_rows(findings, spec, self.rows - bad)
        newest = self._newest_of_file(retyped, dropped)
        check_freshness(findings, spec, newest, self.now)
        accepted = not findings.reasons
        if accepted and dropped:
            self.spool.rewrite(self._keep(dropped))
        if not accepted and not self.rejected:
            self._reject()
        return ValidationReport(
            dataset=spec.name,
            contract_version=spec.contract_version,
            row_policy=spec.row_policy,
            validated_at=self.now,
            outcome="accepted" if accepted else "rejected",
            rows=self.rows,
            valid_rows=self.rows - bad,
            bad_rows=bad,
            reasons=findings.reasons,
            rules=findings.rules,
            schema_changes=findings.changes,
        )

    def close(self) -> None:
        self._pool.shutdown()
        self.bad.close()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)

    def _unique_key(self, retyped: set[str], failing: list[RuleTally]) -> Repeats | None:
        key = self.spec.rules.unique_key
        if self.keys is None or retyped & set(key):
            return None  # a missing or retyped key column is reported as such
        repeats = self.keys.repeats()
        tally = RuleTally("table.unique_key", None, f"({', '.join(key)}) is unique")
        tally.failed = repeats.count
        pii = set(self.spec.pii_columns)
        for row, values in repeats.first:
            shown = [
                masked(display(value)) if name in pii else display(value)
                for name, value in zip(key, values, strict=True)
            ]
            tally.examples.append(RuleExample(row=row + 1, value="|".join(shown)))
        tally.first_row = repeats.first[0][0] + 1 if repeats.first else None
        self.findings.rules.append(tally.report())
        if repeats.count:
            failing.append(tally)
        return repeats

    def _good_repeats(self, repeats: Repeats, retyped: set[str]) -> dict[int, np.ndarray]:
        """Per batch, the repeating rows that failed no other rule (now bad rows too)."""
        found: dict[int, np.ndarray] = {}
        for index, log, rows in _by_batch(self.bad.batches, repeats.in_order()):
            bad = self.bad.bad(log, retyped)
            good = rows if bad is None else rows[~bad[rows - log.offset]]
            if len(good):
                found[index] = good
        return found

    def _newest_of_file(self, retyped: set[str], dropped: dict[int, np.ndarray]) -> Any:
        name = self.spec.rules.freshness_column
        if name is None or all(check.column.name != name for check in self.checks):
            return None
        if not dropped or self.rejected or name in retyped:
            values = [self.bad.newest(log, retyped) for log in self.bad.batches]
        else:  # repeated keys are dropped: their values no longer count
            keep = self._keep(dropped)
            values = [
                _newest(table[name].filter(keep(batch, table)), None)
                for batch, table in self.spool.tables()
            ]
        present: list[Any] = [value for value in values if value is not None]
        return max(present) if present else None

    def _keep(self, dropped: dict[int, np.ndarray]) -> Any:
        written = {
            index: rows for index, (_, rows) in enumerate(self.bad.written()) if index in dropped
        }

        def keep(batch: int, table: pa.Table) -> pa.Array:
            if batch not in dropped:
                return pa.array(np.ones(table.num_rows, dtype=bool))
            return pa.array(~np.isin(written[batch], dropped[batch]))

        return keep


def _by_batch(
    logs: list[BatchLog], ranges: Iterator[np.ndarray]
) -> Iterator[tuple[int, BatchLog, np.ndarray]]:
    """The sorted repeating rows, split by the batch they fall in."""
    index = 0
    for rows in ranges:
        start = 0
        while start < len(rows):
            while logs[index].offset + logs[index].rows <= rows[start]:
                index += 1
            log = logs[index]
            end = int(np.searchsorted(rows, log.offset + log.rows))
            yield index, log, rows[start:end]
            start = end


def _newest(values: pa.ChunkedArray, bad: np.ndarray | None) -> Any:
    if bad is not None:
        values = values.filter(pa.array(~bad))
    return pc.max(values).as_py()
