"""Transform input parts sized by bytes: headerless CSV objects of at most a byte budget,
rows never cut.

A part's size bounds what one transform job reads and how long it runs, whatever the
width of the rows, so parts are cut by bytes rather than rows. Parts carry no header:
with ``SplitType=Line`` batch transform splits a part into requests of at most
``MaxPayloadInMB`` on line ends, and only the first request would carry a header, so
serving code (ours or a dataset's own) gets the same ``<id column>,<features...>`` rows
in every request. A part may be far larger than one request; only a single row larger
than a request cannot be sent: that is an error before any job starts.

Rows are found in the encoded CSV, not estimated: a line end is a row's end when an even
number of quotes precede it (pyarrow doubles quotes inside quoted fields, so a line end
inside a quoted value follows an odd number).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

# Rows encoded per step: enough to amortise the writer's call, small beside a part.
ENCODE_ROWS = 16_384
OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="needed")


class PartSizeError(ValueError):
    """A row does not fit in one transform request."""


def row_ends(encoded: bytes) -> np.ndarray:
    """The offsets just past each row's line end in ``encoded`` (CSV rows)."""
    data = np.frombuffer(encoded, dtype=np.uint8)
    quotes = np.cumsum(data == ord('"'))
    newlines = np.flatnonzero(data == ord("\n"))
    ends: np.ndarray = newlines[quotes[newlines] % 2 == 0] + 1
    return ends


def encoded_rows(table: pa.Table) -> Iterator[tuple[bytes, np.ndarray]]:
    """The table as CSV, a step at a time: each step's bytes and its rows' end offsets."""
    for offset in range(0, table.num_rows, ENCODE_ROWS):
        sink = io.BytesIO()
        pacsv.write_csv(table.slice(offset, ENCODE_ROWS), sink, OPTIONS)
        encoded = sink.getvalue()
        yield encoded, row_ends(encoded)


def write_parts(
    table: pa.Table, budget_bytes: int, request_bytes: int, put: Callable[[int, bytes], None]
) -> int:
    """Cut ``table`` into CSV parts of at most ``budget_bytes`` (a row alone larger than
    that gets a part of its own) and hand each to ``put(index, body)``; returns the number
    of parts. Raises :class:`PartSizeError` for a row that exceeds ``request_bytes``
    (MaxPayloadInMB)."""
    parts = 0
    pending: list[bytes] = []
    size = 0
    rows_before = 0  # rows in the steps before this one
    for encoded, ends in encoded_rows(table):
        lengths = np.diff(ends, prepend=0)
        too_long = np.flatnonzero(lengths > request_bytes)
        if too_long.size:
            index = int(too_long[0])
            raise PartSizeError(
                f"row {rows_before + index + 1} takes {int(lengths[index])} bytes as CSV: "
                f"more than the {request_bytes}-byte request a transform "
                "job may send (MaxPayloadInMB)"
            )
        start = 0
        while start < len(encoded):
            # The rows of this step that still fit the budget, at least one.
            room = budget_bytes - size
            first_end = int(ends[np.searchsorted(ends, start, side="right")])
            fits = int(np.searchsorted(ends, start + room, side="right"))
            stop = int(ends[fits - 1]) if fits and int(ends[fits - 1]) > start else start
            if stop == start and pending:
                put(parts, b"".join(pending))
                parts, pending, size = parts + 1, [], 0
                continue
            stop = max(stop, first_end)
            pending.append(encoded[start:stop])
            size += stop - start
            start = stop
        rows_before += len(ends)
    if pending:
        put(parts, b"".join(pending))
        parts += 1
    return parts
