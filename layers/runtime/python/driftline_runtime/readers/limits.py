"""What a file may cost before it is refused, and how a file that cannot be read fails."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from driftline_runtime.reasons import Reason

FileFormat = Literal["csv", "parquet", "jsonl"]
# A file's bytes: gzip is inflated into a bytearray, so that it is never copied whole.
Data = bytes | bytearray
MIB = 1024 * 1024
# Inflate and scan in pieces of this size: the only memory the guards add.
CHUNK = 8 * MIB


@dataclass(frozen=True)
class ReaderLimits:
    """How much a file may cost before it is refused; the ingest function's settings."""

    # What a compressed file may inflate to (the reader holds it in memory).
    max_decompressed_bytes: int = 256 * MIB
    # The longest line of a CSV or JSON Lines file; Arrow's parser would need a block
    # that large, and no contract row comes near it.
    max_line_bytes: int = 1 * MIB


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
