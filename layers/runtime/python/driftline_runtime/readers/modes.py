"""How a file is read, and how a read that must start over says so.

A file is read once in the usual case. It is read again from the start when what a
later batch holds contradicts what the first batches decided: a column the contract
lacks whose values change type between batches (read again with such columns as text,
so every batch has the same schema), or, in JSON Lines, a key first seen after the
first batch (read again knowing every key, so every batch has every column).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadMode:
    # CSV: the contract's columns parsed into their types by Arrow (else read as text).
    typed: bool = True
    # Columns the contract lacks read as text, not inferred batch by batch.
    text_added: bool = False
    # JSON Lines: the keys of the whole file, in the order first seen (empty: unknown).
    columns: tuple[str, ...] = ()


# How every file is read first.
FIRST_READ = ReadMode()


class ReadAgain(Exception):  # noqa: N818  # a signal, not an error
    """The read must start over from the first byte, in ``mode``."""

    def __init__(self, mode: ReadMode, why: str) -> None:
        super().__init__(why)
        self.mode = mode


class AddedColumnsDisagree(Exception):  # noqa: N818
    """A column the contract lacks holds values of another type than in earlier batches."""

    def __init__(self, columns: list[str]) -> None:
        super().__init__(f"columns {columns} change type between batches")
        self.columns = columns
