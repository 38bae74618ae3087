"""The readers: every format driftline accepts, and every way a file can be unreadable."""

from __future__ import annotations

import gzip
import io
import json
import math
import random
from datetime import UTC, datetime
from typing import Literal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.readers import UnreadableFile, detect_format, read_table
from driftline_runtime.validation import validate
from pydantic import BaseModel, Field


class Payment(BaseModel):
    payment_id: str = Field(pattern=r"^p-\d{3}$")
    paid_at: datetime
    amount: float = Field(gt=0)
    quantity: int = Field(ge=1)
    currency: Literal["EUR", "USD"]
    express: bool
    note: str | None = None


def payments(delimiter: str = ",") -> DatasetSpec:
    return DatasetSpec(
        name="payments",
        kind="inference",
        model_dataset="payment-history",
        contract=Payment,
        contract_version="1.0.0",
        id_column="payment_id",
        delimiter=delimiter,
    )


HEADER = "payment_id,paid_at,amount,quantity,currency,express,note"
ROW_1 = "p-001,2026-01-01T10:00:00Z,12.5,2,EUR,true,first"
ROW_2 = "p-002,2026-01-01T11:00:00+01:00,3,1,USD,false,"


def csv_of(*lines: str, newline: str = "\n") -> bytes:
    return (newline.join(lines) + newline).encode()


GOOD = csv_of(HEADER, ROW_1, ROW_2)


def parquet_of(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def unreadable(data: bytes, key: str, spec: DatasetSpec | None = None) -> UnreadableFile:
    with pytest.raises(UnreadableFile) as caught:
        read_table(data, key, spec or payments())
    return caught.value


# --- formats ---------------------------------------------------------------------------


def test_csv_columns_get_their_contract_types_straight_from_the_parser() -> None:
    # Given a clean CSV
    # When it is read
    table = read_table(GOOD, "payments/2026/a.csv", payments())
    # Then every contract column already has its Arrow type, values parsed and zoned
    assert table.schema.field("paid_at").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("amount").type == pa.float64()
    assert table.schema.field("quantity").type == pa.int64()
    assert table.schema.field("express").type == pa.bool_()
    assert table.column("paid_at").to_pylist() == [
        datetime(2026, 1, 1, 10, tzinfo=UTC),
        datetime(2026, 1, 1, 10, tzinfo=UTC),
    ]
    assert table.column("express").to_pylist() == [True, False]


def test_an_empty_csv_field_is_null_but_na_and_nan_are_values() -> None:
    # Given a row with an empty note, a note reading NA and an amount of NaN
    data = csv_of(HEADER, ROW_2, "p-003,2026-01-01T10:00:00Z,NaN,1,EUR,true,NA")
    # When it is read
    table = read_table(data, "a.csv", payments())
    # Then only the empty field is null; the others stay values for the validator to judge
    assert table.column("note").to_pylist() == [None, "NA"]
    assert math.isnan(table.column("amount")[1].as_py())


def test_the_specs_delimiter_is_used() -> None:
    # Given a semicolon-separated file whose notes hold commas, and a spec that says ";"
    data = csv_of(HEADER.replace(",", ";"), "p-001;2026-01-01T10:00:00Z;1.5;1;EUR;true;a,b")
    # When it is read
    table = read_table(data, "a.csv", payments(delimiter=";"))
    # Then the columns are split on ";" only
    assert table.column("note").to_pylist() == ["a,b"]
    assert table.column("amount").to_pylist() == [1.5]


def test_quoted_fields_keep_delimiters_and_newlines() -> None:
    # Given a quoted note holding a comma, a newline and an escaped quote
    data = csv_of(
        HEADER, 'p-001,2026-01-01T10:00:00Z,1,1,EUR,true,"one, two\nthree ""four"""', ROW_2
    )
    # When it is read
    table = read_table(data, "a.csv", payments())
    # Then the value is whole and the next record is still the second row
    assert table.column("note").to_pylist() == ['one, two\nthree "four"', None]
    assert table.column("payment_id").to_pylist() == ["p-001", "p-002"]


def test_quoted_newlines_are_never_split_across_the_parsers_blocks() -> None:
    # Given a file of several MiB (Arrow parses it in blocks) where every note spans lines
    rows = [
        f'p-{index % 1000:03d},2026-01-01T10:00:00Z,1,1,EUR,true,"line {index}\nnext line"'
        for index in range(60_000)
    ]
    data = csv_of(HEADER, *rows)
    assert len(data) > 3 * 2**20
    # When it is read
    table = read_table(data, "a.csv", payments())
    # Then every record is whole: none was cut at a block boundary
    assert table.num_rows == 60_000
    assert table.column("note")[59_999].as_py() == "line 59999\nnext line"


def test_a_quoted_header_with_plain_rows_reads_as_plain_csv() -> None:
    # Given a header in quotes (as Arrow's writer produces) and rows without any quote
    header = ",".join(f'"{name}"' for name in HEADER.split(","))
    # When it is read
    table = read_table(csv_of(header, ROW_1, ROW_2), "a.csv", payments())
    # Then the names lose their quotes and the rows read as usual
    assert table.column_names == HEADER.split(",")
    assert table.num_rows == 2


def test_crlf_line_endings() -> None:
    # Given Windows line endings
    # When the file is read
    table = read_table(csv_of(HEADER, ROW_1, ROW_2, newline="\r\n"), "a.csv", payments())
    # Then no value keeps a carriage return
    assert table.column("note").to_pylist() == ["first", None]
    assert table.column_names[-1] == "note"


def test_a_utf8_bom_is_stripped() -> None:
    # Given a file that starts with a UTF-8 byte order mark (as Excel writes)
    # When it is read
    table = read_table(b"\xef\xbb\xbf" + GOOD, "a.csv", payments())
    # Then the first column's name is clean
    assert table.column_names[0] == "payment_id"


@pytest.mark.parametrize("key", ["a.csv.gz", "a.gz", "A.CSV.GZ"])
def test_gzip_csv(key: str) -> None:
    # Given a gzip-compressed CSV named .csv.gz or just .gz
    # When it is read
    table = read_table(gzip.compress(GOOD), key, payments())
    # Then it reads as the plain file does
    assert table.equals(read_table(GOOD, "a.csv", payments()))


def test_parquet_keeps_its_own_types() -> None:
    # Given a Parquet file with narrower types than the contract's
    table = pa.table(
        {
            "payment_id": ["p-001"],
            "paid_at": pa.array([datetime(2026, 1, 1)], pa.timestamp("ns")),
            "quantity": pa.array([2], pa.int32()),
        }
    )
    # When it is read
    read = read_table(parquet_of(table), "a.parquet", payments())
    # Then the reader hands them over as they are (the validator converts them)
    assert read.schema.field("quantity").type == pa.int32()
    assert read.equals(table)


@pytest.mark.parametrize("key", ["a.jsonl", "a.ndjson", "a.jsonl.gz"])
def test_json_lines(key: str) -> None:
    # Given JSON Lines, one object per line, with a blank line between them
    lines = [
        {"payment_id": "p-001", "amount": 12.5, "quantity": 2, "express": True},
        {"payment_id": "p-002", "amount": 3, "quantity": 1, "express": False},
    ]
    data = (json.dumps(lines[0]) + "\n\n" + json.dumps(lines[1]) + "\n").encode()
    # When it is read (compressed if the key says so)
    table = read_table(gzip.compress(data) if key.endswith(".gz") else data, key, payments())
    # Then each line is a row
    assert table.column("payment_id").to_pylist() == ["p-001", "p-002"]
    assert table.column("amount").to_pylist() == [12.5, 3.0]


def test_json_lines_with_a_column_of_mixed_types_read_as_text() -> None:
    # Given a quantity that is a number on one line and a string on the next
    data = b'{"payment_id": "p-001", "quantity": 2}\n{"payment_id": "p-002", "quantity": "x"}\n'
    # When it is read
    table = read_table(data, "a.jsonl", payments())
    # Then that column is text, so the validator can fail the one bad value
    assert table.column("quantity").to_pylist() == ["2", "x"]


def test_columns_the_contract_lacks_are_kept_with_inferred_types() -> None:
    # Given an extra column on the right
    data = csv_of(HEADER + ",channel_code", ROW_1 + ",7", ROW_2 + ",8")
    # When it is read
    table = read_table(data, "a.csv", payments())
    # Then it is kept, typed by inference
    assert table.column("channel_code").to_pylist() == [7, 8]


def test_a_value_that_fails_its_type_turns_the_contract_columns_into_text() -> None:
    # Given a quantity of 3.5: the typed read of that column fails
    data = csv_of(HEADER, ROW_1, "p-002,2026-01-01T10:00:00,1,3.5,USD,TRUE,", ROW_2)
    # When it is read
    table = read_table(data, "a.csv", payments())
    # Then the file is still read, its contract columns as text for the validator to
    # judge value by value, and no row is lost
    assert table.schema.field("quantity").type == pa.string()
    assert table.column("quantity").to_pylist() == ["2", "3.5", "1"]
    assert table.column("note").to_pylist() == ["first", None, None]


def test_detect_format_by_suffix() -> None:
    # Given keys of every accepted kind
    # When their formats are detected
    # Then the suffix decides, case-insensitively, and .gz means compressed
    assert detect_format("x/y/a.csv") == ("csv", False)
    assert detect_format("a.CSV.gz") == ("csv", True)
    assert detect_format("a.gz") == ("csv", True)
    assert detect_format("a.parquet") == ("parquet", False)
    assert detect_format("a.pq") == ("parquet", False)
    assert detect_format("a.ndjson.gz") == ("jsonl", True)


# --- unreadable files ------------------------------------------------------------------


def test_unreadable_file_is_a_value_error_with_a_reason_code() -> None:
    # Given an empty upload
    # When it is read
    error = unreadable(b"", "payments/a.csv")
    # Then the error is a ValueError with a code for machines and a message for people
    assert isinstance(error, ValueError)
    assert error.reason == "empty_file"
    assert "payments/a.csv" in str(error) and "0 bytes" in str(error)


@pytest.mark.parametrize(
    ("data", "key", "reason", "says"),
    [
        (b"", "a.csv", "empty_file", "0 bytes"),
        (b"\n\n", "a.csv", "empty_file", "no header"),
        (gzip.compress(b""), "a.csv.gz", "empty_file", "decompresses to 0 bytes"),
        (csv_of(HEADER), "a.csv", "header_only", "no rows"),
        (HEADER.encode(), "a.csv", "header_only", "no rows"),
        (b"id,x\x00y\n1,2\n", "a.csv", "not_text", "NUL byte at line 1"),
        (gzip.compress(GOOD), "a.csv", "not_text", "gzip"),
        (b"PAR1\x00\x00", "a.jsonl", "not_text", "Parquet"),
    ],
)
def test_unreadable_reasons(data: bytes, key: str, reason: str, says: str) -> None:
    # Given a file that cannot be read
    # When it is read
    error = unreadable(data, key)
    # Then the reason code and the message say why
    assert error.reason == reason
    assert says in str(error)


def test_invalid_utf8_is_reported_with_its_line() -> None:
    # Given Latin-1 text on the third line
    data = csv_of(HEADER, ROW_1) + "p-002,café\n".encode("latin-1")
    # When it is read
    error = unreadable(data, "a.csv")
    # Then it is not_utf8, and the message points at the byte and its line
    assert error.reason == "not_utf8"
    assert "line 3" in str(error) and "0xe9" in str(error)


def test_invalid_utf8_in_the_header_is_not_utf8_too() -> None:
    # Given a header in Latin-1
    # When it is read
    error = unreadable("payment_id,montant_€\n1,2\n".encode("cp1252"), "a.csv")
    # Then the reason is the same
    assert error.reason == "not_utf8"
    assert "line 1" in str(error)


def test_random_binary_is_not_text() -> None:
    # Given bytes that are no text at all
    garbage = bytes(range(256)) * 8
    # When they are read as CSV and as JSON Lines
    # Then both refuse them as not text
    assert unreadable(garbage, "a.csv").reason == "not_text"
    assert unreadable(garbage, "a.jsonl").reason == "not_text"


def test_a_row_with_the_wrong_number_of_fields_is_not_csv_and_says_where() -> None:
    # Given a third line with one field too few
    data = csv_of(HEADER, ROW_1, "p-002,2026-01-01T10:00:00Z,3,1,USD,false", ROW_2)
    # When it is read
    error = unreadable(data, "a.csv")
    # Then it is not_csv, at line 3
    assert error.reason == "not_csv"
    assert "line 3" in str(error) and "6 fields" in str(error)


def test_an_unclosed_quote_is_not_csv() -> None:
    # Given a quote that never closes
    # When the file is read
    error = unreadable(csv_of(HEADER, ROW_1, 'p-002,"2026-01-01,3,1,USD,false,'), "a.csv")
    # Then it is not_csv
    assert error.reason == "not_csv"


def test_duplicate_column_names_in_a_csv_header() -> None:
    # Given a header naming amount twice
    data = csv_of(HEADER + ",amount", ROW_1 + ",1")
    # When it is read
    error = unreadable(data, "a.csv")
    # Then the duplicate is named
    assert error.reason == "duplicate_columns"
    assert "amount" in str(error)


def test_duplicate_keys_in_a_json_line() -> None:
    # Given a JSON object with the same key twice on line 2
    data = b'{"payment_id": "p-001"}\n{"payment_id": "p-002", "payment_id": "p-003"}\n'
    # When it is read
    error = unreadable(data, "a.jsonl")
    # Then it is duplicate_columns, on line 2
    assert error.reason == "duplicate_columns"
    assert "line 2" in str(error) and "payment_id" in str(error)


def test_duplicate_column_names_in_parquet() -> None:
    # Given a Parquet file with two columns named alike
    data = parquet_of(pa.table([pa.array([1]), pa.array([2])], names=["a", "a"]))
    # When it is read
    # Then it is refused like a CSV header would be
    assert unreadable(data, "a.parquet").reason == "duplicate_columns"


def test_truncated_gzip() -> None:
    # Given a gzip stream cut short (an interrupted upload)
    # When it is read
    error = unreadable(gzip.compress(GOOD * 50)[:-20], "a.csv.gz")
    # Then it is truncated_gzip
    assert error.reason == "truncated_gzip"


@pytest.mark.parametrize(
    "data",
    [GOOD, gzip.compress(GOOD)[:10] + b"\xff" * 40 + gzip.compress(GOOD)[50:]],
    ids=["not gzip at all", "corrupt deflate data"],
)
def test_corrupt_gzip(data: bytes) -> None:
    # Given a .gz key over data that is not, or no longer, gzip
    # When it is read
    error = unreadable(data, "a.csv.gz")
    # Then it is corrupt_gzip
    assert error.reason == "corrupt_gzip"


@pytest.mark.parametrize(
    "data", [GOOD, parquet_of(pa.table({"a": [1, 2, 3]}))[:-30]], ids=["csv", "truncated"]
)
def test_not_parquet(data: bytes) -> None:
    # Given a .parquet key over CSV, or over a Parquet file missing its footer
    # When it is read
    error = unreadable(data, "a.parquet")
    # Then it is not_parquet
    assert error.reason == "not_parquet"


def test_parquet_without_rows_is_header_only() -> None:
    # Given a Parquet file with a schema and no rows
    data = parquet_of(pa.table({"payment_id": pa.array([], pa.string())}))
    # When it is read
    # Then it is header_only, as a CSV header alone is
    assert unreadable(data, "a.parquet").reason == "header_only"


def test_a_bad_json_line_is_reported_with_its_number() -> None:
    # Given a third line that is not valid JSON
    data = b'{"payment_id": "p-001"}\n{"payment_id": "p-002"}\n{"payment_id": \n'
    # When it is read
    error = unreadable(data, "a.jsonl")
    # Then it is bad_json_line, on line 3
    assert error.reason == "bad_json_line"
    assert "line 3" in str(error)


def test_a_json_line_that_is_not_an_object() -> None:
    # Given a line holding a JSON array
    # When the file is read
    error = unreadable(b'{"payment_id": "p-001"}\n[1, 2]\n', "a.jsonl")
    # Then it is bad_json_line: each line must be an object
    assert error.reason == "bad_json_line"
    assert "line 2" in str(error) and "list" in str(error)


@pytest.mark.parametrize("key", ["a.xlsx", "a.txt", "a", "folder/"])
def test_unknown_format(key: str) -> None:
    # Given a key whose suffix names no format driftline reads
    # When it is read
    error = unreadable(GOOD, key)
    # Then the error lists the formats that are accepted
    assert error.reason == "unknown_format"
    assert ".csv" in str(error) and ".parquet" in str(error)


def test_parquet_text_that_is_not_utf8_is_refused() -> None:
    # Given a Parquet string column holding a byte that is not UTF-8 (a damaged page)
    broken = pa.array([b"p-00\xff"], pa.binary()).view(pa.string())
    # When it is read
    error = unreadable(parquet_of(pa.table({"payment_id": broken})), "a.parquet")
    # Then the reader refuses it rather than pass on text nobody can decode
    assert error.reason == "not_parquet"
    assert "UTF8" in str(error) or "UTF-8" in str(error)


@pytest.mark.parametrize("key", ["a.csv", "a.csv.gz", "a.parquet", "a.jsonl"])
def test_damaged_files_raise_unreadable_file_and_nothing_else(key: str) -> None:
    # Given a good file of each format, damaged in a few hundred seeded, random ways
    good = {
        "a.csv": csv_of(HEADER, ROW_1, ROW_2, 'p-003,2026-01-01T10:00:00Z,1,1,EUR,true,"a\nb"'),
        "a.csv.gz": gzip.compress(GOOD),
        "a.parquet": parquet_of(read_table(GOOD, "a.csv", payments())),
        "a.jsonl": b'{"payment_id": "p-001", "amount": 1}\n{"payment_id": "p-002"}\n',
    }[key]
    randomness = random.Random(key)
    outcomes: set[str] = set()
    for _ in range(300):
        damaged = bytearray(good)
        for _ in range(randomness.randint(1, 3)):
            at = randomness.randrange(len(damaged))
            action = randomness.random()
            if action < 0.4:
                damaged[at] = randomness.randrange(256)
            elif action < 0.7:
                damaged[at:at] = bytes([randomness.choice(b'",;\n\r\x00\xff{}[]')])
            else:
                del damaged[at : at + randomness.randint(1, 20)]
        # When each is read and, if readable, validated
        try:
            table = read_table(bytes(damaged), key, payments())
        except UnreadableFile as error:
            outcomes.add(error.reason)
            continue
        # Then the reader raised nothing but UnreadableFile, and the validator nothing
        validate(table, payments(), datetime(2026, 1, 2, tzinfo=UTC))
        outcomes.add("read")
    assert len(outcomes) > 1
