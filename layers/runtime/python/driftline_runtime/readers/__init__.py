"""Reading an arrived file batch by batch, or saying exactly why it cannot be read.

The format comes from the object key: ``.csv``, ``.parquet`` (``.pq``), ``.jsonl`` or
``.ndjson``, each also gzip-compressed with ``.gz`` (a bare ``.gz`` is gzip CSV).

A file is read in batches of about ``ReaderLimits.batch_bytes`` of text (Parquet: as
many rows as inflate to about that much), so what a file costs in memory does not grow
with its size. :func:`open_table_file` checks what can be checked first (the format,
gzip inflated once to its end) and returns a :class:`TableFile` whose batches the
validator consumes; :func:`read_table` concatenates them for a file that fits in memory.

A file that cannot be read at all raises :class:`UnreadableFile` and nothing else, with
a short ``reason`` code for machines and a message for people that says what is wrong
and where (a line number, a byte offset in the whole file). A file that reads but holds
bad values is not the reader's business: the validator judges it row by row.

CSV is read fast first: the contract's columns get their Arrow types straight from the
CSV parser (no inference, no second pass), while columns the contract does not know
keep Arrow's inferred types (schema evolution). A chunk in which a contract column
fails to convert is read once more with the contract's columns as text, and the
validator parses that text value by value, so a bad value costs its row, not the file.
One leniency remains on the fast path: Arrow's integer parser reads ``0x10`` as 16
(pydantic would refuse it); on the text route it fails as it should.

Hostile files are refused before they cost more than a batch (:class:`ReaderLimits`):
gzip is inflated in bounded pieces and refused past ``max_decompressed_bytes``, or as a
bomb past ``max_inflation_ratio`` times its size, and a text line longer than
``max_line_bytes`` is refused before any parser sees it.

The package imports its parts when a name is first used, so that importing it (or a
light part such as ``limits``) does not load pyarrow into a function that may not read.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from driftline_runtime.readers.formats import (
        TableFile,
        detect_format,
        open_table_file,
        read_table,
    )
    from driftline_runtime.readers.limits import Data, FileFormat, ReaderLimits, UnreadableFile
    from driftline_runtime.readers.modes import AddedColumnsDisagree, ReadMode
    from driftline_runtime.readers.sources import BytesSource, FileSource, Source

_PARTS = {
    "TableFile": "formats",
    "detect_format": "formats",
    "open_table_file": "formats",
    "read_table": "formats",
    "Data": "limits",
    "FileFormat": "limits",
    "ReaderLimits": "limits",
    "UnreadableFile": "limits",
    "AddedColumnsDisagree": "modes",
    "ReadMode": "modes",
    "BytesSource": "sources",
    "FileSource": "sources",
    "Source": "sources",
}

__all__ = [
    "AddedColumnsDisagree",
    "BytesSource",
    "Data",
    "FileFormat",
    "FileSource",
    "ReadMode",
    "ReaderLimits",
    "Source",
    "TableFile",
    "UnreadableFile",
    "detect_format",
    "open_table_file",
    "read_table",
]


def __getattr__(name: str) -> Any:
    part = _PARTS.get(name)
    if part is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{part}"), name)
    globals()[name] = value
    return value
