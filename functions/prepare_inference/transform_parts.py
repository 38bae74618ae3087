"""Transform input parts sized by bytes: CSV objects of at most a byte budget, each with
the header line, rows never cut.

A part's size bounds what one transform job reads and how long it runs, whatever the
width of the rows, so parts are cut by bytes rather than rows. Each part starts with the
header (``<id column>,<features...>``) so that it describes itself; the serving code
skips a first line equal to it, and with ``SplitType=Line`` batch transform splits a part
into requests of at most ``MaxPayloadInMB`` on line ends, so a part may be far larger
than one request. Only a single row larger than a request cannot be sent: that is an
error before any job starts.

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
    """A row (with the header) does not fit in one transform request."""


def header_line(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(
        table.slice(0, 0), sink, pacsv.WriteOptions(include_header=True, quoting_style="needed")
    )
    return sink.getvalue()


def row_ends(encoded: bytes) -> np.ndarray:
    """The offsets just past each row's line end in ``encoded`` (CSV rows, no header)."""
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
    """Cut ``table`` into CSV parts of at most ``budget_bytes`` (header included; a row
    alone larger than that gets a part of its own) and hand each to ``put(index, body)``;
    returns the number of parts. Raises :class:`PartSizeError` for a row that, with the
    header, exceeds ``request_bytes`` (MaxPayloadInMB)."""
    header = header_line(table)
    parts = 0
    pending: list[bytes] = []
    size = len(header)
    rows_before = 0  # rows in the steps before this one
    for encoded, ends in encoded_rows(table):
        lengths = np.diff(ends, prepend=0)
        too_long = np.flatnonzero(lengths + len(header) > request_bytes)
        if too_long.size:
            index = int(too_long[0])
            raise PartSizeError(
                f"row {rows_before + index + 1} takes {int(lengths[index])} bytes as CSV: "
                f"with the header it exceeds the {request_bytes}-byte request a transform "
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
                put(parts, b"".join([header, *pending]))
                parts, pending, size = parts + 1, [], len(header)
                continue
            stop = max(stop, first_end)
            pending.append(encoded[start:stop])
            size += stop - start
            start = stop
        rows_before += len(ends)
    if pending:
        put(parts, b"".join([header, *pending]))
        parts += 1
    return parts
