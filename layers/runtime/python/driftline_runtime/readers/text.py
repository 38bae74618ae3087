"""A text file as a guarded stream: every piece a parser reads has passed the guards.

:class:`GuardedText` wraps the file's bytes (plain, or inflating gzip) and hands out
exactly what was asked for, after :class:`~driftline_runtime.readers.guards.TextGuard`
checked it; a UTF-8 byte order mark at the start is dropped. Arrow's CSV reader reads
it through ``pyarrow.PythonFile``; a refusal raised inside such a read is kept in
``failure``, because Arrow reports it as an error of its own.

Copying a batch of text costs about a fifth of parsing it, so the chunk readers look at
the text through :meth:`GuardedText.peek` and take it with :meth:`GuardedText.take`,
both views, not copies: the bytes of a file held in memory are never copied, and those
of a stream are copied once, from the stream into the window the views look at.
"""

from __future__ import annotations

import codecs
import io
from typing import BinaryIO

import numpy as np

from driftline_runtime.readers.guards import TextGuard
from driftline_runtime.readers.limits import CHUNK, UnreadableFile
from driftline_runtime.readers.sources import MemoryReader

# The least a refill reads, so that small requests do not mean many small reads.
_LEAST_READ = 64 * 1024


class GuardedText(io.RawIOBase):
    def __init__(self, raw: BinaryIO, key: str, max_line_bytes: int) -> None:
        super().__init__()
        self._raw = raw
        self.guard = TextGuard(key, max_line_bytes)
        self.failure: UnreadableFile | None = None
        # Checked bytes; from ``_start`` on, not handed out yet.
        self._window = memoryview(b"")
        self._start = 0
        self._ended = False
        self.delivered = 0  # bytes handed out so far

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()

    def peek(self, size: int) -> memoryview:
        """At least ``size`` checked bytes from the current position (fewer at the end),
        without consuming them: a view, valid until the bytes are taken."""
        try:
            while len(self._window) - self._start < size and self._fill(
                size - (len(self._window) - self._start)
            ):
                pass
        except UnreadableFile as error:
            self.failure = error
            raise
        return self._window[self._start :]

    def take(self, size: int) -> memoryview:
        """The next ``size`` bytes (fewer at the end) as a view, consumed."""
        self.peek(size)
        piece = self._window[self._start : self._start + size]
        self._start += len(piece)
        self.delivered += len(piece)
        return piece

    def next_line(self) -> int:
        """The 1-based line of the file the bytes not handed out yet start on."""
        ahead = np.frombuffer(self._window, np.uint8)[self._start :]
        return self.guard.lines - int(np.count_nonzero(ahead == 0x0A)) + 1

    def read(self, size: int | None = -1) -> bytes:
        wanted = CHUNK if size is None or size < 0 else size
        return bytes(self.take(wanted))

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        piece = self.take(len(buffer))
        buffer[: len(piece)] = piece
        return len(piece)

    def _fill(self, size: int) -> bool:
        """Read and check up to ``size`` more bytes; False at the end of the file."""
        if self._ended:
            return False
        wanted = max(size, _LEAST_READ)
        first = self.guard.offset == 0
        kept = self._window[self._start :]
        if isinstance(self._raw, MemoryReader):
            # The bytes are in memory already: the window grows over them, no copy.
            begin = self._raw.position - len(kept)
            piece = self._raw.read_view(wanted)
            window = self._raw.view(begin, self._raw.position)
        else:
            window, piece = _read_after(self._raw, kept, wanted)
        if not piece:
            self._ended = True
            self.guard.finish()
            return False
        self.guard.check(piece)
        if first and bytes(piece[: len(codecs.BOM_UTF8)]) == codecs.BOM_UTF8:
            # Arrow's CSV reader skips a BOM by itself; JSON and the diagnostics do not.
            window = window[len(codecs.BOM_UTF8) :]
        self._window, self._start = window, 0
        return True


def _read_after(raw: BinaryIO, kept: memoryview, wanted: int) -> tuple[memoryview, memoryview]:
    """A new window: ``kept`` and then up to ``wanted`` bytes of ``raw``, read into place
    (one copy of the new bytes); and the view of the new bytes alone."""
    # numpy's empty array, not a bytearray: a bytearray would be zeroed first, a pass
    # over the whole batch for nothing.
    window = memoryview(np.empty(len(kept) + wanted, dtype=np.uint8))
    window[: len(kept)] = kept
    end = len(kept)
    while end < len(window):
        count = raw.readinto(window[end:])  # type: ignore[attr-defined]
        if not count:
            break
        end += count
    return window[:end], window[len(kept) : end]
