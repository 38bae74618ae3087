"""Which reader an object key selects, and what every table read must hold."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.readers.csv_files import read_csv
from driftline_runtime.readers.guards import (
    gunzip,
    only_whitespace,
    require_printable_names,
    require_short_lines,
    require_unique_names,
)
from driftline_runtime.readers.json_lines import read_jsonl
from driftline_runtime.readers.limits import Data, FileFormat, ReaderLimits, UnreadableFile
from driftline_runtime.readers.parquet_files import read_parquet

_SUFFIXES: tuple[tuple[str, FileFormat], ...] = (
    (".csv", "csv"),
    (".parquet", "parquet"),
    (".pq", "parquet"),
    (".jsonl", "jsonl"),
    (".ndjson", "jsonl"),
)

# The ingest function's defaults.
DEFAULT_LIMITS = ReaderLimits()


def detect_format(key: str) -> tuple[FileFormat, bool]:
    """(format, gzip-compressed) from the key's suffix, case-insensitively."""
    name = key.rsplit("/", 1)[-1].lower()
    compressed = name.endswith(".gz")
    inner = name.removesuffix(".gz")
    for suffix, file_format in _SUFFIXES:
        if inner.endswith(suffix):
            return file_format, compressed
    if compressed:
        return "csv", True
    raise UnreadableFile(
        "unknown_format",
        f"{key}: unknown file type; name it .csv, .parquet, .jsonl or .ndjson (or add .gz)",
    )


def read_table(
    data: Data, key: str, spec: DatasetSpec, limits: ReaderLimits = DEFAULT_LIMITS
) -> pa.Table:
    """The table in ``data`` (the object at ``key``); raises :class:`UnreadableFile`."""
    file_format, compressed = detect_format(key)
    if not data:
        raise UnreadableFile("empty_file", f"{key} is empty (0 bytes)")
    if compressed:
        data = gunzip(data, key, limits.max_decompressed_bytes)
    if file_format != "parquet":
        require_short_lines(data, key, limits.max_line_bytes)
        if data[:1].isspace() and only_whitespace(data):
            raise UnreadableFile(
                "empty_file", f"{key} holds no header and no rows, only blank lines"
            )
    table = _READERS[file_format](data, key, spec)
    require_unique_names(table.column_names, key)
    require_printable_names(table.column_names, key)
    if table.num_columns == 0:
        raise UnreadableFile("empty_file", f"{key} holds no columns and no rows")
    if table.num_rows == 0 and not "".join(table.column_names).strip():
        raise UnreadableFile("empty_file", f"{key} holds no header and no rows, only blank lines")
    if table.num_rows == 0:
        raise UnreadableFile(
            "header_only", f"{key} has columns ({', '.join(table.column_names)}) but no rows"
        )
    return table


_READERS: dict[FileFormat, Callable[[Data, str, DatasetSpec], pa.Table]] = {
    "csv": read_csv,
    "parquet": read_parquet,
    "jsonl": read_jsonl,
}
