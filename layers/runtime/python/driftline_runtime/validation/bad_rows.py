"""Which rows of each batch failed a rule, kept on disk as bitmaps (a bit per row), so
that the end of the file can still tell which rows were bad.

Two things are decided only at the end of a file: which columns are retyped (their
failures then cost no row) and which rows repeat a key. So each batch's failing rows
are logged twice over when a candidate for a retyped column failed rows in it: the rows
every other column failed (``plain``) and each candidate's own. At the end the bad rows
of a batch are the plain ones and those of the candidates that were not retyped after all.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np


@dataclass
class BatchLog:
    offset: int  # the batch's first row (0-based)
    rows: int
    bad_all: int  # rows failing any rule
    bad_plain: int  # rows failing a rule of a column that is no retyped candidate
    # Candidate columns that failed rows in this batch, each with its bitmap's position.
    candidates: dict[str, int] = field(default_factory=dict)
    position: int = -1  # of the bitmap of all bad rows (-1: none)
    plain_position: int = -1  # of the bitmap of the plain bad rows (-1: as all, or none)
    # The newest freshness value on rows that failed no rule / no plain rule.
    newest_all: object = None
    newest_plain: object = None

    def decided(self, retyped: set[str]) -> bool:
        """Whether every candidate of this batch was retyped (its plain rows are final)."""
        return all(name in retyped for name in self.candidates)

    def undecided(self, retyped: set[str]) -> bool:
        """Whether none was: all its bad rows stand."""
        return not any(name in retyped for name in self.candidates)


class BadRowLog:
    def __init__(self, workdir: Path | None) -> None:
        self._file: BinaryIO = (
            tempfile.TemporaryFile(dir=workdir) if workdir is not None else io.BytesIO()
        )
        self._end = 0
        self.batches: list[BatchLog] = []

    def add(
        self, offset: int, rows: int, plain: np.ndarray | None, candidates: dict[str, np.ndarray]
    ) -> tuple[BatchLog, np.ndarray | None]:
        """Log one batch's failing rows; its log and the rows failing any rule."""
        every = plain
        for mask in candidates.values():
            every = mask if every is None else every | mask
        log = BatchLog(offset, rows, _count(every), _count(plain))
        if every is not None and log.bad_all:
            log.position = self._write(every)
            if candidates:
                log.plain_position = self._write(plain) if log.bad_plain else -1
                log.candidates = {name: self._write(mask) for name, mask in candidates.items()}
        self.batches.append(log)
        return log, every if log.bad_all else None

    def bad(self, log: BatchLog, retyped: set[str]) -> np.ndarray | None:
        """The batch's bad rows once the retyped columns are known (None: none)."""
        if log.undecided(retyped):
            return self._read(log.position, log.rows)
        rows = self._read(log.plain_position, log.rows)
        for name, position in log.candidates.items():
            if name not in retyped:
                mask = self._read(position, log.rows)
                rows = mask if rows is None else rows | mask
        return rows

    def bad_count(self, log: BatchLog, retyped: set[str]) -> int:
        if log.undecided(retyped):
            return log.bad_all
        if log.decided(retyped):
            return log.bad_plain
        return _count(self.bad(log, retyped))

    def newest(self, log: BatchLog, retyped: set[str]) -> object:
        """The newest freshness value on the batch's good rows (when a candidate was
        retyped and another was not, on the rows that failed no rule at all)."""
        return log.newest_plain if log.decided(retyped) and log.candidates else log.newest_all

    def written(self) -> Iterator[tuple[BatchLog, np.ndarray]]:
        """Each batch's rows that failed no rule (what went to the output), as row numbers."""
        for log in self.batches:
            bad = self._read(log.position, log.rows)
            kept = np.arange(log.rows) if bad is None else np.flatnonzero(~bad)
            yield log, kept + log.offset

    def close(self) -> None:
        self._file.close()

    def _write(self, mask: np.ndarray | None) -> int:
        if mask is None:
            return -1
        packed = np.packbits(mask).tobytes()
        self._file.seek(self._end)
        self._file.write(packed)
        position, self._end = self._end, self._end + len(packed)
        return position

    def _read(self, position: int, rows: int) -> np.ndarray | None:
        if position < 0:
            return None
        self._file.seek(position)
        packed = np.frombuffer(self._file.read((rows + 7) // 8), np.uint8)
        return np.unpackbits(packed, count=rows).astype(bool)


def _count(mask: np.ndarray | None) -> int:
    return 0 if mask is None else int(np.count_nonzero(mask))
