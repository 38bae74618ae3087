"""Reading an arrived file into an Arrow table, or saying exactly why it cannot be read.

The format comes from the object key: ``.csv``, ``.parquet`` (``.pq``), ``.jsonl`` or
``.ndjson``, each also gzip-compressed with ``.gz`` (a bare ``.gz`` is gzip CSV).

A file that cannot be read at all raises :class:`UnreadableFile` and nothing else, with
a short ``reason`` code for machines and a message for people that says what is wrong
and where (a line number, a byte offset). A file that reads but holds bad values is not
the reader's business: it returns a table and the validator judges it row by row.

CSV is read fast first: the contract's columns get their Arrow types straight from the
CSV parser (no inference, no second pass), while columns the contract does not know
keep Arrow's inferred types (schema evolution). If any contract column fails to
convert, the file is read once more with the contract's columns as text, and the
validator parses that text value by value, so a bad value costs its row, not the file.
One leniency remains on the fast path: Arrow's integer parser reads ``0x10`` as 16
(pydantic would refuse it); on the text route it fails as it should.

Hostile files are refused before they cost memory (:class:`ReaderLimits`): gzip is
inflated in bounded chunks and stops at ``max_decompressed_bytes`` (a gzip bomb costs
that much and no more), and a text line longer than ``max_line_bytes`` is refused by
a chunked scan before any parser sees it.
"""

from driftline_runtime.readers.formats import detect_format, read_table
from driftline_runtime.readers.limits import Data, FileFormat, ReaderLimits, UnreadableFile

__all__ = ["Data", "FileFormat", "ReaderLimits", "UnreadableFile", "detect_format", "read_table"]
