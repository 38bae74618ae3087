"""gzip inflated as a stream: every member of the file in turn, never more than a piece at
a time, with the limits that refuse a gzip bomb checked as the bytes come out.

``inflated_size`` runs the stream once to its end before any parser sees the file, so a
bomb, a corrupt or a truncated file is refused for that (as it always was) rather than
for what its first bytes look like, and the caller learns how much text it is about to
read. The second run (``Inflating``) feeds the parser.
"""

from __future__ import annotations

import io
import zlib
from typing import BinaryIO

from driftline_runtime.readers.limits import CHUNK, INFLATION_GRACE, ReaderLimits, UnreadableFile

GZIP_MAGIC = b"\x1f\x8b"


class Inflating(io.RawIOBase):
    """A readable stream of what ``raw`` (gzip data, one or more members) inflates to.

    Concatenated members are one file (what ``cat a.gz b.gz`` makes); zero bytes between
    or after members are padding. Raises UnreadableFile: ``corrupt_gzip``,
    ``truncated_gzip`` or ``decompression_limit``.
    """

    def __init__(self, raw: BinaryIO, key: str, limits: ReaderLimits) -> None:
        super().__init__()
        self._raw, self._key, self._limits = raw, key, limits
        self._inflater: zlib._Decompress | None = None
        self._pending = b""  # compressed bytes read but not yet inflated
        self._consumed = 0  # compressed bytes read so far
        self.inflated = 0
        self._started = False

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._raw.close()
        super().close()

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        piece = self.read(len(buffer))
        buffer[: len(piece)] = piece
        return len(piece)

    def read(self, size: int | None = -1) -> bytes:
        wanted = CHUNK if size is None or size < 0 else max(1, size)
        while True:
            if self._inflater is None and not self._next_member():
                return b""
            if not self._pending and not self._refill():
                raise UnreadableFile(
                    "truncated_gzip",
                    f"{self._key} ends before its gzip stream does (a partial upload?)",
                )
            inflater = self._inflater
            assert inflater is not None
            try:
                piece = inflater.decompress(self._pending, wanted)
            except zlib.error as error:
                raise self._corrupt(error) from None
            if inflater.eof:
                self._pending = inflater.unused_data
                self._inflater = None
            else:
                self._pending = inflater.unconsumed_tail
            if piece:
                self._count(len(piece))
                return piece

    def _next_member(self) -> bool:
        """Start the next member, skipping zero padding; False at the end of the file."""
        while True:
            self._pending = self._pending.lstrip(b"\x00")
            if len(self._pending) >= len(GZIP_MAGIC) or not self._refill():
                break
        if not self._pending:
            if not self._started:
                raise UnreadableFile("corrupt_gzip", f"{self._key} is not gzip data (no data)")
            return False
        if not self._started and not self._pending.startswith(GZIP_MAGIC):
            raise UnreadableFile("corrupt_gzip", f"{self._key} is not gzip data (no gzip header)")
        self._started = True
        self._inflater = zlib.decompressobj(wbits=31)
        return True

    def _refill(self) -> bool:
        more = self._raw.read(CHUNK)
        if not more:
            return False
        self._consumed += len(more)
        self._pending += more
        return True

    def _count(self, size: int) -> None:
        self.inflated += size
        limits = self._limits
        if self.inflated > limits.max_decompressed_bytes:
            raise UnreadableFile(
                "decompression_limit",
                f"{self._key} inflates to more than {limits.max_decompressed_bytes} bytes "
                f"(the limit; {self._consumed} bytes compressed read so far): a gzip bomb "
                "or a file to split",
            )
        compressed = max(1, self._consumed - len(self._pending))
        if (
            self.inflated > INFLATION_GRACE
            and self.inflated > limits.max_inflation_ratio * compressed
        ):
            raise UnreadableFile(
                "decompression_limit",
                f"{self._key} inflates more than {limits.max_inflation_ratio} times its size "
                f"({self.inflated} bytes from {compressed} compressed): a gzip bomb",
            )

    def _corrupt(self, error: zlib.error) -> UnreadableFile:
        return UnreadableFile("corrupt_gzip", f"{self._key} is not valid gzip data: {error}")


def inflated_size(raw: BinaryIO, key: str, limits: ReaderLimits) -> int:
    """Inflate ``raw`` to its end, keeping nothing: the size of its text, or UnreadableFile."""
    stream = Inflating(raw, key, limits)
    try:
        while stream.read(CHUNK):
            pass
    finally:
        stream.close()
    if stream.inflated == 0:
        raise UnreadableFile("empty_file", f"{key} decompresses to 0 bytes")
    return stream.inflated
