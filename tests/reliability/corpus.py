"""The hostile-input corpus: bad files made by code, each with the reason it must get.

Every file is built fresh from the scoring sample and a salt, so that a run never
meets an earlier run's content (dataset versions are content hashes) and nothing
binary is committed. ``HostileFile.reason`` is the code a quarantine report's first
reason starts with; ``mentions`` is a detail it must also name (a rule, a column).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
SAMPLE = SAMPLES / "scoring.csv"
TRAINING_SAMPLE = SAMPLES / "transactions.csv"
ROWS = 20
MIB = 1024 * 1024
# What the gzip bomb inflates to: far past the 256 MiB limit, 2 MB on the wire.
BOMB_BYTES = 2048 * MIB


@dataclass(frozen=True)
class HostileFile:
    case: str
    key: str
    body: bytes
    reason: str
    mentions: str = ""


def sample_rows(
    salt: str, count: int = ROWS, sample: Path = SAMPLE
) -> tuple[list[str], list[dict[str, str]]]:
    """``count`` valid rows of ``sample`` with transaction ids made unique by ``salt``."""
    with sample.open(newline="") as file:
        reader = csv.DictReader(file)
        header = list(reader.fieldnames or [])
        rows = [row for _, row in zip(range(count), reader, strict=False)]
    for row in rows:
        row["transaction_id"] = f"t-{salt}{row['transaction_id'][6:]}"
    return header, rows


def to_csv(header: list[str], rows: list[dict[str, str]], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def with_values(rows: list[dict[str, str]], column: str, values: list[str]) -> list[dict[str, str]]:
    """Rows whose first ``len(values)`` rows get those values in ``column``."""
    changed = [dict(row) for row in rows]
    for row, value in zip(changed, values, strict=False):
        row[column] = value
    return changed


def renamed(header: list[str], rows: list[dict[str, str]], old: str, new: str) -> bytes:
    names = [new if name == old else name for name in header]
    return to_csv(names, [{new if k == old else k: v for k, v in r.items()} for r in rows])


def gzip_bomb(salt: str) -> bytes:
    """Many gzip members of zeros (a multi-member file, as ``cat a.gz b.gz`` makes)."""
    member = gzip.compress(b"\0" * (16 * MIB), compresslevel=9)
    head = gzip.compress(f"transaction_id,{salt}\n".encode())
    return head + member * (BOMB_BYTES // (16 * MIB))


def blank_lines(salt: str) -> bytes:
    """Lines of nothing but spaces, as many on each line as the salt's digits say."""
    return "".join(" " * int(digit, 16) + "\n" for digit in salt).encode()


def empty_lines(salt: str) -> bytes:
    """As many empty lines as the salt says (a reader skips them)."""
    return b"\n" * (int(salt, 16) + 1)


def parquet_bytes(header: list[str], rows: list[dict[str, str]]) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    return buffer.getvalue()


def corpus(salt: str, dataset: str = "scoring") -> list[HostileFile]:
    """At least 30 distinct bad files; ``salt`` is 4 hex digits unique to the run.

    No two read files share content: the same content is the same dataset version, so a
    second file with it would be a duplicate rather than a quarantine entry of its own.
    """
    header, rows = sample_rows(salt)
    good = to_csv(header, rows)
    half = ROWS // 2
    tag = f"-{salt}"

    def key(name: str) -> str:
        return f"{dataset}/hostile{tag}/{name}"

    def file(case: str, name: str, body: bytes, reason: str, mentions: str = "") -> HostileFile:
        return HostileFile(case, key(name), body, reason, mentions)

    lines = good.splitlines()
    # The header names "amount" twice; every row gets a value for the second one.
    repeated_column = lines[0] + b",amount\n" + b"".join(line + b",1\n" for line in lines[1:])
    duplicated = [dict(row, transaction_id=rows[0]["transaction_id"]) for row in rows]
    mixed = good.decode().splitlines()
    mixed[3] = mixed[3].replace(",", ";")
    quoted = good.decode().splitlines()
    quoted[2] = '"' + quoted[2]
    json_lines = "\n".join(json.dumps(row) for row in rows)
    truncated_parquet = parquet_bytes(header, rows)
    return [
        # -- not a table at all --------------------------------------------------------
        file("binary_garbage", "garbage.csv", bytes(range(256)) * 40 + salt.encode(), "not_text"),
        file("png_named_csv", "image.csv", b"\x89PNG\r\n\x1a\n" + salt.encode() * 64, "not_text"),
        file("pdf_named_csv", "report.csv", b"%PDF-1.7\n" + salt.encode() * 64, "not_text"),
        file("excel_named_csv", "book.csv", b"PK\x03\x04" + salt.encode() * 64, "not_text"),
        file("latin1_text", "latin1.csv", good + "Zürich;é".encode("latin-1"), "not_utf8"),
        file("utf16_text", "utf16.csv", good.decode().encode("utf-16"), "not_text"),
        file("unknown_suffix", "data.xlsx", good + b"xlsx", "unknown_format"),
        file("no_suffix", "README", good + b"readme", "unknown_format"),
        # -- compression -----------------------------------------------------------
        file("truncated_gzip", "cut.csv.gz", gzip.compress(good)[:-12], "truncated_gzip"),
        file(
            "corrupt_gzip",
            "corrupt.csv.gz",
            gzip.compress(good)[:10] + b"\xff" * 64 + salt.encode(),
            "corrupt_gzip",
        ),  # fmt: skip
        file("gzip_suffix_plain_text", "plain.csv.gz", good, "corrupt_gzip"),
        file("gzip_bomb", "bomb.csv.gz", gzip_bomb(salt), "decompression_limit"),
        file(
            "gzip_of_nothing",
            "nothing.csv.gz",
            gzip.compress(b"", mtime=int(salt, 16)) * 2,
            "empty_file",
        ),  # fmt: skip
        # -- shape -----------------------------------------------------------------
        file("empty_object", "empty.csv", b"", "empty_file"),
        file("blank_lines", "blank.csv", b"\n" + blank_lines(salt), "empty_file"),
        file(
            "header_only",
            "header.csv",
            (",".join(header) + "\n").encode() + empty_lines(salt),
            "header_only",
        ),
        file(
            "one_line_50mb",
            "long-line.csv",
            (",".join(header) + "\n").encode() + salt.encode() * (50 * MIB // 4),
            "line_too_long",
        ),  # fmt: skip
        file("mismatched_quotes", "quotes.csv", "\n".join(quoted).encode() + b"\n", "not_csv"),
        file("mixed_delimiters", "mixed.csv", "\n".join(mixed).encode() + b"\n", "not_csv"),
        file(
            "semicolon_file",
            "semicolons.csv",
            to_csv(header, rows, delimiter=";"),
            "schema.missing_column",
        ),  # fmt: skip
        file(
            "duplicate_columns",
            "dup-columns.csv",
            repeated_column,
            "duplicate_columns",
        ),  # fmt: skip
        file(
            "control_char_header",
            "bell.csv",
            renamed(header, rows, "amount", "amo\x07unt"),
            "bad_column_name",
            "U+0007",
        ),  # fmt: skip
        file(
            "zero_width_header",
            "zwsp.csv",
            renamed(header, rows, "amount", "amount\u200b"),
            "bad_column_name",
            "U+200B",
        ),  # fmt: skip
        file(
            "unicode_header",
            "accents.csv",
            renamed(header, rows, "amount", "ámount"),
            "schema.missing_column",
            "amount",
        ),  # fmt: skip
        # -- values ----------------------------------------------------------------
        file(
            "numeric_overflow",
            "overflow.csv",
            to_csv(header, with_values(rows, "customer_age", ["9" * 30] * half)),
            "table.max_bad_row_share",
            "customer_age.type",
        ),  # fmt: skip
        file(
            "float_overflow",
            "huge-float.csv",
            to_csv(header, with_values(rows, "amount", ["1e400"] * half)),
            "table.max_bad_row_share",
            "amount.finite",
        ),  # fmt: skip
        file(
            "nan_and_inf",
            "nan.csv",
            to_csv(header, with_values(rows, "amount", ["NaN", "inf", "-Infinity"] * 4)),
            "table.max_bad_row_share",
            "amount.finite",
        ),  # fmt: skip
        file(
            "dates_out_of_range",
            "dates.csv",
            to_csv(
                header,
                with_values(
                    rows,
                    "event_time",
                    ["2026-02-30T00:00:00Z", "0000-01-01T00:00:00Z", "2026-13-01T00:00:00Z"] * 4,
                ),
            ),
            "table.max_bad_row_share",
            "event_time.type",
        ),  # fmt: skip
        file(
            "text_in_numeric_column",
            "retyped.csv",
            to_csv(header, with_values(rows, "amount", ["lots"] * ROWS)),
            "schema.retyped_column",
            "amount",
        ),  # fmt: skip
        file(
            "missing_column",
            "missing.csv",
            to_csv(
                [n for n in header if n != "currency"],
                [{k: v for k, v in r.items() if k != "currency"} for r in rows],
            ),
            "schema.missing_column",
            "currency",
        ),  # fmt: skip
        file(
            "duplicate_ids",
            "dup-ids.csv",
            to_csv(header, duplicated),
            "table.max_bad_row_share",
            "table.unique_key",
        ),  # fmt: skip
        file(
            "values_not_allowed",
            "currency.csv",
            to_csv(header, with_values(rows, "currency", ["XXX"] * half)),
            "table.max_bad_row_share",
            "currency.allowed_values",
        ),  # fmt: skip
        # -- other formats ---------------------------------------------------------
        file(
            "bad_json_line",
            "broken.jsonl",
            (json_lines + '\n{"transaction_id": \n').encode(),
            "bad_json_line",
        ),  # fmt: skip
        file(
            "json_array_line",
            "array.jsonl",
            f'{json.dumps(rows[0])}\n[1, 2, "{salt}"]\n'.encode(),
            "bad_json_line",
        ),  # fmt: skip
        file(
            "json_repeated_key",
            "repeated.jsonl",
            json.dumps(rows[0]).replace("{", '{"amount": "1", ', 1).encode() + b"\n",
            "duplicate_columns",
        ),  # fmt: skip
        file("text_named_parquet", "table.parquet", good + b"parquet", "not_parquet"),
        file(
            "truncated_parquet",
            "cut.parquet",
            truncated_parquet[: len(truncated_parquet) // 2],
            "not_parquet",
        ),  # fmt: skip
        # -- keys ------------------------------------------------------------------
        HostileFile(
            "dot_dot_key", f"{dataset}/../hostile{tag}/escape.csv", good, "unsafe_key", "'..'"
        ),
        HostileFile("dot_dot_first", f"../hostile{tag}.csv", good, "unsafe_key"),
        HostileFile(
            "spaces_in_key",
            f"{dataset}/hostile{tag}/my bad file.csv",
            good + "\xff".encode("latin-1"),
            "not_utf8",
        ),  # fmt: skip
        HostileFile(
            "unicode_key",
            f"{dataset}/hostile{tag}/données-ü-😀.csv",
            (",".join(header) + "\n\n").encode() + empty_lines(salt),
            "header_only",
        ),  # fmt: skip
        HostileFile(
            "plus_and_percent_key",
            f"{dataset}/hostile{tag}/a+b%2Fc&d=e.csv",
            bytes(range(256)) * 3 + salt.encode(),
            "not_text",
        ),  # fmt: skip
        HostileFile("undeclared_dataset", f"customers{tag}/people.csv", good, "undeclared_dataset"),
        HostileFile("no_dataset", f"loose{tag}.csv", good, "no_dataset"),
        HostileFile("zero_byte_undeclared", f"nothing{tag}/empty.csv", b"", "undeclared_dataset"),
    ]
