"""What a file may cost before it is refused, and how a file that cannot be read fails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from driftline_runtime.reasons import Reason

FileFormat = Literal["csv", "parquet", "jsonl"]
# A file's bytes held in memory (tests, ``driftline drop --check``); the pipeline reads
# files from disk instead (see ``driftline_runtime.readers.sources``).
Data = bytes | bytearray
MIB = 1024 * 1024
GIB = 1024 * MIB
# Inflate and scan in pieces of this size: the only memory the guards add.
CHUNK = 8 * MIB
# What the working set of one batch costs, per byte of text read: the text, the Arrow
# columns parsed from it (typed, and as text when a value fails), the masks of the rules,
# its clean rows, and the previous batch's clean rows still being written to Parquet on
# the spool's thread. Measured on the transactions contract (21 columns) with the
# function's REPORT lines (tests/reliability/test_streaming.py): with 10 the peak came
# within 3 MB of the setting, so 12 leaves a margin for the allocator's retained pages.
# ``benchmarks.streaming`` prints the peak too.
BATCH_EXPANSION = 12


@dataclass(frozen=True)
class ReaderLimits:
    """How much a file may cost before it is refused, and how much is read at a time."""

    # What a compressed file may inflate to. Inflating streams in bounded pieces, so
    # this bounds time and disk, not memory: a gzip bomb is refused by the ratio below
    # long before it gets here.
    max_decompressed_bytes: int = 1024 * GIB
    # A gzip file inflating to more than this many times its compressed size (once past
    # ``INFLATION_GRACE`` bytes) is a bomb: CSV and JSON Lines compress 3-20 times.
    max_inflation_ratio: int = 200
    # The longest line of a CSV or JSON Lines file; no contract row comes near it.
    max_line_bytes: int = 1 * MIB
    # Text read per batch (CSV and JSON Lines), or the Parquet rows that inflate to about
    # as much: what bounds the validator's memory (about BATCH_EXPANSION times this).
    batch_bytes: int = 16 * MIB

    def __post_init__(self) -> None:
        if self.batch_bytes < 2 * self.max_line_bytes:
            raise ValueError(
                f"batch_bytes ({self.batch_bytes}) must hold two of the longest lines "
                f"(max_line_bytes {self.max_line_bytes})"
            )

    @classmethod
    def within(cls, memory_bytes: int, **limits: int) -> ReaderLimits:
        """Limits whose batches fit in ``memory_bytes`` together with the validator's
        other working memory (see ``driftline_runtime.validation.ValidationLimits``)."""
        batch = max(2 * limits.get("max_line_bytes", MIB), memory_bytes // (2 * BATCH_EXPANSION))
        return cls(batch_bytes=batch, **limits)


# Bytes a gzip file inflates to before the inflation ratio is judged: a small file of
# repeated values may compress very well and costs nothing.
INFLATION_GRACE = 16 * MIB


class UnreadableFile(ValueError):
    """The file cannot be read as its key says. ``reason`` is a short snake_case code:

    ``unknown_format``, ``empty_file``, ``header_only``, ``not_text``, ``not_utf8``,
    ``not_csv``, ``truncated_gzip``, ``corrupt_gzip``, ``decompression_limit``,
    ``line_too_long``, ``not_parquet``, ``bad_json_line``, ``duplicate_columns`` or
    ``bad_column_name``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message

    def as_reason(self) -> Reason:
        """The rejection reason a quarantine report gives (code: the ``reason``)."""
        return Reason(code=self.reason, message=self.message)
