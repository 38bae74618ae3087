"""A text file cut into chunks of whole records, each read and parsed on its own.

Arrow's streaming CSV reader reads ahead as fast as it can, without waiting for the
batches to be used: a file larger than memory would end up in memory. So the readers
take the text a batch at a time themselves and cut it after the last complete record.

In CSV a quoted value may hold a line break. Quotes come in pairs (an escaped quote is
doubled), so a line break ends a record exactly when an even number of quotes came
before it since the chunk began (chunks begin on a record). A stray quote in the middle
of a value (``12" screen``) upsets the count; when no line break ends a record within
two batches, the chunk is cut at its last line break and parsed as lines, as Arrow does
with such a quote anyway.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from driftline_runtime.readers.text import GuardedText

_QUOTE = 0x22
_NEWLINE = 0x0A


@dataclass(frozen=True)
class TextChunk:
    data: bytes
    # The 1-based line of the file the chunk starts on.
    first_line: int
    # Whether a value in the chunk may hold a line break (a quote follows a line break).
    quoted: bool


def text_chunks(text: GuardedText, size: int, *, quotes: bool) -> Iterator[TextChunk]:
    """Chunks of about ``size`` bytes of ``text``, each ending after a whole record.

    ``quotes``: a quoted value may span lines (CSV); otherwise every line break ends a
    record (JSON Lines).
    """
    carry = b""
    line = 1
    first = True
    while True:
        piece = text.read(size)
        data = carry + piece if carry else piece
        if not piece:
            if data:
                yield TextChunk(data, line, quotes and _has_quote(data, first))
            return
        cut, quoted = _cut(data, quotes, first, len(data) > 2 * size)
        if cut is None:
            carry = data
            continue
        chunk, carry = data[:cut], data[cut:]
        yield TextChunk(chunk, line, quoted)
        line += chunk.count(b"\n")
        first = False


def _has_quote(data: bytes, first: bool) -> bool:
    """A quote after the header line (a quoted header alone changes nothing)."""
    start = data.find(b"\n") + 1 if first else 0
    return data.find(b'"', start) >= 0


def _cut(data: bytes, quotes: bool, first: bool, overdue: bool) -> tuple[int | None, bool]:
    """(where the chunk ends, whether it is parsed allowing line breaks in values)."""
    last = data.rfind(b"\n") + 1 or None
    if not quotes or not _has_quote(data, first):
        return last, False
    array = np.frombuffer(data, np.uint8)
    newlines = np.flatnonzero(array == _NEWLINE)
    before = np.searchsorted(np.flatnonzero(array == _QUOTE), newlines)
    closing = newlines[before % 2 == 0]
    if len(closing):
        return int(closing[-1]) + 1, True
    if overdue:
        return last, False  # a stray quote: read as lines, as Arrow reads it
    return None, True
