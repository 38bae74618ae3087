"""Guards against hostile files, before any parser sees them: gzip inflated in bounded
chunks (a gzip bomb costs the limit and no more), lines longer than the limit refused by
a chunked scan, and column names that are repeated or hold invisible characters."""

from __future__ import annotations

import unicodedata
import zlib

import numpy as np

from driftline_runtime.readers.limits import CHUNK, Data, UnreadableFile


def gunzip(data: Data, key: str, limit: int) -> bytearray:
    """Inflate every gzip member of ``data``, never holding more than ``limit`` bytes out."""
    if not data.startswith(b"\x1f\x8b"):
        raise UnreadableFile("corrupt_gzip", f"{key} is not gzip data (no gzip header)")
    plain = bytearray()
    view = memoryview(data)
    while view:
        inflater = zlib.decompressobj(wbits=31)
        try:
            while not inflater.eof:
                # At most one byte past the limit is asked for: enough to know it is past.
                wanted = min(CHUNK, limit + 1 - len(plain))
                piece = inflater.decompress(view, wanted)
                plain += piece
                if len(plain) > limit:
                    raise UnreadableFile(
                        "decompression_limit",
                        f"{key} inflates to more than {limit} bytes (the limit; "
                        f"{len(data)} bytes compressed): a gzip bomb or a file to split",
                    )
                view = memoryview(inflater.unconsumed_tail)
                if not view and len(piece) < wanted:
                    break  # all input used and nothing pending: truncated if not at eof
        except zlib.error as error:
            raise UnreadableFile("corrupt_gzip", f"{key} is not valid gzip data: {error}") from None
        if not inflater.eof:
            raise UnreadableFile(
                "truncated_gzip", f"{key} ends before its gzip stream does (a partial upload?)"
            )
        # Concatenated members are one file (what `cat a.gz b.gz` makes); padding is not.
        view = memoryview(inflater.unused_data.lstrip(b"\x00"))
    if not plain:
        raise UnreadableFile("empty_file", f"{key} decompresses to 0 bytes")
    return plain


def require_short_lines(data: Data, key: str, limit: int) -> None:
    """Refuse a line longer than ``limit`` bytes; scanned in chunks, so memory stays flat."""
    line_start = 0  # byte offset where the current line began
    lines = 0
    for offset in range(0, len(data), CHUNK):
        chunk = np.frombuffer(data, np.uint8, min(CHUNK, len(data) - offset), offset)
        ends = np.flatnonzero(chunk == 0x0A) + offset
        starts = np.concatenate(([line_start], ends[:-1] + 1)) if len(ends) else None
        if starts is not None:
            lengths = ends - starts
            longest = int(np.argmax(lengths))
            if lengths[longest] > limit:
                _line_too_long(key, lines + longest + 1, int(lengths[longest]), limit)
            lines += len(ends)
            line_start = int(ends[-1]) + 1
        elif offset + len(chunk) - line_start > limit:
            _line_too_long(key, lines + 1, len(data) - line_start, limit, at_least=True)
    if len(data) - line_start > limit:
        _line_too_long(key, lines + 1, len(data) - line_start, limit)


def _line_too_long(key: str, line: int, length: int, limit: int, at_least: bool = False) -> None:
    size = f"at least {length}" if at_least else str(length)
    raise UnreadableFile(
        "line_too_long",
        f"{key} line {line} has {size} bytes; lines may have at most {limit} bytes",
    )


def only_whitespace(data: Data) -> bool:
    return not any(
        bytes(data[offset : offset + CHUNK]).strip() for offset in range(0, len(data), CHUNK)
    )


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
