"""Guards against hostile text, applied piece by piece before any parser sees a byte:
lines longer than the limit, bytes that say the file is not text (a NUL, the magic
number of another format), UTF-8 that does not decode; and column names that are
repeated or hold invisible characters.

A :class:`TextGuard` sees the file's pieces in order and keeps what spans them (where
the current line began, a character cut in two, how many lines came before), so each
refusal names the line and byte offset in the whole file, as a check of the whole file
at once did.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from driftline_runtime.readers.limits import UnreadableFile

# What a file that should be text really is, when it starts with these bytes.
_MAGIC = (
    (b"\x1f\x8b", "gzip data (name it .gz)"),
    (b"PAR1", "a Parquet file (name it .parquet)"),
    (b"PK\x03\x04", "a zip archive (an Excel workbook?)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
)
_NEWLINE = 0x0A
# ASCII whitespace, as ``bytes.strip`` removes it: anything else is text.
_NON_SPACE = re.compile(rb"[^ \t\n\r\x0b\x0c]")
_QUOTE = 0x22


class TextGuard:
    """Checks the pieces of one text file, in order; raises UnreadableFile on the first
    line that is too long, byte that is not text, or sequence that is not UTF-8."""

    def __init__(self, key: str, max_line_bytes: int) -> None:
        self.key, self.limit = key, max_line_bytes
        self.offset = 0  # bytes checked so far
        self.lines = 0  # line breaks seen so far
        self.line_start = 0  # where the current line began
        self.saw_text = False  # a byte other than whitespace has been seen
        # A quote after the first line: a value may hold a line break (CSV).
        self.quote_after_header = False
        self._header_end: int | None = None
        self._carry = b""  # the start of a UTF-8 character cut at the end of a piece

    def check(self, piece: bytes | memoryview) -> None:
        """Check the next piece of the file (bytes, or a view of them)."""
        if not piece:
            return
        data = np.frombuffer(piece, np.uint8)
        scan = _scan(data, quotes=not self.quote_after_header)
        counts = scan.newlines
        first = _first_newline(data, counts)
        self._line_lengths(data, counts, first)
        if self.offset == 0:
            head = bytes(piece[:8])
            for magic, what in _MAGIC:
                if head.startswith(magic):
                    raise UnreadableFile("not_text", f"{self.key} holds {what}, not text")
        if scan.least == 0:  # a NUL byte
            nul = int(np.argmax(data == 0))
            at = self.offset + nul
            raise UnreadableFile(
                "not_text",
                f"{self.key} holds binary data, not text: a NUL byte at line "
                f"{self._line_at(data, nul)} (byte offset {at})",
            )
        self._utf8(piece, data)
        if not self.saw_text and _NON_SPACE.search(piece):
            self.saw_text = True
        self._quotes(data, first, scan.quotes)
        self.lines += int(counts.sum())
        self.offset += len(piece)

    def finish(self) -> None:
        """The file ended: a character cut short at its very end is not UTF-8."""
        if self._carry:
            at = self.offset - len(self._carry)
            raise self._not_utf8(self._carry[0], at, self.lines + 1)
        if self.offset - self.line_start > self.limit:
            self._too_long(self.lines + 1, self.offset - self.line_start)

    # -- the checks ----------------------------------------------------------------------
    def _line_lengths(self, data: np.ndarray, counts: np.ndarray, first: int) -> None:
        size = len(data)
        if first < 0:
            if self.offset + size - self.line_start > self.limit:
                self._too_long(self.lines + 1, self.offset + size - self.line_start, at_least=True)
            return
        if not self._short_lines(counts, first):
            ends = np.flatnonzero(data == _NEWLINE)
            starts = np.concatenate(([self.line_start - self.offset], ends[:-1] + 1))
            lengths = ends - starts
            longest = int(np.argmax(lengths))
            if lengths[longest] > self.limit:
                self._too_long(self.lines + longest + 1, int(lengths[longest]))
        self.line_start = self.offset + _last_newline(data, counts) + 1

    def _short_lines(self, counts: np.ndarray, first: int) -> bool:
        """True when no line ending in the piece can be longer than the limit, proven
        without measuring every line: the line running into the piece ends in time, and
        every block from the first line break to the last holds one, so two line breaks
        are less than two blocks apart. False: measure them all."""
        if self.offset + first - self.line_start > self.limit or 2 * BLOCK > self.limit:
            return False
        found = np.flatnonzero(counts)
        return bool(counts[found[0] : found[-1] + 1].all())

    def _too_long(self, line: int, length: int, at_least: bool = False) -> None:
        size = f"at least {length}" if at_least else str(length)
        raise UnreadableFile(
            "line_too_long",
            f"{self.key} line {line} has {size} bytes; lines may have at most {self.limit} bytes",
        )

    def _utf8(self, piece: bytes | memoryview, array: np.ndarray) -> None:
        """One Arrow cast validates the piece with SIMD; Python decodes it again only to
        say where a bad byte is. A character cut at the piece's end waits for the next."""
        carried = len(self._carry)
        data: bytes | memoryview = self._carry + bytes(piece) if carried else piece
        cut = _complete_prefix(data)
        whole = data[:cut]
        self._carry = bytes(data[cut:])
        if not whole:
            return
        buffer = pa.py_buffer(whole)
        offsets = pa.py_buffer(np.array([0, len(whole)], dtype=np.int64))
        text = pa.LargeBinaryArray.from_buffers(pa.large_binary(), 1, [None, offsets, buffer])
        try:
            text.cast(pa.large_string())
        except pa.ArrowInvalid:
            try:
                bytes(whole).decode("utf-8")
            except UnicodeDecodeError as error:
                within = error.start - carried  # offset in this piece
                line = self._line_at(array, max(within, 0))
                raise self._not_utf8(whole[error.start], self.offset + within, line) from None
            raise

    def _not_utf8(self, byte: int, at: int, line: int) -> UnreadableFile:
        return UnreadableFile(
            "not_utf8",
            f"{self.key} is not UTF-8 text: byte 0x{byte:02x} at line {line} "
            f"(byte offset {at}) is not valid UTF-8",
        )

    def _quotes(self, data: np.ndarray, first: int, blocks: np.ndarray) -> None:
        """``blocks``: whether each block of the piece holds a quote."""
        if self.quote_after_header:
            return
        if self._header_end is None:
            if first < 0:
                self.quote_after_header = bool(blocks.any())
                return
            self._header_end = self.offset + first
            # The header's block counts only after the header's line break.
            header_block = first // BLOCK
            self.quote_after_header = bool(blocks[header_block + 1 :].any()) or contains(
                data[first + 1 : (header_block + 1) * BLOCK], _QUOTE
            )
            return
        self.quote_after_header = bool(blocks.any())

    def _line_at(self, data: np.ndarray, within: int) -> int:
        """The 1-based line of the byte at ``within`` in the current piece."""
        return self.lines + int(np.count_nonzero(data[:within] == _NEWLINE)) + 1


# Pieces are scanned a block at a time, so that each comparison's temporary stays in the
# CPU's cache instead of costing a fresh array the size of the piece.
BLOCK = 256 * 1024


@dataclass(frozen=True)
class _Scan:
    newlines: np.ndarray  # line breaks per block
    quotes: np.ndarray  # whether each block holds a quote (all False when not looked for)
    least: int  # the smallest byte: 0 is a NUL


def _scan(data: np.ndarray, *, quotes: bool) -> _Scan:
    """One pass over the piece, a block at a time: what each block holds, read from the
    cache for every question after the first."""
    count = len(_blocks(data))
    newlines = np.zeros(count, dtype=np.int64)
    quoted = np.zeros(count, dtype=bool)
    least = 255
    for index, start in enumerate(_blocks(data)):
        block = data[start : start + BLOCK]
        newlines[index] = np.count_nonzero(block == _NEWLINE)
        least = min(least, int(block.min()))
        if quotes:
            quoted[index] = bool((block == _QUOTE).any())
    return _Scan(newlines, quoted, least)


def contains(data: np.ndarray, byte: int) -> bool:
    """Whether ``data`` holds ``byte``, a block at a time, stopping at the first found."""
    return any(bool((data[start : start + BLOCK] == byte).any()) for start in _blocks(data))


def _blocks(data: np.ndarray) -> range:
    return range(0, len(data), BLOCK)


def _first_newline(data: np.ndarray, counts: np.ndarray) -> int:
    found = np.flatnonzero(counts)
    if not len(found):
        return -1
    start = int(found[0]) * BLOCK
    return start + int(np.argmax(data[start : start + BLOCK] == _NEWLINE))


def _last_newline(data: np.ndarray, counts: np.ndarray) -> int:
    found = np.flatnonzero(counts)
    start = int(found[-1]) * BLOCK
    return start + int(np.flatnonzero(data[start : start + BLOCK] == _NEWLINE)[-1])


def _complete_prefix(data: bytes | memoryview) -> int:
    """The length of ``data`` without a UTF-8 character cut off at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:
            return len(data)  # ASCII: nothing cut
        if byte >= 0xC0:  # the lead byte of the last character
            needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) if back >= needed else len(data) - back
    return len(data)


def require_printable_names(names: list[str], key: str) -> None:
    """Column names with control or invisible characters (a tab, a zero-width space) would
    look right in a report and still never match the contract."""
    for name in names:
        hidden = [char for char in name if unicodedata.category(char) in ("Cc", "Cf")]
        if hidden:
            codes = ", ".join(f"U+{ord(char):04X}" for char in dict.fromkeys(hidden))
            raise UnreadableFile(
                "bad_column_name",
                f"{key} names a column {name!r} holding control or invisible characters ({codes})",
            )


def require_unique_names(names: list[str], key: str) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UnreadableFile(
            "duplicate_columns", f"{key} names these columns more than once: {repeated}"
        )
