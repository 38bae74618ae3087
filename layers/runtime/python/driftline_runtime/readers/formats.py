"""Which reader an object key selects, the checks every file passes before its first
batch, and the loop that reads a file again when a later batch says it must."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

import pyarrow as pa

from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.readers.compression import Inflating, inflated_size
from driftline_runtime.readers.csv_files import csv_batches
from driftline_runtime.readers.json_lines import jsonl_batches
from driftline_runtime.readers.limits import Data, FileFormat, ReaderLimits, UnreadableFile
from driftline_runtime.readers.modes import FIRST_READ, AddedColumnsDisagree, ReadAgain, ReadMode
from driftline_runtime.readers.parquet_files import parquet_batches
from driftline_runtime.readers.sources import BytesSource, Source
from driftline_runtime.readers.text import GuardedText

_SUFFIXES: tuple[tuple[str, FileFormat], ...] = (
    (".csv", "csv"),
    (".parquet", "parquet"),
    (".pq", "parquet"),
    (".jsonl", "jsonl"),
    (".ndjson", "jsonl"),
)
# A read starts over at most this often (a column the contract lacks changing type,
# then a JSON key turning up late): each cause can happen once.
_ATTEMPTS = 4

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


@dataclass(frozen=True)
class TableFile:
    """A file that passed the checks before its first batch, ready to be read in batches.

    ``text_bytes``: what the readers go through, the object's size or, for gzip, what
    it inflates to (a Parquet file's own compression is not counted).
    """

    source: Source
    key: str
    spec: DatasetSpec
    limits: ReaderLimits
    file_format: FileFormat
    compressed: bool
    text_bytes: int

    def batches(self, mode: ReadMode = FIRST_READ) -> Iterator[pa.Table]:
        """The file's rows in batches (the first may have none: its columns still say
        what the file holds); raises UnreadableFile, or ReadAgain to start over."""
        if self.file_format == "parquet":
            batches = parquet_batches(self.source, self.key, self.limits)
        else:
            raw: BinaryIO = self.source.open()
            if self.compressed:  # a raw binary stream, as the readers read one
                raw = cast(BinaryIO, Inflating(raw, self.key, self.limits))
            text = GuardedText(raw, self.key, self.limits.max_line_bytes)
            reader = csv_batches if self.file_format == "csv" else jsonl_batches
            batches = reader(text, self.key, self.spec, self.limits, mode)
        return _with_rows(batches, self.key)

    def scan[T](self, attempt: Callable[[Iterator[pa.Table]], T]) -> T:
        """``attempt(batches)``, started over with the read mode a later batch asked for."""
        mode = ReadMode()
        for _ in range(_ATTEMPTS):
            try:
                return attempt(self.batches(mode))
            except ReadAgain as again:
                mode = again.mode
            except AddedColumnsDisagree:
                if mode.text_added:
                    raise
                mode = ReadMode(typed=mode.typed, text_added=True, columns=mode.columns)
        raise RuntimeError(f"{self.key} could not be read in {_ATTEMPTS} attempts")


def open_table_file(
    source: Source, key: str, spec: DatasetSpec, limits: ReaderLimits = DEFAULT_LIMITS
) -> TableFile:
    """Check what can be checked before the first batch; raises UnreadableFile."""
    file_format, compressed = detect_format(key)
    if source.size == 0:
        raise UnreadableFile("empty_file", f"{key} is empty (0 bytes)")
    text_bytes = source.size
    if compressed:
        with source.open() as raw:
            text_bytes = inflated_size(raw, key, limits)
        if file_format == "parquet":
            source = source.inflated(key, limits)
    return TableFile(source, key, spec, limits, file_format, compressed, text_bytes)


def _with_rows(batches: Iterator[pa.Table], key: str) -> Iterator[pa.Table]:
    """The batches, and at the end what a file with no rows is refused for."""
    names: list[str] | None = None
    rows = 0
    for batch in batches:
        if names is None:
            names = batch.column_names
            if not names:
                raise UnreadableFile("empty_file", f"{key} holds no columns and no rows")
        rows += batch.num_rows
        yield batch
    if rows == 0:
        if names is None or not "".join(names).strip():
            raise UnreadableFile(
                "empty_file", f"{key} holds no header and no rows, only blank lines"
            )
        raise UnreadableFile("header_only", f"{key} has columns ({', '.join(names)}) but no rows")


def read_table(
    data: Data, key: str, spec: DatasetSpec, limits: ReaderLimits = DEFAULT_LIMITS
) -> pa.Table:
    """The whole table in ``data`` (the object at ``key``); raises UnreadableFile.

    For files that fit in memory (tests, a quick look); the pipeline validates batch by
    batch (``driftline_runtime.checking``).
    """
    table_file = open_table_file(BytesSource(data), key, spec, limits)
    return table_file.scan(lambda batches: _concatenated(list(batches)))


def _concatenated(tables: list[pa.Table]) -> pa.Table:
    """One table; a column whose type differs between batches becomes text."""
    tables = [table for table in tables if table.num_rows] or tables[:1]
    names = tables[0].column_names
    differing = {
        name for name in names if len({table.schema.field(name).type for table in tables}) > 1
    }
    if differing:
        tables = [
            table.select(names).cast(
                pa.schema(
                    [
                        pa.field(f.name, pa.string()) if f.name in differing else f
                        for f in table.select(names).schema
                    ]
                )
            )
            for table in tables
        ]
    return pa.concat_tables(tables)
