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

import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from driftline_runtime.readers.guards import contains
from driftline_runtime.readers.text import GuardedText

_QUOTE = 0x22
_NEWLINE = 0x0A
_NEWLINE_BYTE = re.compile(b"\n")
_NON_SPACE = re.compile(rb"[^ \t\n\r\x0b\x0c]")
# How much of a chunk's end is searched at a time for its last line break.
_TAIL = 64 * 1024


@dataclass(frozen=True)
class TextChunk:
    # A view of the text, not a copy (see ``driftline_runtime.readers.text``).
    data: memoryview
    # The 1-based line of the file the chunk starts on.
    first_line: int
    # Whether a value in the chunk may hold a line break (a quote follows a line break).
    quoted: bool

    @property
    def blank(self) -> bool:
        """Nothing but ASCII whitespace (what ``bytes.strip`` removes)."""
        return _NON_SPACE.search(self.data) is None


def text_chunks(text: GuardedText, size: int, *, quotes: bool) -> Iterator[TextChunk]:
    """Chunks of about ``size`` bytes of ``text``, each ending after a whole record.

    ``quotes``: a quoted value may span lines (CSV); otherwise every line break ends a
    record (JSON Lines).
    """
    carried = 0  # bytes at the front of the text that hold no end of a record yet
    line = 1
    first = True
    while True:
        data = text.peek(carried + size)[: carried + size]
        # The guards saw every byte peeked: without a quote after the header there, the
        # chunk holds none either and need not be searched again.
        maybe_quoted = quotes and text.guard.quote_after_header
        if len(data) == carried:  # nothing more to read
            if data:
                quoted = maybe_quoted and _has_quote(data, first)
                yield TextChunk(text.take(len(data)), line, quoted)
            return
        cut, quoted = _cut(data, maybe_quoted, first, len(data) > 2 * size)
        if cut is None:
            carried = len(data)
            continue
        yield TextChunk(text.take(cut), line, quoted)
        carried = len(data) - cut
        line = text.next_line()
        first = False


def _has_quote(data: memoryview, first: bool) -> bool:
    """A quote after the header line (a quoted header alone changes nothing)."""
    array = np.frombuffer(data, np.uint8)
    start = _first_newline(array) + 1 if first else 0
    return contains(array[start:], _QUOTE)


def _first_newline(array: np.ndarray) -> int:
    found = _NEWLINE_BYTE.search(array.data)
    return -1 if found is None else found.start()


def _last_newline(array: np.ndarray) -> int:
    """The index of the last line break, or -1, looking at the end first."""
    end = len(array)
    while end > 0:
        start = max(0, end - _TAIL)
        hits = np.flatnonzero(array[start:end] == _NEWLINE)
        if len(hits):
            return start + int(hits[-1])
        end = start
    return -1


def _cut(data: memoryview, quotes: bool, first: bool, overdue: bool) -> tuple[int | None, bool]:
    """(where the chunk ends, whether it is parsed allowing line breaks in values)."""
    array = np.frombuffer(data, np.uint8)
    last = _last_newline(array) + 1 or None
    if not quotes or not _has_quote(data, first):
        return last, False
    newlines = np.flatnonzero(array == _NEWLINE)
    before = np.searchsorted(np.flatnonzero(array == _QUOTE), newlines)
    closing = newlines[before % 2 == 0]
    if len(closing):
        return int(closing[-1]) + 1, True
    if overdue:
        return last, False  # a stray quote: read as lines, as Arrow reads it
    return None, True
