"""The validator's numpy fast paths give Arrow's answers: enums of fixed-width text
compared as numbers, and keys told distinct by counting them into buckets."""

from __future__ import annotations

import random
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from driftline_runtime.contracts import DatasetSpec, TableRules
from driftline_runtime.validation import ColumnContract, compile_contract, validate
from driftline_runtime.validation.column_rules import _outside
from driftline_runtime.validation.keys import _distinct, _mix
from pydantic import BaseModel, Field

from tests.unit.test_validation import NOW, rule


class Order(BaseModel):
    order_id: str = Field(pattern=r"^o-[0-9a-f]{10}$")
    number: int
    currency: Literal["EUR", "USD", "GBP"]
    country: Literal["DE", "FR", "USA"]
    channel: Literal["pos", "online", "atm"]


def orders() -> DatasetSpec:
    return DatasetSpec(
        name="orders",
        kind="inference",
        model_dataset="order-history",
        contract=Order,
        contract_version="1.0.0",
        id_column="order_id",
        row_policy="drop_bad_rows",
        rules=TableRules(unique_key=("order_id",), max_bad_row_share=0.5),
    )


def column(name: str) -> ColumnContract:
    return next(c for c in compile_contract(Order) if c.name == name)


def reference(values: pa.ChunkedArray, allowed: tuple[str, ...]) -> list[bool]:
    """Arrow's own answer: present values that are none of the allowed ones."""
    outside = pc.invert(pc.is_in(values, value_set=pa.array(allowed)))
    flags: list[bool] = pc.and_(outside, values.is_valid()).fill_null(False).to_pylist()
    return flags


@pytest.mark.parametrize(
    ("name", "values"),
    [
        # fixed width 3, padded to 4 bytes: the allowed ones, near misses, other cases
        ("currency", ["EUR", "USD", "GBP", "EUX", "eur", "US\x00", "ÉU", "XYZ"]),
        # fixed width 2 among allowed values of widths 2 and 3
        ("country", ["DE", "FR", "US", "de", "XX"]),
        # fixed width 3 where only one allowed value has that width
        ("country", ["USA", "USB", "DEU"]),
        # widths that differ, and a null: Arrow's general path
        ("channel", ["pos", "online", "atm", "posx", None, ""]),
        # a width no allowed value has: every value is outside
        ("channel", ["abcd", "wxyz"]),
        # wider than 8 bytes: the general path
        ("channel", ["online-shop", "in-the-store"]),
    ],
)
def test_enum_checks_give_arrows_answer(name: str, values: list[str | None]) -> None:
    # Given a column of 5,000 values drawn from these
    rng = random.Random(7)
    drawn = pa.chunked_array([pa.array([rng.choice(values) for _ in range(5000)], pa.string())])
    contract = column(name)
    # When its allowed values are checked
    outside = _outside(drawn, contract)
    # Then the failing rows are exactly those Arrow's is_in finds
    assert outside.fill_null(False).to_pylist() == reference(drawn, contract.allowed)


def test_distinct_keys_and_one_repeat_among_many() -> None:
    # Given 300,000 distinct 64-bit keys, and the same with one key repeated far away
    # (an odd multiplier modulo 2**64 is a bijection: distinct keys that look random)
    keys = np.arange(300_000, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    repeated = keys.copy()
    repeated[299_000] = repeated[12]
    # When each is checked for repeats
    # Then the first set is distinct and the second is not
    assert _distinct(_mix(keys))
    assert not _distinct(_mix(repeated))
    # And consecutive integers (top bits all equal before mixing) are distinct too
    assert _distinct(_mix(np.arange(500_000, dtype=np.uint64)))


@pytest.mark.parametrize(
    ("batch_rows", "odd_width"),
    [
        (None, False),  # one batch
        (30_000, False),  # the repeat and its first in different batches, hashed apart
        (30_000, True),  # one batch of ids of another width: no hashes, exact grouping
    ],
)
def test_a_repeated_key_in_a_large_file_is_found_with_its_row(
    batch_rows: int | None, odd_width: bool
) -> None:
    # Given 200,000 orders with distinct ids, the 150,001st repeating the 7th
    count = 200_000
    ids = [f"o-{n * 2654435761 % 16**10:010x}" for n in range(count)]
    ids[150_000] = ids[6]
    if odd_width:  # ids the pattern refuses, in the 4th batch only
        ids[100_000] = "o-" + "1" * 11
    table = pa.table(
        {
            "order_id": ids,
            "number": list(range(count)),
            "currency": ["EUR"] * count,
            "country": ["DE"] * count,
            "channel": ["pos"] * count,
        }
    )
    # When it is validated, in batches or whole
    result = validate(table, orders(), NOW, batch_rows=batch_rows)
    # Then exactly that row repeats a key, reported at its 1-based row
    unique = rule(result, "table.unique_key")
    assert unique.failed == 1
    assert [example.row for example in unique.examples] == [150_001]
    assert result.report.valid_rows == count - 1 - odd_width


def test_repeated_integer_keys_across_batches_are_found() -> None:
    # Given 100,000 integer keys in batches of 7,000, two of them repeating earlier ones
    class Event(BaseModel):
        event_id: int
        kind: Literal["a", "b"]

    count = 100_000
    keys = list(range(count))
    keys[70_000], keys[99_999] = keys[3], keys[69_999]
    spec = DatasetSpec(
        name="events",
        kind="inference",
        model_dataset="event-history",
        contract=Event,
        contract_version="1.0.0",
        id_column="event_id",
        row_policy="drop_bad_rows",
        rules=TableRules(unique_key=("event_id",), max_bad_row_share=0.5),
    )
    table = pa.table({"event_id": keys, "kind": ["a"] * count})
    # When it is validated in batches
    result = validate(table, spec, NOW, batch_rows=7_000)
    # Then both repeats are found, at their rows
    unique = rule(result, "table.unique_key")
    assert unique.failed == 2
    assert [example.row for example in unique.examples] == [70_001, 100_000]


class Reading(BaseModel):
    level: float = Field(ge=0, lt=10)
    count: int = Field(gt=-5, le=100)


@pytest.mark.parametrize(
    ("levels", "counts"),
    [
        # every value within its bounds, the bounds themselves included where allowed
        ([0.0, 9.99, 5.0, None], [-4, 100, 0, None]),
        # values on the wrong side of each bound
        ([-0.5, 10.0, 3.0, 11.0], [-5, 101, 7, -9]),
        # NaN and infinities (no order for NaN: the masks decide), nulls only
        ([float("nan"), 1.0, float("inf"), float("-inf")], [None, None, None, None]),
    ],
)
def test_bounds_report_what_a_comparison_per_value_finds(
    levels: list[float | None], counts: list[int | None]
) -> None:
    # Given a batch of readings
    table = pa.table(
        {"level": pa.array(levels, pa.float64()), "count": pa.array(counts, pa.int64())}
    )
    spec = DatasetSpec(
        name="readings",
        kind="inference",
        model_dataset="reading-history",
        contract=Reading,
        contract_version="1.0.0",
        id_column="level",
        row_policy="drop_bad_rows",
        rules=TableRules(min_rows=0, max_bad_row_share=1.0),
    )
    # When it is validated
    result = validate(table, spec, NOW)
    # Then each bound fails exactly the rows a comparison of every value fails
    expected = {
        "level.ge": [v is not None and v < 0 for v in levels],
        "level.lt": [v is not None and v >= 10 for v in levels],
        "count.gt": [v is not None and v <= -5 for v in counts],
        "count.le": [v is not None and v > 100 for v in counts],
    }
    for name, flags in expected.items():
        report = rule(result, name)
        assert report.failed == sum(flags), name
        assert [example.row for example in report.examples] == [
            row + 1 for row, flag in enumerate(flags) if flag
        ], name
