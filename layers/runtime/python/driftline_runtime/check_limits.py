"""What checking one file may cost, in a module light enough for a function's cold start.

The ingest function builds its limits when it starts, but reads (and so loads pyarrow)
only when a file arrives that it validates itself: this module imports neither the
readers' parsers nor the validator.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from driftline_runtime.readers.limits import ReaderLimits

if TYPE_CHECKING:
    from driftline_runtime.validation import ValidationLimits

MIB = 1024 * 1024


@dataclass(frozen=True)
class CheckLimits:
    """What checking one file may cost: ``memory_bytes`` for its batches and working
    state together (the readers take half, the validator the rest), the guards' limits."""

    memory_bytes: int = 256 * MIB
    max_decompressed_bytes: int = ReaderLimits.max_decompressed_bytes
    max_inflation_ratio: int = ReaderLimits.max_inflation_ratio
    max_line_bytes: int = ReaderLimits.max_line_bytes

    def reader(self) -> ReaderLimits:
        return ReaderLimits.within(
            self.memory_bytes,
            max_decompressed_bytes=self.max_decompressed_bytes,
            max_inflation_ratio=self.max_inflation_ratio,
            max_line_bytes=self.max_line_bytes,
        )

    def validation(self, workdir: Path | None) -> ValidationLimits:
        from driftline_runtime.validation import ValidationLimits  # pyarrow: when checking

        return ValidationLimits(memory_bytes=self.memory_bytes // 2, workdir=workdir)
