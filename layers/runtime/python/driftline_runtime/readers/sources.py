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
from typing import BinaryIO, Protocol

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


@dataclass(frozen=True)
class BytesSource:
    data: Data

    @property
    def size(self) -> int:
        return len(self.data)

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data)

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
