"""CSV: the contract's columns typed by Arrow's parser, read again as text when a value
does not convert, so the validator judges that value and not the file."""

from __future__ import annotations

import csv
import io

import pyarrow as pa
import pyarrow.csv as pa_csv

from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.readers.limits import Data, UnreadableFile
from driftline_runtime.readers.text import utf8_text
from driftline_runtime.validation import compile_contract

# Booleans the CSV parser converts itself; any other spelling ("tRuE") takes the
# text route, where the validator accepts true/false/1/0 in any case.
_TRUE = ["true", "True", "TRUE", "1"]
_FALSE = ["false", "False", "FALSE", "0"]


def read_csv(data: Data, key: str, spec: DatasetSpec) -> pa.Table:
    text = utf8_text(data, key)
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
        check_utf8=False,  # the whole file was checked at once, in utf8_text
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
