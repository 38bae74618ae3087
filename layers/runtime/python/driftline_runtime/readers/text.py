"""A text file as a guarded stream: every piece a parser reads has passed the guards.

:class:`GuardedText` wraps the file's bytes (plain, or inflating gzip) and hands out
exactly what was asked for, after :class:`~driftline_runtime.readers.guards.TextGuard`
checked it; a UTF-8 byte order mark at the start is dropped. Arrow's CSV reader reads
it through ``pyarrow.PythonFile``; a refusal raised inside such a read is kept in
``failure``, because Arrow reports it as an error of its own.
"""

from __future__ import annotations

import codecs
import io
from typing import BinaryIO

from driftline_runtime.readers.guards import TextGuard
from driftline_runtime.readers.limits import CHUNK, UnreadableFile


class GuardedText(io.RawIOBase):
    def __init__(self, raw: BinaryIO, key: str, max_line_bytes: int) -> None:
        super().__init__()
        self._raw = raw
        self.guard = TextGuard(key, max_line_bytes)
        self.failure: UnreadableFile | None = None
        self._buffer = b""  # checked, not yet handed out
        self._ended = False
        self.delivered = 0  # bytes handed out so far

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()

    def peek(self, size: int) -> bytes:
        """At least ``size`` checked bytes from the current position (fewer at the end),
        without consuming them."""
        while len(self._buffer) < size and self._fill(size - len(self._buffer)):
            pass
        return self._buffer

    def read(self, size: int | None = -1) -> bytes:
        wanted = CHUNK if size is None or size < 0 else size
        try:
            while len(self._buffer) < wanted and self._fill(wanted - len(self._buffer)):
                pass
        except UnreadableFile as error:
            self.failure = error
            raise
        piece, self._buffer = self._buffer[:wanted], self._buffer[wanted:]
        self.delivered += len(piece)
        return piece

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        piece = self.read(len(buffer))
        buffer[: len(piece)] = piece
        return len(piece)

    def _fill(self, size: int) -> bool:
        """Read and check up to ``size`` more bytes; False at the end of the file."""
        if self._ended:
            return False
        piece = self._raw.read(max(size, 64 * 1024))
        if not piece:
            self._ended = True
            self.guard.finish()
            return False
        first = self.guard.offset == 0
        self.guard.check(piece)
        if first and piece.startswith(codecs.BOM_UTF8):
            # Arrow's CSV reader skips a BOM by itself; JSON and the diagnostics do not.
            piece = piece[len(codecs.BOM_UTF8) :]
        self._buffer = self._buffer + piece if self._buffer else piece
        return True
