"""Reading an arrived file into an Arrow table, or saying exactly why it cannot be read.

The format comes from the object key: ``.csv``, ``.parquet`` (``.pq``), ``.jsonl`` or
``.ndjson``, each also gzip-compressed with ``.gz`` (a bare ``.gz`` is gzip CSV).

A file that cannot be read at all raises :class:`UnreadableFile` and nothing else, with
a short ``reason`` code for machines and a message for people that says what is wrong
and where (a line number, a byte offset). A file that reads but holds bad values is not
the reader's business: it returns a table and the validator judges it row by row.

CSV is read fast first: the contract's columns get their Arrow types straight from the
CSV parser (no inference, no second pass), while columns the contract does not know
keep Arrow's inferred types (schema evolution). If any contract column fails to
convert, the file is read once more with the contract's columns as text, and the
validator parses that text value by value, so a bad value costs its row, not the file.
One leniency remains on the fast path: Arrow's integer parser reads ``0x10`` as 16
(pydantic would refuse it); on the text route it fails as it should.

Hostile files are refused before they cost memory (:class:`ReaderLimits`): gzip is
inflated in bounded chunks and stops at ``max_decompressed_bytes`` (a gzip bomb costs
that much and no more), and a text line longer than ``max_line_bytes`` is refused by
a chunked scan before any parser sees it.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.validation import compile_contract

FileFormat = Literal["csv", "parquet", "jsonl"]
# A file's bytes: gzip is inflated into a bytearray, so that it is never copied whole.
Data = bytes | bytearray
MIB = 1024 * 1024
# Inflate and scan in pieces of this size: the only memory the guards add.
_CHUNK = 8 * MIB


@dataclass(frozen=True)
class ReaderLimits:
    """How much a file may cost before it is refused; the ingest function's settings."""

    # What a compressed file may inflate to (the reader holds it in memory).
    max_decompressed_bytes: int = 256 * MIB
    # The longest line of a CSV or JSON Lines file; Arrow's parser would need a block
    # that large, and no contract row comes near it.
    max_line_bytes: int = 1 * MIB


_SUFFIXES: tuple[tuple[str, FileFormat], ...] = (
    (".csv", "csv"),
    (".parquet", "parquet"),
    (".pq", "parquet"),
    (".jsonl", "jsonl"),
    (".ndjson", "jsonl"),
)
# What a file that should be text really is, when it starts with these bytes.
_MAGIC = (
    (b"\x1f\x8b", "gzip data (name it .gz)"),
    (b"PAR1", "a Parquet file (name it .parquet)"),
    (b"PK\x03\x04", "a zip archive (an Excel workbook?)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
)
# Booleans the CSV parser converts itself; any other spelling ("tRuE") takes the
# text route, where the validator accepts true/false/1/0 in any case.
_TRUE = ["true", "True", "TRUE", "1"]
_FALSE = ["false", "False", "FALSE", "0"]


class UnreadableFile(ValueError):
    """The file cannot be read as its key says. ``reason`` is a short snake_case code:

    ``unknown_format``, ``empty_file``, ``header_only``, ``not_text``, ``not_utf8``,
    ``not_csv``, ``truncated_gzip``, ``corrupt_gzip``, ``decompression_limit``,
    ``line_too_long``, ``not_parquet``, ``bad_json_line``, ``duplicate_columns`` or
    ``bad_column_name``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


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
    data: Data, key: str, spec: DatasetSpec, limits: ReaderLimits = ReaderLimits()
) -> pa.Table:
    """The table in ``data`` (the object at ``key``); raises :class:`UnreadableFile`."""
    file_format, compressed = detect_format(key)
    if not data:
        raise UnreadableFile("empty_file", f"{key} is empty (0 bytes)")
    if compressed:
        data = _gunzip(data, key, limits.max_decompressed_bytes)
    if file_format != "parquet":
        _require_short_lines(data, key, limits.max_line_bytes)
        if data[:1].isspace() and _only_whitespace(data):
            raise UnreadableFile(
                "empty_file", f"{key} holds no header and no rows, only blank lines"
            )
    table = _READERS[file_format](data, key, spec)
    _require_unique_names(table.column_names, key)
    _require_printable_names(table.column_names, key)
    if table.num_columns == 0:
        raise UnreadableFile("empty_file", f"{key} holds no columns and no rows")
    if table.num_rows == 0 and not "".join(table.column_names).strip():
        raise UnreadableFile("empty_file", f"{key} holds no header and no rows, only blank lines")
    if table.num_rows == 0:
        raise UnreadableFile(
            "header_only", f"{key} has columns ({', '.join(table.column_names)}) but no rows"
        )
    return table


def _gunzip(data: Data, key: str, limit: int) -> bytearray:
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
                wanted = min(_CHUNK, limit + 1 - len(plain))
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


def _require_short_lines(data: Data, key: str, limit: int) -> None:
    """Refuse a line longer than ``limit`` bytes; scanned in chunks, so memory stays flat."""
    line_start = 0  # byte offset where the current line began
    lines = 0
    for offset in range(0, len(data), _CHUNK):
        chunk = np.frombuffer(data, np.uint8, min(_CHUNK, len(data) - offset), offset)
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


def _only_whitespace(data: Data) -> bool:
    return not any(
        bytes(data[offset : offset + _CHUNK]).strip() for offset in range(0, len(data), _CHUNK)
    )


def _require_printable_names(names: list[str], key: str) -> None:
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


def _require_unique_names(names: list[str], key: str) -> None:
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UnreadableFile(
            "duplicate_columns", f"{key} names these columns more than once: {repeated}"
        )


# --- text ------------------------------------------------------------------------------


def _text(data: Data, key: str) -> pa.Buffer:
    """``data`` as a buffer of UTF-8 text without a BOM, or UnreadableFile saying why not."""
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise UnreadableFile("not_text", f"{key} holds {what}, not text")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise UnreadableFile(
            "not_text",
            f"{key} holds binary data, not text: a NUL byte at line {_line_of(data, nul)} "
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
                f"{_line_of(data, error.start)} (byte offset {error.start}) is not valid UTF-8",
            ) from None
        raise


def _line_of(data: Data, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


# --- CSV -------------------------------------------------------------------------------


def _read_csv(data: Data, key: str, spec: DatasetSpec) -> pa.Table:
    text = _text(data, key)
    # Only a quoted value can hold a newline. Allowing for that costs Arrow a serial
    # pass to find where records end (about 40% of the read), so it is skipped when no
    # quote follows the first newline: then no record spans lines (a quoted header, as
    # many writers produce, ends on line 1). With a quoted newline, skipping it would
    # silently split records at Arrow's block boundaries.
    quoted = data.find(b'"', data.find(b"\n") + 1) >= 0
    contract = compile_contract(spec.contract)
    typed = {column.name: column.arrow_type for column in contract}
    try:
        return _parse_csv(text, spec, typed, quoted)
    except pa.ArrowInvalid as error:
        if "CSV conversion error" not in str(error):
            raise _not_csv(text, key, spec, error) from None
    as_text = {column.name: pa.string() for column in contract}
    try:
        return _parse_csv(text, spec, as_text, quoted)
    except pa.ArrowInvalid as error:
        raise _not_csv(text, key, spec, error) from None


def _parse_csv(
    text: pa.Buffer, spec: DatasetSpec, types: dict[str, pa.DataType], quoted: bool
) -> pa.Table:
    parse = pa_csv.ParseOptions(delimiter=spec.delimiter, newlines_in_values=quoted)
    convert = pa_csv.ConvertOptions(
        column_types=types,
        # Only an empty field is missing: "NA", "null" or "NaN" are values, judged by
        # the validator ("NaN" is then a float the finite rule rejects).
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        true_values=_TRUE,
        false_values=_FALSE,
        check_utf8=False,  # the whole file was checked at once, in _text
    )
    return pa_csv.read_csv(pa.BufferReader(text), parse_options=parse, convert_options=convert)


def _not_csv(
    text: pa.Buffer, key: str, spec: DatasetSpec, error: pa.ArrowInvalid
) -> UnreadableFile:
    """Why Arrow could not parse the file, with the line, found again with Python's csv."""
    if "Empty CSV file" in str(error):
        if text.to_pybytes().strip():  # a header line without a line break after it
            return UnreadableFile("header_only", f"{key} has a header but no rows")
        return UnreadableFile("empty_file", f"{key} holds no header and no rows")
    where = _first_malformed_record(text, spec.delimiter)
    detail = str(error).removeprefix("CSV parse error: ")
    return UnreadableFile("not_csv", f"{key} is not well-formed CSV{where}: {detail}")


def _first_malformed_record(text: pa.Buffer, delimiter: str) -> str:
    """`` at line N`` for the first record whose field count differs from the header's."""
    stream = io.TextIOWrapper(io.BytesIO(text.to_pybytes()), encoding="utf-8", newline="")
    reader = csv.reader(stream, delimiter=delimiter, strict=True)
    try:
        header = next(reader, [])
        for record in reader:
            if record and len(record) != len(header):
                return (
                    f" at line {reader.line_num} ({len(record)} fields, header has {len(header)})"
                )
    except csv.Error as error:
        return f" at line {reader.line_num} ({error})"
    return ""


# --- JSON Lines ------------------------------------------------------------------------


def _read_jsonl(data: Data, key: str, spec: DatasetSpec) -> pa.Table:
    text = _text(data, key)
    try:
        return pa_json.read_json(pa.BufferReader(text))
    except pa.ArrowException:
        # Arrow stops at a bad line without saying which, and at a column whose type
        # changes (a number, then a string). Python reads the lines one by one instead.
        return _read_jsonl_lines(text.to_pybytes().decode("utf-8"), key)


class _RepeatedKey(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        names = [name for name, _ in pairs]
        raise _RepeatedKey(sorted({name for name in names if names.count(name) > 1}))
    return record


def _read_jsonl_lines(text: str, key: str) -> pa.Table:
    records: list[dict[str, Any]] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        records.append(_parse_line(line, number, key))
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
    return pa.table({name: _json_column([r.get(name) for r in records]) for name in names})


def _parse_line(line: str, number: int, key: str) -> dict[str, Any]:
    try:
        record = json.loads(line, object_pairs_hook=_object)
    except json.JSONDecodeError as error:
        raise UnreadableFile(
            "bad_json_line",
            f"{key} line {number} is not valid JSON: {error.msg} (column {error.colno})",
        ) from None
    except _RepeatedKey as error:
        raise UnreadableFile(
            "duplicate_columns", f"{key} line {number} names keys more than once: {error}"
        ) from None
    if not isinstance(record, dict):
        raise UnreadableFile(
            "bad_json_line",
            f"{key} line {number} holds a JSON {type(record).__name__}, not an object",
        )
    return record


def _json_column(values: list[Any]) -> pa.Array:
    """Arrow's own type for the values, or text if they mix types (for the validator)."""
    try:
        return pa.array(values)
    except (pa.ArrowException, OverflowError):
        return pa.array([_as_text(value) for value in values], pa.string())


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


# --- Parquet ---------------------------------------------------------------------------


def _read_parquet(data: Data, key: str, spec: DatasetSpec) -> pa.Table:
    try:
        # ParquetFile, not read_table: the dataset layer behind read_table fails on
        # duplicate column names before they can be reported as such.
        table = pq.ParquetFile(pa.BufferReader(data)).read()
        # Parquet readers trust the file: a damaged page can hold text that is not
        # UTF-8. A full validation (about as fast as the read) catches it here.
        table.validate(full=True)
        return table
    except (pa.ArrowException, OSError, UnicodeDecodeError) as error:
        raise UnreadableFile(
            "not_parquet", f"{key} is not a readable Parquet file: {error}"
        ) from None


_READERS: dict[FileFormat, Callable[[Data, str, DatasetSpec], pa.Table]] = {
    "csv": _read_csv,
    "parquet": _read_parquet,
    "jsonl": _read_jsonl,
}
