"""Text read through views of its bytes: the same rows and the same refusals, with the same
line numbers, whether the file is in memory, on disk or gzip, and however it is cut."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pytest
from driftline_runtime.readers import (
    BytesSource,
    FileSource,
    ReaderLimits,
    Source,
    UnreadableFile,
    open_table_file,
)
from driftline_runtime.readers.formats import _concatenated

from tests.unit.test_readers import HEADER, payments

MIB = 1024 * 1024
# Batches of 64 KiB: a file of a few hundred KiB is read in many chunks and pieces.
SMALL = ReaderLimits(max_line_bytes=8 * 1024, batch_bytes=64 * 1024)


def rows(count: int, start: int = 0) -> list[str]:
    return [
        f"p-{n % 1000:03d},2026-01-01T10:00:00Z,{n % 97 + 1}.5,{n % 7 + 1},EUR,true,"
        + ('"a note, with a\nline break"' if n % 50 == 0 else f"note {n}")
        for n in range(start, start + count)
    ]


def text(lines: list[str]) -> bytes:
    return ("\n".join([HEADER, *lines]) + "\n").encode()


def sources(data: bytes, folder: Path, name: str) -> dict[str, tuple[Source, str]]:
    """The same text in memory, in a file, and gzip-compressed in a file."""
    plain, packed = folder / name, folder / f"{name}.gz"
    plain.write_bytes(data)
    packed.write_bytes(gzip.compress(data))
    return {
        "memory": (BytesSource(data), name),
        "file": (FileSource(plain), name),
        "gzip": (FileSource(packed), f"{name}.gz"),
    }


def read(source: Source, key: str, limits: ReaderLimits) -> pa.Table:
    table_file = open_table_file(source, key, payments(), limits)
    return table_file.scan(lambda batches: _concatenated(list(batches)))


def refusal(source: Source, key: str, limits: ReaderLimits) -> UnreadableFile:
    with pytest.raises(UnreadableFile) as caught:
        read(source, key, limits)
    return caught.value


def test_memory_file_and_gzip_read_in_many_chunks_give_the_same_rows(tmp_path: Path) -> None:
    # Given 5,000 rows, some with a quoted line break, in memory, in a file and in gzip
    data = text(rows(5000))
    found = {
        name: read(source, key, SMALL)
        for name, (source, key) in sources(data, tmp_path, "a.csv").items()
    }
    # When each is read in 64 KiB batches
    # Then all hold the same 5,000 rows, the quoted line breaks inside their values
    assert found["memory"].num_rows == 5000
    assert found["memory"].equals(found["file"]) and found["memory"].equals(found["gzip"])
    assert found["memory"]["note"][0].as_py() == "a note, with a\nline break"


def test_a_bad_record_in_a_later_chunk_is_reported_at_its_line(tmp_path: Path) -> None:
    # Given 3,000 rows (some spanning two lines) and then a row with a field too many
    lines = rows(3000)
    expected_line = 1 + sum(line.count("\n") + 1 for line in lines) + 1
    data = text([*lines, "p-999,2026-01-01T10:00:00Z,1.5,1,EUR,true,x,extra"])
    for source, key in sources(data, tmp_path, "b.csv").values():
        # When it is read in 64 KiB batches
        error = refusal(source, key, SMALL)
        # Then the reason names the line of the whole file, not of its batch
        assert error.reason == "not_csv"
        assert f"at line {expected_line} (8 fields, header has 7)" in str(error)


def test_a_long_line_deep_in_a_batch_is_refused_with_its_line_and_length(
    tmp_path: Path,
) -> None:
    # Given 3 MiB of short rows with, at line 20,002, a note of 1.5 MiB (limit: 1 MiB)
    limits = ReaderLimits()
    note = "x" * (3 * MIB // 2)
    long_row = f"p-001,2026-01-01T10:00:00Z,1.5,1,EUR,true,{note}"
    plain = [row for row in rows(40000) if '"' not in row]
    data = text([*plain[:20000], long_row, *plain[20000:]])
    for source, key in sources(data, tmp_path, "c.csv").values():
        # When it is read with the function's limits
        error = refusal(source, key, limits)
        # Then the refusal names that line and its exact length
        assert error.reason == "line_too_long"
        assert f"line 20002 has {len(long_row)} bytes" in str(error), str(error)


def test_a_line_of_exactly_the_limit_among_short_ones_is_read(tmp_path: Path) -> None:
    # Given short rows around a row exactly 1 MiB long, the longest a line may be
    head = "p-001,2026-01-01T10:00:00Z,1.5,1,EUR,true,"
    long_row = head + "y" * (MIB - len(head))
    plain = [row for row in rows(20000) if '"' not in row]
    data = text([*plain[:10000], long_row, *plain[10000:]])
    for source, key in sources(data, tmp_path, "d.csv").values():
        # When it is read with the function's limits
        table = read(source, key, ReaderLimits())
        # Then every row is there, the long one whole
        assert table.num_rows == len(plain) + 1
        assert len(table["note"][10000].as_py()) == MIB - len(head)


def test_a_nul_byte_deep_in_a_file_is_reported_at_its_line(tmp_path: Path) -> None:
    # Given 4,000 plain rows, the 3,001st holding a NUL byte
    plain = [row for row in rows(4000) if '"' not in row]
    plain[3000] = plain[3000].replace("note", "no\x00te")
    data = text(plain)
    for source, key in sources(data, tmp_path, "e.csv").values():
        # When it is read in 64 KiB batches
        error = refusal(source, key, SMALL)
        # Then it is not text, at line 3,002 of the file (the header is line 1)
        assert error.reason == "not_text"
        assert "a NUL byte at line 3002" in str(error)


def test_a_first_quote_far_past_the_header_still_allows_line_breaks_in_values(
    tmp_path: Path,
) -> None:
    # Given 2 MiB of plain rows, then the file's only quoted value, holding a line break
    plain = [row for row in rows(20000) if '"' not in row]
    quoted = 'p-001,2026-01-01T10:00:00Z,1.5,1,EUR,true,"late, with a\nline break"'
    data = text([*plain, quoted, *plain[:10]])
    for source, key in sources(data, tmp_path, "f.csv").values():
        # When it is read with the function's limits (one batch, many scanned blocks)
        table = read(source, key, ReaderLimits())
        # Then the quoted value is one row with its line break, not two broken rows
        assert table.num_rows == len(plain) + 11
        assert table["note"][len(plain)].as_py() == "late, with a\nline break"
