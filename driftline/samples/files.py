"""Writing a sample as CSV, gzip CSV, Parquet or JSON Lines, byte for byte reproducibly."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

# The file types write_table writes, by name.
FORMATS = (".csv", ".csv.gz", ".parquet", ".jsonl")


def write_table(table: pa.Table, path: Path) -> Path:
    """Write to ``.csv``, ``.csv.gz``, ``.parquet`` or ``.jsonl``; the output is
    byte-for-byte reproducible (no timestamps in the gzip header)."""
    name = path.name.lower()
    writers = {
        ".parquet": _write_parquet,
        ".jsonl": _write_jsonl,
        ".csv.gz": _write_csv_gz,
        ".csv": _write_csv,
    }
    suffix = next((suffix for suffix in writers if name.endswith(suffix)), None)
    if suffix is None:
        raise ValueError(f"{path}: unknown format; use {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    writers[suffix](table, path)
    return path


def _write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path)


def _write_jsonl(table: pa.Table, path: Path) -> None:
    frame = _with_iso_times(table).to_pandas()
    frame.to_json(path, orient="records", lines=True, force_ascii=True)


def _write_csv(table: pa.Table, path: Path) -> None:
    with path.open("wb") as sink:
        _csv_to(table, sink)


def _write_csv_gz(table: pa.Table, path: Path) -> None:
    # mtime=0 and no file name in the header: the same rows give the same bytes.
    with (
        path.open("wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz,
    ):
        _csv_to(table, gz)


def _csv_to(table: pa.Table, sink: io.BufferedIOBase) -> None:
    # Unquoted, unless a value holds a delimiter, a quote or a line break (text drawn
    # from a contract's pattern may; the transactions' values never do): then Arrow
    # quotes every text value.
    style = "needed" if _needs_quotes(table) else "none"
    options = pa_csv.WriteOptions(quoting_style=style, quoting_header="none")
    pa_csv.write_csv(_with_iso_times(table), sink, write_options=options)


def _needs_quotes(table: pa.Table) -> bool:
    return any(
        pc.any(pc.match_substring_regex(column, r'[,"\r\n]')).as_py()
        for column, field in zip(table.columns, table.schema, strict=True)
        if pa.types.is_string(field.type)
    )


def _with_iso_times(table: pa.Table) -> pa.Table:
    """Every timestamp column as ISO 8601 text (``2026-10-31T08:15:00Z``) for text formats."""
    for index, field in enumerate(table.schema):
        if not pa.types.is_timestamp(field.type):
            continue
        # Arrow's own cast gives "2026-10-31 08:15:00" for whole seconds in naive UTC,
        # an order of magnitude faster than formatting in numpy or with strftime.
        column = table.column(index)
        if field.type.tz is None:
            column = column.cast(pa.timestamp("us", tz="UTC"))
        naive = column.cast(pa.timestamp("s", tz="UTC")).cast(pa.timestamp("s"))
        spaced = pc.cast(naive, pa.string())
        text = pc.binary_join_element_wise(pc.replace_substring(spaced, " ", "T"), "Z", "")
        table = table.set_column(index, field.name, text)
    return table
