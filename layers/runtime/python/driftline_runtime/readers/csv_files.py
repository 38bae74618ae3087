"""CSV, a chunk of whole records at a time: the contract's columns typed by Arrow's
parser, a chunk read again as text when a value in it does not convert, so the validator
judges that value and not the file."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.csv as pa_csv

from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.readers.chunks import TextChunk, text_chunks
from driftline_runtime.readers.guards import require_printable_names, require_unique_names
from driftline_runtime.readers.limits import ReaderLimits, UnreadableFile
from driftline_runtime.readers.modes import ReadMode
from driftline_runtime.readers.text import GuardedText
from driftline_runtime.validation.contract import compile_contract

# Booleans the CSV parser converts itself; any other spelling ("tRuE") takes the
# text route, where the validator accepts true/false/1/0 in any case.
_TRUE = ["true", "True", "TRUE", "1"]
_FALSE = ["false", "False", "FALSE", "0"]
# Arrow parses a chunk in blocks of this size on its threads.
_PARSE_BLOCK = 4 * 1024 * 1024
_NEWLINE = re.compile(b"\n")


def csv_batches(
    text: GuardedText, key: str, spec: DatasetSpec, limits: ReaderLimits, mode: ReadMode
) -> Iterator[pa.Table]:
    """The file's rows, a table per chunk of about ``limits.batch_bytes`` of text."""
    contract = {column.name: column.arrow_type for column in compile_contract(spec.contract)}
    names: list[str] | None = None
    for chunk in text_chunks(text, limits.batch_bytes, quotes=True):
        if names is None:
            if chunk.blank:
                continue  # blank lines before the header
            table = _first_chunk(chunk, key, spec, contract, mode)
            names = table.column_names
            require_unique_names(names, key)
            require_printable_names(names, key)
            yield table  # even without rows: its columns say what the file holds
            continue
        table = _chunk(chunk, key, spec, _types(names, contract, mode), names)
        if table.num_rows:
            yield table
    if names is None:
        _no_records(text, key)


def _first_chunk(
    chunk: TextChunk,
    key: str,
    spec: DatasetSpec,
    contract: dict[str, pa.DataType],
    mode: ReadMode,
) -> pa.Table:
    """The header and the first rows; the header's names decide every later chunk's types."""
    names = None if mode.typed and not mode.text_added else _header(chunk, spec.delimiter)
    types = contract if names is None else _types(names, contract, mode)
    try:
        return _chunk(chunk, key, spec, types, None)
    except UnreadableFile as error:
        if error.reason != "empty_file":
            raise
        if not chunk.blank:  # a header line without a line break after it
            raise UnreadableFile("header_only", f"{key} has a header but no rows") from None
        raise


def _types(
    names: list[str], contract: dict[str, pa.DataType], mode: ReadMode
) -> dict[str, pa.DataType]:
    """Each column's type: the contract's when typed, text otherwise; columns the contract
    lacks are inferred, or text once their types disagreed between chunks."""
    types: dict[str, pa.DataType] = {}
    for name in names:
        if name in contract:
            types[name] = contract[name] if mode.typed else pa.string()
        elif mode.text_added:
            types[name] = pa.string()
    return types


def _chunk(
    chunk: TextChunk,
    key: str,
    spec: DatasetSpec,
    types: dict[str, pa.DataType],
    names: list[str] | None,
) -> pa.Table:
    try:
        return _parse(chunk, spec, types, names)
    except pa.ArrowInvalid as error:
        if "CSV conversion error" not in str(error):
            raise _not_csv(chunk, key, spec, error, names) from None
    # A value did not convert: this chunk's contract columns as text, for the validator.
    as_text = dict.fromkeys(types, pa.string())
    try:
        return _parse(chunk, spec, as_text, names)
    except pa.ArrowInvalid as error:
        raise _not_csv(chunk, key, spec, error, names) from None


def _parse(
    chunk: TextChunk, spec: DatasetSpec, types: dict[str, pa.DataType], names: list[str] | None
) -> pa.Table:
    read = pa_csv.ReadOptions(block_size=_PARSE_BLOCK, column_names=names, use_threads=True)
    parse = pa_csv.ParseOptions(delimiter=spec.delimiter, newlines_in_values=chunk.quoted)
    convert = pa_csv.ConvertOptions(
        column_types=types,
        # Only an empty field is missing: "NA", "null" or "NaN" are values, judged by
        # the validator ("NaN" is then a float the finite rule rejects).
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        true_values=_TRUE,
        false_values=_FALSE,
        check_utf8=False,  # the guards checked every byte
    )
    return pa_csv.read_csv(
        pa.BufferReader(chunk.data), read_options=read, parse_options=parse, convert_options=convert
    )


def _header(chunk: TextChunk, delimiter: str) -> list[str]:
    """The header's names, as Python's csv module reads the first record."""
    lines = (line.decode("utf-8") for line in _lines(chunk.data))
    return next(csv.reader(lines, delimiter=delimiter), [])


def _lines(data: memoryview) -> Iterator[bytes]:
    """The lines of ``data`` one at a time, each copied only when it is reached."""
    start = 0
    while start < len(data):
        found = _NEWLINE.search(data, start)
        end = len(data) if found is None else found.end()
        yield bytes(data[start:end])
        start = end


def _no_records(text: GuardedText, key: str) -> None:
    """The text held no record at all: empty, or only blank lines."""
    if text.guard.offset == 0:
        raise UnreadableFile("empty_file", f"{key} is empty (0 bytes)")
    raise UnreadableFile("empty_file", f"{key} holds no header and no rows, only blank lines")


def _not_csv(
    chunk: TextChunk,
    key: str,
    spec: DatasetSpec,
    error: pa.ArrowInvalid,
    names: list[str] | None,
) -> UnreadableFile:
    """Why Arrow could not parse the chunk, with the line, found again with Python's csv."""
    if "Empty CSV file" in str(error):
        return UnreadableFile("empty_file", f"{key} holds no header and no rows")
    where = _first_malformed_record(chunk, spec.delimiter, len(names) if names else None)
    detail = str(error).removeprefix("CSV parse error: ")
    return UnreadableFile("not_csv", f"{key} is not well-formed CSV{where}: {detail}")


def _first_malformed_record(chunk: TextChunk, delimiter: str, fields: int | None) -> str:
    """`` at line N`` for the first record whose field count differs from the header's
    (``fields``; None: the chunk starts with the header)."""
    stream = io.TextIOWrapper(io.BytesIO(chunk.data), encoding="utf-8", newline="")
    reader = csv.reader(stream, delimiter=delimiter, strict=True)
    line = chunk.first_line - 1
    try:
        expected = len(next(reader, [])) if fields is None else fields
        for record in reader:
            if record and len(record) != expected:
                return (
                    f" at line {line + reader.line_num} "
                    f"({len(record)} fields, header has {expected})"
                )
    except csv.Error as error:
        return f" at line {line + reader.line_num} ({error})"
    return ""
