"""Where a file's bytes come from: a file on disk (the pipeline spools each object to its
working folder first) or bytes in memory (tests, ``driftline drop --check`` on a small
file). Either can be opened again from the start, which a read that must change its
mind (a CSV value that does not convert) needs."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, cast

import pyarrow as pa

from driftline_runtime.readers.compression import Inflating
from driftline_runtime.readers.limits import CHUNK, Data, ReaderLimits


class Source(Protocol):
    @property
    def size(self) -> int: ...

    def open(self) -> BinaryIO:
        """The raw bytes, from the start."""
        ...

    def random_access(self) -> pa.NativeFile:
        """The raw bytes for a reader that seeks (Parquet)."""
        ...

    def inflated(self, key: str, limits: ReaderLimits) -> Source:
        """The gzip data of this source, inflated to a source of its own."""
        ...


class MemoryReader(io.RawIOBase):
    """Bytes in memory as a stream whose readers may take views of them instead of copies
    (``read_view``, ``view``): a batch of text is as large as a copy is costly."""

    def __init__(self, data: Data) -> None:
        super().__init__()
        self._data = memoryview(data)
        self.position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        piece = self.read_view(len(buffer))
        buffer[: len(piece)] = piece
        return len(piece)

    def read_view(self, size: int) -> memoryview:
        """The next ``size`` bytes (fewer at the end), consumed, as a view."""
        piece = self._data[self.position : self.position + size]
        self.position += len(piece)
        return piece

    def view(self, start: int, end: int) -> memoryview:
        return self._data[start:end]


@dataclass(frozen=True)
class BytesSource:
    data: Data

    @property
    def size(self) -> int:
        return len(self.data)

    def open(self) -> BinaryIO:
        return cast(BinaryIO, MemoryReader(self.data))

    def random_access(self) -> pa.NativeFile:
        return pa.BufferReader(pa.py_buffer(self.data))

    def inflated(self, key: str, limits: ReaderLimits) -> Source:
        stream = Inflating(self.open(), key, limits)
        out = bytearray()
        while piece := stream.read(CHUNK):
            out += piece
        return BytesSource(out)


@dataclass(frozen=True)
class FileSource:
    path: Path

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def open(self) -> BinaryIO:
        return self.path.open("rb")

    def random_access(self) -> pa.NativeFile:
        # Not memory-mapped: mapped pages would count as the function's memory.
        return pa.OSFile(str(self.path))

    def inflated(self, key: str, limits: ReaderLimits) -> Source:
        """Inflated next to the file (a Parquet reader needs to seek)."""
        handle, name = tempfile.mkstemp(dir=self.path.parent, suffix=".inflated")
        with Inflating(self.open(), key, limits) as stream, os.fdopen(handle, "wb") as out:
            shutil.copyfileobj(stream, out, CHUNK)
        return FileSource(Path(name))
