"""Text files as UTF-8 without a BOM, or the exact reason they are not text."""

from __future__ import annotations

import codecs

import numpy as np
import pyarrow as pa

from driftline_runtime.readers.limits import Data, UnreadableFile

# What a file that should be text really is, when it starts with these bytes.
_MAGIC = (
    (b"\x1f\x8b", "gzip data (name it .gz)"),
    (b"PAR1", "a Parquet file (name it .parquet)"),
    (b"PK\x03\x04", "a zip archive (an Excel workbook?)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
)


def utf8_text(data: Data, key: str) -> pa.Buffer:
    """``data`` as a buffer of UTF-8 text without a BOM, or UnreadableFile saying why not."""
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise UnreadableFile("not_text", f"{key} holds {what}, not text")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise UnreadableFile(
            "not_text",
            f"{key} holds binary data, not text: a NUL byte at line {line_of(data, nul)} "
            f"(byte offset {nul})",
        )
    _require_utf8(data, key)
    buffer = pa.py_buffer(data)
    # Arrow's CSV reader skips a BOM by itself; JSON and the diagnostics do not.
    return buffer.slice(len(codecs.BOM_UTF8)) if data.startswith(codecs.BOM_UTF8) else buffer


def _require_utf8(data: Data, key: str) -> None:
    # One Arrow cast validates the whole buffer with SIMD (about 10 ms for 160 MB);
    # Python decodes it again only to say where a bad byte is.
    buffer = pa.py_buffer(data)
    offsets = pa.py_buffer(np.array([0, buffer.size], dtype=np.int64))
    whole = pa.LargeBinaryArray.from_buffers(pa.large_binary(), 1, [None, offsets, buffer])
    try:
        whole.cast(pa.large_string())
    except pa.ArrowInvalid:
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise UnreadableFile(
                "not_utf8",
                f"{key} is not UTF-8 text: byte 0x{data[error.start]:02x} at line "
                f"{line_of(data, error.start)} (byte offset {error.start}) is not valid UTF-8",
            ) from None
        raise


def line_of(data: Data, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1
