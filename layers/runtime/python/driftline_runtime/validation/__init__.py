"""Vectorised validation of a file, batch by batch, against its dataset's pydantic contract.

The checks are derived from the contract, never written by hand: each field's
annotation gives the column's Arrow type and nullability (``X | None``), ``Literal``
gives the allowed values, and the field's constraints (``ge``, ``gt``, ``le``, ``lt``,
``min_length``, ``max_length``, ``pattern``) become ``pyarrow.compute`` expressions over
whole columns. Rows are never built as model instances: a million-row file would take
minutes that way, and a per-row error would say nothing about the rest of the file.

Every rule yields a boolean mask of failing rows. The masks give the counts and the
first examples of each rule (1-based data rows, as in the file; personal data masked),
and their union is the set of bad rows that the dataset's row policy drops or rejects.
Table rules (unique key, minimum rows, share of bad rows, freshness) and schema
changes (added, missing or retyped columns) come on top.

A file is validated in batches (:class:`Validation`): the counts and examples of each
rule add up, the table rules are judged at the end, and memory stays bounded by the
batch size and :class:`ValidationLimits`, whatever the file's size. :func:`validate`
runs a table already in memory through the same steps.

Values arrive either already typed (the readers' fast path) or as text (a CSV column
that failed the typed read, JSON with mixed types): text is parsed per value, still
vectorised, so a bad value costs its row, not the file.
"""

from driftline_runtime.validation.contract import (
    ARROW_TYPES,
    ColumnContract,
    Constraint,
    Kind,
    compile_contract,
)
from driftline_runtime.validation.fixed_width import fixed_width_bytes, fixed_width_classes
from driftline_runtime.validation.output import DeclaredOnly, MemorySpool, ParquetSpool, Spool
from driftline_runtime.validation.parsing import Typed, coerce
from driftline_runtime.validation.report import (
    RuleExample,
    RuleReport,
    SchemaChange,
    ValidationReport,
    ValidationResult,
)
from driftline_runtime.validation.stream import Validation, ValidationLimits
from driftline_runtime.validation.verdict import validate

__all__ = [
    "ARROW_TYPES",
    "ColumnContract",
    "Constraint",
    "Kind",
    "DeclaredOnly",
    "MemorySpool",
    "ParquetSpool",
    "RuleExample",
    "RuleReport",
    "SchemaChange",
    "Spool",
    "Typed",
    "Validation",
    "ValidationLimits",
    "ValidationReport",
    "ValidationResult",
    "coerce",
    "compile_contract",
    "fixed_width_bytes",
    "fixed_width_classes",
    "validate",
]
