"""The rules of each column: its type, presence, allowed values, finiteness and
constraints, checked batch by batch and tallied over the file.

Whether a column is *retyped* (none of its values parses as its type: the file holds
something else there) is known only at the end of the file; until then a column whose
every value so far failed is a candidate, and its failures are kept apart from the
other columns' (``driftline_runtime.validation.bad_rows``) so that a retyped column
costs the file one reason, not a bad row per value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from driftline_runtime.reasons import Reason
from driftline_runtime.validation.audit import RuleTally, shown_values
from driftline_runtime.validation.contract import ARROW_TYPES, ColumnContract, Constraint, Kind
from driftline_runtime.validation.fixed_width import fixed_width_bytes, rows_among
from driftline_runtime.validation.parsing import Typed, coerce, is_text, parse_text
from driftline_runtime.validation.report import RuleReport, SchemaChange


@dataclass
class ColumnCheck:
    """One contract column over the whole file: its rules' tallies and its parse counts."""

    column: ColumnContract
    secret: bool  # a personal-data column: examples are masked
    tallies: list[RuleTally] = field(default_factory=list)
    present: int = 0  # values that were neither null nor blank
    failed: int = 0  # present values that did not parse
    found: str | None = None  # what the column holds, from its first present values

    def __post_init__(self) -> None:
        name, column = self.column.name, self.column
        rules = [(f"{name}.type", f"{name} parses as {column.kind}")]
        if not column.nullable:
            rules.append((f"{name}.not_null", f"{name} is present"))
        if column.allowed:
            listed = ", ".join(str(value) for value in column.allowed)
            rules.append((f"{name}.allowed_values", f"{name} is one of {listed}"))
        if column.kind == "float":
            rules.append((f"{name}.finite", f"{name} is a finite number"))
        rules += [(c.rule, c.description) for c in column.constraints]
        self.tallies = [RuleTally(rule, name, description) for rule, description in rules]

    @property
    def candidate(self) -> bool:
        """Every present value so far failed to parse (or none was present): the column
        may turn out retyped, which only the end of the file can tell."""
        return self.failed == self.present

    @property
    def retyped(self) -> bool:
        return self.present > 0 and self.failed == self.present

    def check(self, raw: pa.ChunkedArray, offset: int) -> tuple[Typed, np.ndarray | None]:
        """Every rule on one batch: the typed values, and the rows failing any rule."""
        column = self.column
        typed = coerce(raw, column.kind)
        self.present += typed.present
        self.failed += typed.failed
        if self.found is None and typed.present:
            self.found = (
                _found_type(raw) if typed.failed == typed.present else str(column.arrow_type)
            )
        shown = shown_values(raw, self.secret)
        values = typed.values
        masks = [typed.type_failures]
        if not column.nullable:
            missing = values.is_null() if values.null_count else None
            if missing is not None and typed.type_failures is not None:
                missing = pc.and_not(missing, typed.type_failures)
            masks.append(missing)
        if column.allowed:
            masks.append(_outside(values, column))
        if column.kind == "float":
            masks.append(pc.invert(pc.is_finite(values)))
        bounds = _bounds(values, column)
        masks += [
            None if _holds_everywhere(constraint, bounds) else constraint.failing(values)
            for constraint in column.constraints
        ]
        failing = None
        for tally, mask in zip(self.tallies, masks, strict=True):
            counted = tally.add(mask, offset, shown)
            if counted is not None:
                flags = _numpy(counted)
                failing = flags if failing is None else failing | flags
        return typed, failing

    def reports(self) -> list[RuleReport]:
        """The column's rule reports, or the one report of a retyped column."""
        if not self.retyped:
            return [tally.report() for tally in self.tallies]
        name = self.column.name
        return [
            RuleReport(
                rule="schema.retyped_column",
                column=name,
                description=f"{name} holds {self.column.kind} values",
                failed=self.failed,
                examples=list(self.tallies[0].examples),
            )
        ]

    def retyped_change(self) -> SchemaChange:
        column = self.column
        expected = f"{column.kind} ({column.arrow_type})"
        return SchemaChange(
            change="retyped", column=column.name, expected=expected, found=self.found or "text"
        )

    def retyped_reason(self) -> Reason:
        column = self.column
        expected = f"{column.kind} ({column.arrow_type})"
        found = self.found or "text"
        return Reason(
            code="schema.retyped_column",
            message=f"column {column.name!r} should hold {expected} but holds {found}: none "
            f"of its {self.present} values parses as {column.kind}",
            details={
                "column": column.name,
                "expected": expected,
                "found": found,
                "values": self.present,
            },
        )


# Bounds that the smallest and largest value settle for the whole batch.
_ORDERED: dict[str, Callable[[Any, Any], bool]] = {
    "ge": lambda low_high, bound: low_high[0] >= bound,
    "gt": lambda low_high, bound: low_high[0] > bound,
    "le": lambda low_high, bound: low_high[1] <= bound,
    "lt": lambda low_high, bound: low_high[1] < bound,
}


def _bounds(values: pa.ChunkedArray, column: ColumnContract) -> tuple[Any, Any] | None:
    """The smallest and largest value of an integer column with bounds, in one pass, or
    None: when they keep every bound, no value can break one and no mask is computed
    (a comparison and a count per bound, saved on the usual, clean batch). Not for
    floats: Arrow's min_max minds NaN and costs more than the comparisons it saves."""
    if column.kind != "int" or not any(
        constraint.check in _ORDERED for constraint in column.constraints
    ):
        return None
    found = pc.min_max(values).as_py()
    low, high = found["min"], found["max"]
    return None if low is None else (low, high)


def _holds_everywhere(constraint: Constraint, bounds: tuple[Any, Any] | None) -> bool:
    holds = _ORDERED.get(constraint.check)
    return bounds is not None and holds is not None and holds(bounds, constraint.value)


def _outside(values: pa.ChunkedArray, column: ColumnContract) -> pa.ChunkedArray:
    """The present values that are none of the column's allowed values."""
    if column.kind == "str" and (matrix := fixed_width_bytes(values)) is not None:
        among = rows_among(matrix, column.allowed)
        if among is not None:
            return pa.chunked_array([pa.array(~among)])
    allowed = pa.array(column.allowed, column.arrow_type)
    outside = pc.invert(pc.is_in(values, value_set=allowed))
    if values.null_count:
        outside = pc.and_(outside, values.is_valid())
    return outside


def _numpy(mask: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


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
