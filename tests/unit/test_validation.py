"""The validator: rules derived from the contract, row policies, table rules, the report."""

from __future__ import annotations

import json
import math
import random
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Annotated, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from driftline_contracts.transactions import DATASETS
from driftline_runtime.contracts import DatasetSpec, RowPolicy, TableRules
from driftline_runtime.readers import read_table
from driftline_runtime.validation import (
    RuleReport,
    ValidationResult,
    compile_contract,
    fixed_width_bytes,
    fixed_width_classes,
    validate,
)
from pydantic import BaseModel, Field

NOW = datetime(2026, 1, 2, tzinfo=UTC)


class Payment(BaseModel):
    payment_id: str = Field(pattern=r"^p-\d{3}$")
    paid_at: datetime
    amount: float = Field(gt=0, le=1000)
    quantity: int = Field(ge=1, lt=100)
    currency: Literal["EUR", "USD"]
    express: bool
    reference: str = Field(min_length=2, max_length=6)
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
    score: float | None = Field(default=None, ge=0, le=1)


HEADER = "payment_id,paid_at,amount,quantity,currency,express,reference,email,score"
GOOD_ROWS = [
    "p-001,2026-01-01T10:00:00Z,12.5,2,EUR,true,ab,ann@example.com,0.5",
    "p-002,2026-01-01T11:00:00+01:00,3,1,USD,false,abcdef,,",
    "p-003,2026-01-01T12:00:00Z,999.99,99,EUR,TRUE,xyz,bo@example.org,1",
    "p-004,2026-01-01T13:00:00Z,0.01,50,USD,0,ref,,0",
]


def spec_of(
    row_policy: RowPolicy = "reject_file",
    *,
    contract: type[BaseModel] = Payment,
    rules: TableRules | None = None,
    pii: tuple[str, ...] = ("email",),
) -> DatasetSpec:
    return DatasetSpec(
        name="payments",
        kind="inference",
        model_dataset="payment-history",
        contract=contract,
        contract_version="1.2.3",
        id_column=next(iter(contract.model_fields)),
        pii_columns=pii,
        row_policy=row_policy,
        rules=rules or TableRules(unique_key=("payment_id",)),
    )


def csv_of(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def check(
    *rows: str, spec: DatasetSpec | None = None, header: str = HEADER, key: str = "a.csv"
) -> ValidationResult:
    """Read the rows as a CSV file would arrive, then validate them."""
    spec = spec or spec_of()
    return validate(read_table(csv_of(*rows, header=header), key, spec), spec, NOW)


def rule(result: ValidationResult, rule_id: str) -> RuleReport:
    matches = [report for report in result.report.rules if report.rule == rule_id]
    assert len(matches) == 1, f"{rule_id} reported {len(matches)} times"
    return matches[0]


def failed_rules(result: ValidationResult) -> dict[str, int]:
    return {report.rule: report.failed for report in result.report.rules if report.failed}


def examples(result: ValidationResult, rule_id: str) -> list[tuple[int, str]]:
    return [(example.row, example.value) for example in rule(result, rule_id).examples]


def with_field(row: str, index: int, value: str) -> str:
    fields = row.split(",")
    fields[index] = value
    return ",".join(fields)


COLUMN = {name: index for index, name in enumerate(HEADER.split(","))}


def bad(column: str, value: str, row: int = 1) -> list[str]:
    """The good rows with ``column`` set to ``value`` on 1-based data row ``row``."""
    rows = list(GOOD_ROWS)
    rows[row - 1] = with_field(rows[row - 1], COLUMN[column], value)
    return rows


# --- the contract, compiled ------------------------------------------------------------


def test_checks_are_derived_from_the_contract() -> None:
    # Given the Payment contract
    # When it is compiled
    columns = {column.name: column for column in compile_contract(Payment)}
    # Then each field's type, nullability, enum and constraints become checks
    assert [column.name for column in columns.values()] == HEADER.split(",")
    assert columns["paid_at"].arrow_type == pa.timestamp("us", tz="UTC")
    assert columns["quantity"].arrow_type == pa.int64()
    assert columns["email"].nullable and not columns["amount"].nullable
    assert columns["currency"].allowed == ("EUR", "USD")
    assert [c.rule for c in columns["amount"].constraints] == ["amount.gt", "amount.le"]
    assert [(c.check, c.value) for c in columns["reference"].constraints] == [
        ("min_length", 2),
        ("max_length", 6),
    ]
    assert columns["payment_id"].constraints[0].value == r"^p-\d{3}$"


def test_enums_and_constraints_nested_in_annotated_are_understood() -> None:
    # Given an Enum column and a nullable column whose bound sits inside Annotated
    class Size(Enum):
        SMALL = "s"
        LARGE = "l"

    class Box(BaseModel):
        size: Size
        weight: Annotated[int, Field(ge=1)] | None = None

    # When the contract is compiled
    size, weight = compile_contract(Box)
    # Then the enum's values are allowed values and the nested bound is a check
    assert size.kind == "str" and size.allowed == ("s", "l")
    assert weight.nullable and [c.rule for c in weight.constraints] == ["weight.ge"]


def test_a_contract_the_validator_cannot_check_fully_is_refused() -> None:
    # Given constraints and types with no vectorised check
    class Multiple(BaseModel):
        count: int = Field(multiple_of=5)

    class Nested(BaseModel):
        tags: list[str]

    # When they are compiled
    # Then compiling fails loudly rather than skip a rule
    with pytest.raises(TypeError, match="multiple_of"):
        compile_contract(Multiple)
    with pytest.raises(TypeError, match="no column type"):
        compile_contract(Nested)


# --- an accepted file ------------------------------------------------------------------


def test_a_clean_file_is_accepted_with_typed_clean_rows() -> None:
    # Given rows that meet every rule
    # When they are validated
    result = check(*GOOD_ROWS)
    report = result.report
    # Then the file is accepted, every rule is reported with no failure
    assert report.outcome == "accepted"
    assert (report.rows, report.valid_rows, report.bad_rows) == (4, 4, 0)
    assert report.reasons == [] and failed_rules(result) == {}
    assert {"payment_id.pattern", "currency.allowed_values", "table.unique_key"} <= {
        r.rule for r in report.rules
    }
    # And the clean table has the contract's types, nullability and values
    assert result.clean is not None
    schema = result.clean.schema
    assert schema.field("amount").type == pa.float64() and not schema.field("amount").nullable
    assert schema.field("email").nullable
    assert result.clean.column("paid_at").to_pylist()[1] == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert result.clean.column("express").to_pylist() == [True, False, True, False]


def test_the_report_is_json_and_carries_the_dataset_and_contract_version() -> None:
    # Given a validated file
    result = check(*bad("amount", "-1"))
    # When the report is serialised
    data = json.loads(result.report.model_dump_json())
    # Then it names the dataset and contract version, and round-trips
    assert data["dataset"] == "payments" and data["contract_version"] == "1.2.3"
    assert data["outcome"] == "rejected"
    assert type(result.report).model_validate(data) == result.report


def test_the_real_transactions_contract_accepts_the_benchmarks_data() -> None:
    # Given rows generated for the benchmark from the transactions contract's enums
    from benchmarks.validator import transactions

    spec = next(spec for spec in DATASETS if spec.name == "transactions")
    table = transactions(2_000)
    # When they are validated against the real contract
    result = validate(table, spec, NOW)
    # Then every rule holds: the benchmark measures the clean path it claims to
    assert result.report.outcome == "accepted", result.report.reasons
    assert result.report.bad_rows == 0


# --- field rules, one by one -----------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "rule_id"),
    [
        ("payment_id", "x-001", "payment_id.pattern"),
        ("payment_id", "p-0011", "payment_id.pattern"),
        ("paid_at", "yesterday", "paid_at.type"),
        ("paid_at", "2026-02-30T00:00:00Z", "paid_at.type"),
        ("paid_at", "2026-13-01", "paid_at.type"),
        ("amount", "0", "amount.gt"),
        ("amount", "1000.5", "amount.le"),
        ("amount", "ten", "amount.type"),
        ("amount", "NaN", "amount.finite"),
        ("quantity", "0", "quantity.ge"),
        ("quantity", "100", "quantity.lt"),
        ("quantity", "3.5", "quantity.type"),
        ("quantity", "1e3", "quantity.type"),
        ("quantity", "NaN", "quantity.type"),
        ("quantity", "inf", "quantity.type"),
        ("quantity", "99999999999999999999", "quantity.type"),
        ("currency", "GBP", "currency.allowed_values"),
        ("currency", "eur", "currency.allowed_values"),
        ("express", "yes", "express.type"),
        ("reference", "a", "reference.min_length"),
        ("reference", "abcdefg", "reference.max_length"),
        ("email", "not-an-email", "email.pattern"),
        ("score", "1.5", "score.le"),
        ("score", "-0.1", "score.ge"),
        ("payment_id", "", "payment_id.not_null"),
        ("paid_at", "", "paid_at.not_null"),
        ("express", "", "express.not_null"),
    ],
)
def test_each_field_rule_fails_only_the_row_that_breaks_it(
    column: str, value: str, rule_id: str
) -> None:
    # Given good rows except one value on the third data row
    # When they are validated under the reject_file policy
    result = check(*bad(column, value, row=3))
    # Then exactly that rule fails, on row 3, and the file is rejected for it
    assert failed_rules(result) == {rule_id: 1}
    assert rule(result, rule_id).examples[0].row == 3
    assert result.report.outcome == "rejected" and result.clean is None
    assert result.report.bad_rows == 1
    (reason,) = result.report.reasons
    assert reason.code == rule_id
    assert reason.details == {"rows": 1, "first_row": 3}
    assert reason.message.startswith("1 row fails")


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("quantity", "3.0", 3),
        ("quantity", " 7 ", 7),
        ("quantity", "+8", 8),
        ("express", "False", False),
        ("express", "tRuE", True),
        ("express", "1", True),
        ("paid_at", "2026-01-01T10:00:00", datetime(2026, 1, 1, 10, tzinfo=UTC)),
        ("paid_at", "2026-01-01 10:00", datetime(2026, 1, 1, 10, tzinfo=UTC)),
        ("paid_at", "2026-01-01", datetime(2026, 1, 1, tzinfo=UTC)),
        ("paid_at", "2026-01-01T10:00:00-02:30", datetime(2026, 1, 1, 12, 30, tzinfo=UTC)),
        ("paid_at", "2026-01-01T10:00:00.1234567Z", datetime(2026, 1, 1, 10, 0, 0, 123456, UTC)),
        ("amount", "1e2", 100.0),
        ("amount", ".5", 0.5),
    ],
)
def test_lenient_spellings_parse_to_the_contract_type(
    column: str, value: str, expected: Any
) -> None:
    # Given a value spelled differently from the typed fast path's expectations
    # When the file is validated (it takes the text route for that row)
    result = check(*bad(column, value, row=2))
    # Then the value is accepted and stored in its contract type
    assert result.report.outcome == "accepted", result.report.reasons
    assert result.clean is not None
    assert result.clean.column(column)[1].as_py() == expected


def test_mixed_zoned_and_naive_datetimes_are_all_utc() -> None:
    # Given one datetime with an offset, one with Z and one naive (taken as UTC)
    rows = bad("paid_at", "2026-01-01T09:00:00", row=4)
    # When validated
    result = check(*rows)
    # Then all are stored as UTC instants
    assert result.clean is not None
    assert result.clean.schema.field("paid_at").type == pa.timestamp("us", tz="UTC")
    assert result.clean.column("paid_at").to_pylist() == [
        datetime(2026, 1, 1, hour, tzinfo=UTC) for hour in (10, 10, 12, 9)
    ]


def test_an_empty_value_in_a_nullable_column_is_fine() -> None:
    # Given rows with no email and no score (both nullable)
    # When validated
    result = check(*GOOD_ROWS)
    # Then there is no failure, and the clean values are null
    assert result.clean is not None
    assert result.clean.column("email").to_pylist()[1] is None
    assert result.clean.column("score").to_pylist()[1] is None


def test_hexadecimal_integers_fail_on_the_text_route() -> None:
    # Given quantities as JSON text, one in hexadecimal (Arrow's own cast reads it as 16)
    spec = spec_of()
    table = pa.table({"quantity": ["12", "0x10"]})
    # When the column is validated
    result = validate(table, spec, NOW)
    # Then the hexadecimal one fails its type, as pydantic would fail it
    assert examples(result, "quantity.type") == [(2, "0x10")]


def test_json_lines_with_one_bad_value_fail_that_row_only() -> None:
    # Given JSON Lines where the second record's quantity is text that is no number
    records = [
        {"payment_id": "p-001", "paid_at": "2026-01-01T10:00:00Z", "amount": 1, "quantity": 2},
        {"payment_id": "p-002", "paid_at": "2026-01-01T11:00:00Z", "amount": 2.5, "quantity": "x"},
    ]
    common = {"currency": "EUR", "express": True, "reference": "ab", "email": None, "score": 1}
    data = "".join(json.dumps(record | common) + "\n" for record in records).encode()
    spec = spec_of()
    # When the file is read and validated
    result = validate(read_table(data, "a.jsonl", spec), spec, NOW)
    # Then only row 2 fails, on its quantity
    assert failed_rules(result) == {"quantity.type": 1}
    assert examples(result, "quantity.type") == [(2, "x")]


def test_a_type_failure_is_not_also_a_missing_value() -> None:
    # Given an unparseable quantity
    # When validated
    result = check(*bad("quantity", "many"))
    # Then it counts once, as a type failure, not as not_null too
    assert failed_rules(result) == {"quantity.type": 1}


def test_fields_of_typed_sources_are_converted_or_failed_value_by_value() -> None:
    # Given a Parquet-like table: int32 quantities, floats in an int column, naive ns times
    spec = spec_of()
    table = pa.table(
        {
            "payment_id": ["p-001", "p-002", "p-003"],
            "paid_at": pa.array([datetime(2026, 1, 1, 10)] * 3, pa.timestamp("ns")),
            "amount": pa.array([1, 2, 3], pa.int32()),
            "quantity": pa.array([2.0, 3.5, 4.0]),
            "currency": pa.array(["EUR", "USD", "EUR"]).dictionary_encode(),
            "express": [True, False, True],
            "reference": ["ab", "cd", "ef"],
            "email": pa.nulls(3, pa.string()),
            "score": pa.array([0.5, None, 1], pa.float32()),
        }
    )
    # When validated
    result = validate(table, spec, NOW)
    # Then lossless conversions pass, and only the non-integral quantity fails, as 3.5
    assert failed_rules(result) == {"quantity.type": 1}
    assert examples(result, "quantity.type") == [(2, "3.5")]
    # And a naive timestamp is taken as UTC
    typed = validate(table.filter(pa.array([True, False, True])), spec, NOW).clean
    assert typed is not None
    assert typed.column("paid_at")[0].as_py() == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert typed.schema.field("quantity").type == pa.int64()


# --- examples: where and what ----------------------------------------------------------


def test_examples_are_at_most_five_with_1_based_data_rows() -> None:
    # Given seven rows with a bad currency, on data rows 2 to 8
    rows = [GOOD_ROWS[0]] + [
        with_field(f"p-{index:03d},2026-01-01T10:00:00Z,1,1,EUR,true,ab,,", 4, "JPY")
        for index in range(2, 9)
    ]
    # When validated
    result = check(*rows)
    # Then the count is seven, and the five first rows are shown, numbered as in the file
    assert rule(result, "currency.allowed_values").failed == 7
    assert examples(result, "currency.allowed_values") == [(row, "JPY") for row in (2, 3, 4, 5, 6)]


def test_row_numbers_count_records_not_lines() -> None:
    # Given a first row whose quoted reference spans two lines
    first = with_field(GOOD_ROWS[0], COLUMN["reference"], '"a\nb"')
    # When the second record holds a bad amount
    result = check(first, *bad("amount", "-3", row=2)[1:])
    # Then the example says row 2, the record's number, not line 3
    assert examples(result, "amount.gt") == [(2, "-3.0")]


def test_personal_data_is_masked_in_examples() -> None:
    # Given a bad email (a PII column) and a bad reference (not PII)
    rows = bad("email", "ann.smith@example", row=2)
    rows[2] = with_field(rows[2], COLUMN["reference"], "toolong")
    # When validated
    result = check(*rows)
    # Then the email shows only its last two characters; the reference shows in full
    assert examples(result, "email.pattern") == [(2, "***le")]
    assert examples(result, "reference.max_length") == [(3, "toolong")]
    # And the value is nowhere in the report
    assert "ann.smith" not in result.report.model_dump_json()


def test_short_personal_values_are_masked_entirely() -> None:
    # Given a PII key column whose bad values are short
    spec = spec_of(pii=("payment_id", "email"))
    # When validated
    result = check(*bad("payment_id", "p1"), spec=spec)
    # Then nothing of the value shows
    assert examples(result, "payment_id.pattern") == [(1, "***")]


# --- the unique key --------------------------------------------------------------------


def test_repeats_of_the_key_beyond_the_first_are_bad_rows() -> None:
    # Given p-001 on rows 1, 3 and 4
    rows = list(GOOD_ROWS)
    rows[2] = with_field(rows[2], 0, "p-001")
    rows[3] = with_field(rows[3], 0, "p-001")
    # When validated
    result = check(*rows)
    # Then rows 3 and 4 fail table.unique_key; row 1, the first, does not
    assert rule(result, "table.unique_key").failed == 2
    assert examples(result, "table.unique_key") == [(3, "p-001"), (4, "p-001")]
    assert result.report.bad_rows == 2


def test_a_composite_key_is_unique_as_a_whole_and_masked_per_part() -> None:
    # Given a key of (email, currency): the same email in two currencies is fine
    rules = TableRules(unique_key=("email", "currency"))
    rows = [
        with_field(GOOD_ROWS[0], COLUMN["email"], "ann@example.com"),
        with_field(GOOD_ROWS[1], COLUMN["email"], "ann@example.com"),
        with_field(GOOD_ROWS[2], COLUMN["email"], "ann@example.com"),
    ]
    # When validated (rows 1 and 3 are both EUR)
    result = check(*rows, spec=spec_of(rules=rules))
    # Then only row 3 repeats a key, shown with the email masked
    assert examples(result, "table.unique_key") == [(3, "***om|EUR")]


def test_rows_with_a_null_key_part_are_not_repeats() -> None:
    # Given a key on the nullable email, empty on two rows
    # When validated
    result = check(*GOOD_ROWS, spec=spec_of(rules=TableRules(unique_key=("email",))))
    # Then missing emails do not collide
    assert rule(result, "table.unique_key").failed == 0


@pytest.mark.parametrize("width", [3, 14, 40])
def test_the_unique_key_fast_path_agrees_with_exact_grouping(width: int) -> None:
    # Given fixed-width keys (the hashed fast path) with repeats planted at random
    randomness = random.Random(width)
    keys = [
        "".join(randomness.choice("ab") for _ in range(width)) if width == 3 else f"{i:0{width}d}"
        for i in range(3_000)
    ]
    for _ in range(5):
        keys[randomness.randrange(3_000)] = keys[randomness.randrange(3_000)]

    class Keyed(BaseModel):
        key: str

    spec = spec_of(contract=Keyed, rules=TableRules(unique_key=("key",)), pii=())
    # When validated
    result = validate(pa.table({"key": keys}), spec, NOW)
    # Then the repeats found are exactly those after each key's first row
    seen: set[str] = set()
    expected = 0
    for key in keys:
        expected += key in seen
        seen.add(key)
    assert rule(result, "table.unique_key").failed == expected


def test_an_integer_key_read_from_parquet_is_checked_without_copying_errors(
    tmp_path: Any,
) -> None:
    # Given an integer key column whose numpy view is read-only (Parquet read zero-copy),
    # which in-place sorting refused with "ValueError: sort array is read-only"
    import pyarrow.parquet as pq

    class Keyed(BaseModel):
        key: int

    pq.write_table(pa.table({"key": pa.array([5, 3, 9, 3, 1], pa.int64())}), tmp_path / "k.pq")
    table = pq.read_table(tmp_path / "k.pq")
    assert not table["key"].chunk(0).to_numpy().flags.writeable
    spec = spec_of(contract=Keyed, rules=TableRules(unique_key=("key",)), pii=())
    # When validated
    result = validate(table, spec, NOW)
    # Then the repeat on row 4 is found, and the unique file's keys pass
    assert examples(result, "table.unique_key") == [(4, "3")]
    clean = validate(table.slice(0, 3), spec, NOW)
    assert rule(clean, "table.unique_key").failed == 0


@pytest.mark.parametrize("text", [False, True])
def test_the_unique_key_spills_past_its_budget_and_finds_the_same_repeats(
    tmp_path: Any, text: bool
) -> None:
    # Given 30,000 keys (integers, or variable-width text) with repeats planted far apart,
    # fed in batches of 1,000 rows to a validation whose key budget is a few KiB
    from driftline_runtime.validation import ValidationLimits

    randomness = random.Random(7)
    numbers = list(range(30_000))
    for _ in range(40):
        numbers[randomness.randrange(30_000)] = numbers[randomness.randrange(30_000)]
    keys: list[Any] = [f"k{n * 7919}" if text else n for n in numbers]

    class Keyed(BaseModel):
        key: str if text else int  # type: ignore[valid-type]

    spec = spec_of(contract=Keyed, rules=TableRules(unique_key=("key",)), pii=())
    table = pa.table({"key": keys})
    small = ValidationLimits(memory_bytes=64 * 1024, workdir=tmp_path)
    # When validated with spilling and entirely in memory
    spilled = validate(table, spec, NOW, batch_rows=1_000, limits=small)
    in_memory = validate(table, spec, NOW)
    # Then both find exactly the rows that repeat an earlier key, with the same examples
    seen: set[Any] = set()
    expected = []
    for row, key in enumerate(keys, start=1):
        if key in seen:
            expected.append(row)
        seen.add(key)
    assert rule(spilled, "table.unique_key").failed == len(expected)
    assert examples(spilled, "table.unique_key") == examples(in_memory, "table.unique_key")
    assert [row for row, _ in examples(spilled, "table.unique_key")] == expected[:5]
    assert spilled.report.valid_rows == in_memory.report.valid_rows == 30_000 - len(expected)
    # And nothing is left in the working folder
    assert list(tmp_path.iterdir()) == []


def test_spilled_key_partitions_come_back_one_at_a_time(tmp_path: Any) -> None:
    # Given a key index over its budget, spilled to partitions on disk
    from driftline_runtime.validation.keys import KeyIndex

    index = KeyIndex(("key",), budget=4 * 1024, workdir=tmp_path)
    for start in range(0, 20_000, 1_000):
        index.add([pa.chunked_array([pa.array(range(start, start + 1_000))])], start)
    assert index._spill is not None
    # When the partitions are read back
    parts = index._spill.parts(index.budget)
    first = next(parts)
    # Then they come as a generator, each a fraction of the keys, not all at once
    assert 0 < first.num_rows < 20_000
    assert first.num_rows + sum(part.num_rows for part in parts) == 20_000


class Reading(BaseModel):
    reading_id: int = Field(ge=0)
    meter: str
    read_at: datetime
    site: str | None = None
    kwh: float = Field(ge=0)


KEYS: dict[str, tuple[str, ...]] = {
    "integer": ("reading_id",),
    "string": ("meter",),
    "datetime": ("read_at",),
    "composite": ("meter", "read_at"),
    "nullable": ("site",),
}


def readings_file(extension: str) -> bytes:
    """Six readings whose every key kind repeats once, on row 6 (the last), as a file."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    table = pa.table(
        {
            "reading_id": pa.array([1, 2, 3, 4, 5, 1], pa.int64()),
            "meter": ["a", "b", "c", "d", "e", "a"],
            "read_at": [start + timedelta(hours=h) for h in (0, 1, 2, 3, 4, 0)],
            "site": ["s1", None, "s3", None, "s5", "s1"],
            "kwh": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    if extension == "parquet":
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(table, sink)
        return bytes(sink.getvalue().to_pybytes())
    if extension == "jsonl":
        rows = table.to_pylist()
        return "".join(
            json.dumps({**row, "read_at": row["read_at"].isoformat()}) + "\n" for row in rows
        ).encode()
    import pyarrow.csv as pacsv

    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink)
    return bytes(sink.getvalue().to_pybytes())


@pytest.mark.parametrize("extension", ["csv", "parquet", "jsonl"])
@pytest.mark.parametrize("kind", list(KEYS))
def test_every_kind_of_unique_key_validates_in_every_format(kind: str, extension: str) -> None:
    # Given a key of this kind (an int key reads into a read-only Arrow buffer from
    # Parquet), repeated once on the last row, in a file of this format
    spec = DatasetSpec(
        name="readings",
        kind="inference",
        model_dataset="reading-history",
        contract=Reading,
        contract_version="1.0.0",
        id_column="reading_id",
        row_policy="drop_bad_rows",
        rules=TableRules(unique_key=KEYS[kind], max_bad_row_share=0.5),
    )
    table = read_table(readings_file(extension), f"readings/a.{extension}", spec)
    # When validated
    result = validate(table, spec, NOW)
    # Then the repeat is the one bad row (null parts of a nullable key never collide)
    assert rule(result, "table.unique_key").failed == 1
    assert [row for row, _ in examples(result, "table.unique_key")] == [6]
    assert result.report.outcome == "accepted" and result.report.valid_rows == 5


def test_an_integer_key_in_a_read_only_buffer_validates() -> None:
    # Given distinct integers whose numpy view is read-only (as Arrow hands it out)
    class Keyed(BaseModel):
        key: int

    keys = pa.array(range(1_000, 0, -1), pa.int64())
    assert not keys.to_numpy().flags.writeable
    spec = spec_of(contract=Keyed, rules=TableRules(unique_key=("key",)), pii=())
    # When validated
    result = validate(pa.table({"key": keys}), spec, NOW)
    # Then it passes the unique key rule instead of failing to sort in place
    assert rule(result, "table.unique_key").failed == 0
    assert result.report.outcome == "accepted"


# --- row policies ----------------------------------------------------------------------


def test_reject_file_rejects_on_a_single_bad_row_with_one_reason_per_rule() -> None:
    # Given two rules broken on different rows
    rows = bad("amount", "-1", row=1)
    rows[1] = with_field(rows[1], COLUMN["currency"], "GBP")
    # When validated under reject_file
    result = check(*rows)
    # Then the file is rejected with a reason for each rule, and no clean rows
    assert result.report.outcome == "rejected" and result.clean is None
    assert [reason.code for reason in result.report.reasons] == [
        "amount.gt",
        "currency.allowed_values",
    ]
    assert (result.report.valid_rows, result.report.bad_rows) == (2, 2)


def test_drop_bad_rows_drops_them_while_their_share_is_within_the_limit() -> None:
    # Given one bad row in four, and a limit of 25%
    spec = spec_of("drop_bad_rows", rules=TableRules(max_bad_row_share=0.25))
    # When validated
    result = check(*bad("quantity", "0", row=2), spec=spec)
    # Then the file is accepted without that row
    assert result.report.outcome == "accepted"
    assert (result.report.valid_rows, result.report.bad_rows) == (3, 1)
    assert result.clean is not None
    assert result.clean.column("payment_id").to_pylist() == ["p-001", "p-003", "p-004"]
    assert rule(result, "table.max_bad_row_share").failed == 0


def test_drop_bad_rows_rejects_above_the_limit_and_says_share_and_limit() -> None:
    # Given two bad rows in four, and a limit of 25%
    spec = spec_of("drop_bad_rows", rules=TableRules(max_bad_row_share=0.25))
    rows = bad("quantity", "0", row=2)
    rows[3] = with_field(rows[3], COLUMN["amount"], "-2")
    # When validated
    result = check(*rows, spec=spec)
    # Then the file is rejected, the reason giving the share and the limit
    assert result.report.outcome == "rejected" and result.clean is None
    assert rule(result, "table.max_bad_row_share").failed == 1
    (reason,) = result.report.reasons
    assert reason.code == "table.max_bad_row_share"
    assert reason.details == {
        "bad_rows": 2,
        "rows": 4,
        "share": 0.5,
        "limit": 0.25,
        "rules": ["amount.gt", "quantity.ge"],
    }
    # And its text says the same to a person
    assert reason.text.startswith("table.max_bad_row_share: 2 of 4 rows (50.00%)")
    assert "limit of 25.00%" in reason.text and "amount.gt, quantity.ge" in reason.text


# --- table rules -----------------------------------------------------------------------


def test_min_rows_counts_valid_rows() -> None:
    # Given four rows, one bad, and a minimum of four valid rows
    rules = TableRules(min_rows=4, max_bad_row_share=0.5)
    # When validated dropping bad rows
    result = check(*bad("amount", "0"), spec=spec_of("drop_bad_rows", rules=rules))
    # Then three valid rows are too few
    assert rule(result, "table.min_rows").failed == 1
    (reason,) = result.report.reasons
    assert reason.code == "table.min_rows"
    assert reason.details == {"valid_rows": 3, "min_rows": 4}
    assert reason.text == "table.min_rows: 3 valid rows, fewer than the 4 required"


def test_a_stale_file_is_rejected_by_freshness() -> None:
    # Given rows whose newest paid_at is 2026-01-01T12:00Z and a maximum age of 6 hours
    rules = TableRules(freshness_column="paid_at", max_age=timedelta(hours=6))
    # When validated at 2026-01-02T00:00Z
    result = check(*GOOD_ROWS, spec=spec_of(rules=rules))
    # Then the file is too old
    assert rule(result, "table.freshness").failed == 1
    assert result.report.outcome == "rejected"
    (reason,) = result.report.reasons
    assert reason.code == "table.freshness"
    assert reason.details["newest"] == "2026-01-01T13:00:00+00:00"
    assert "2026-01-01T13:00:00+00:00" in reason.message


def test_a_fresh_file_passes_freshness_judged_on_valid_rows_only() -> None:
    # Given a bad row far in the future (dropped) and good rows within a day
    rules = TableRules(freshness_column="paid_at", max_age=timedelta(days=1), max_bad_row_share=0.5)
    rows = bad("paid_at", "2030-01-01T00:00:00Z", row=1)
    rows[0] = with_field(rows[0], COLUMN["amount"], "-1")
    # When validated at a naive "now" (taken as UTC)
    spec = spec_of("drop_bad_rows", rules=rules)
    result = validate(read_table(csv_of(*rows), "a.csv", spec), spec, NOW.replace(tzinfo=None))
    # Then the file is fresh
    assert rule(result, "table.freshness").failed == 0
    assert result.report.outcome == "accepted"


# --- schema changes --------------------------------------------------------------------


def test_an_added_column_is_accepted_recorded_and_kept() -> None:
    # Given an extra nullable column the contract does not know
    header = HEADER + ",channel"
    rows = [row + (",web" if index % 2 else ",") for index, row in enumerate(GOOD_ROWS)]
    # When validated
    result = check(*rows, header=header)
    # Then the file is accepted, the column recorded and kept after the contract's
    assert result.report.outcome == "accepted"
    changes = [change.model_dump() for change in result.report.schema_changes]
    assert changes == [
        {"change": "added", "column": "channel", "expected": None, "found": "string"}
    ]
    assert result.clean is not None
    assert result.clean.column_names == [*HEADER.split(","), "channel"]
    assert result.clean.column("channel").to_pylist() == [None, "web", None, "web"]


def test_a_missing_column_rejects_the_file() -> None:
    # Given a file without the (nullable) score column
    header = HEADER.removesuffix(",score")
    rows = [row.rsplit(",", 1)[0] for row in GOOD_ROWS]
    # When validated
    result = check(*rows, header=header)
    # Then it is rejected as a missing column
    assert result.report.outcome == "rejected"
    (reason,) = result.report.reasons
    assert (reason.code, reason.details["column"]) == ("schema.missing_column", "score")
    assert reason.text == "schema.missing_column: column 'score' is missing"
    assert rule(result, "schema.missing_column").column == "score"
    assert result.report.schema_changes[0].change == "missing"


def test_a_retyped_column_rejects_the_file_naming_expected_and_found() -> None:
    # Given paid_at holding epoch seconds: no value parses as a datetime
    rows = [
        with_field(row, COLUMN["paid_at"], str(1767261600 + i)) for i, row in enumerate(GOOD_ROWS)
    ]
    # When validated, even dropping bad rows
    spec = spec_of("drop_bad_rows", rules=TableRules(max_bad_row_share=1.0))
    result = check(*rows, spec=spec)
    # Then the file is rejected for a retyped column, not for four bad rows
    assert result.report.outcome == "rejected"
    (reason,) = result.report.reasons
    assert reason.code == "schema.retyped_column"
    assert reason.details["column"] == "paid_at"
    assert reason.details["found"] == "text of int64"
    assert reason.message.startswith("column 'paid_at' should hold datetime")
    assert rule(result, "schema.retyped_column").failed == 4
    assert result.report.bad_rows == 0
    change = result.report.schema_changes[0]
    assert (change.change, change.column, change.found) == ("retyped", "paid_at", "text of int64")


def test_a_column_of_another_arrow_type_is_retyped() -> None:
    # Given a Parquet-like table whose payment_id holds integers where text is expected
    table = pa.table({"payment_id": pa.array([1, 2])})
    # When validated
    result = validate(table, spec_of(rules=TableRules()), NOW)
    # Then that column is retyped, found int64 (pydantic would not take a number as str)
    found = {c.column: c.found for c in result.report.schema_changes if c.change == "retyped"}
    assert found == {"payment_id": "int64"}
    assert examples(result, "schema.retyped_column") == [(1, "1"), (2, "2")]


# --- the pattern fast path -------------------------------------------------------------


def test_fixed_width_patterns_are_recognised_and_others_left_to_re2() -> None:
    # Given patterns of fixed-width ASCII and patterns of variable width
    # When their per-position byte sets are derived
    hexadecimal = fixed_width_classes(r"^t-[0-9a-f]{12}$")
    # Then the fixed ones give one set per byte, the others None
    assert hexadecimal is not None and len(hexadecimal) == 14
    assert hexadecimal[0] == frozenset(b"t") and hexadecimal[2] == frozenset(b"0123456789abcdef")
    assert fixed_width_classes(r"^a\.b\-\d$") == (
        frozenset(b"a"),
        frozenset(b"."),
        frozenset(b"b"),
        frozenset(b"-"),
        frozenset(b"0123456789"),
    )
    for variable in [r"^\d+$", r"^[^a]{2}$", r"^a\w$", r"^a{1,2}$", r"abc$", r"^ab", r"^é$"]:
        assert fixed_width_classes(variable) is None, variable


@pytest.mark.parametrize(
    "pattern", [r"^t-[0-9a-f]{12}$", r"^c-\d{6}$", r"^[A-Z]{2}[0-9]$", r"^x\.[ab-d_]{3}$"]
)
def test_the_pattern_fast_path_agrees_with_re2(pattern: str) -> None:
    # Given matching strings, half of them with one character changed (to a character
    # of another class, of two bytes, or to none at all)
    randomness = random.Random(pattern)
    positions = fixed_width_classes(pattern)
    assert positions is not None
    values = []
    for _ in range(4_000):
        chars = [chr(randomness.choice(sorted(allowed))) for allowed in positions]
        if randomness.random() < 0.5:
            chars[randomness.randrange(len(chars))] = randomness.choice("t-x._09afAZ é")
        values.append("".join(chars))

    class Coded(BaseModel):
        code: str = Field(pattern=pattern)

    (constraint,) = compile_contract(Coded)[0].constraints
    # When the fast path judges each group of equally wide values, and RE2 does too
    for width in {len(value.encode()) for value in values}:
        column = pa.chunked_array([pa.array([v for v in values if len(v.encode()) == width])])
        assert fixed_width_bytes(column) is not None
        fast = constraint.failing(column).to_pylist()
        exact = pc.invert(pc.match_substring_regex(column, pattern)).to_pylist()
        # Then they agree value by value, and both outcomes occur
        assert fast == exact
    assert 0 < sum(not failed for failed in constraint.failing(pa.chunked_array([values]))) < 4_000


def test_nan_scores_are_reported_once_as_not_finite() -> None:
    # Given a NaN in a nullable, bounded float column
    result = check(*bad("score", "nan", row=2))
    # Then NaN fails the finite rule, and no range rule (NaN compares false)
    assert failed_rules(result) == {"score.finite": 1}
    assert math.isnan(float(examples(result, "score.finite")[0][1]))


def test_an_infinite_amount_is_not_finite_and_out_of_range() -> None:
    # Given -inf as an amount
    # When validated
    result = check(*bad("amount", "-inf", row=4))
    # Then it fails both rules it breaks, as one bad row
    assert failed_rules(result) == {"amount.finite": 1, "amount.gt": 1}
    assert result.report.bad_rows == 1
