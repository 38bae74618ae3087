"""Transform input parts cut by bytes (functions/prepare_inference/transform_parts.py):
every part within its budget, headerless, rows whole, every row once, in order."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from types import ModuleType

import pyarrow as pa
import pytest

MIB = 1024 * 1024


@pytest.fixture
def parts(load_logic: Callable[[str, str], ModuleType]) -> ModuleType:
    return load_logic("prepare_inference", "transform_parts")


def cut(module: ModuleType, table: pa.Table, budget: int, request: int = 6 * MIB) -> list[bytes]:
    written: dict[int, bytes] = {}

    def put(index: int, body: bytes) -> None:
        written[index] = body

    count = module.write_parts(table, budget, request, put)
    assert sorted(written) == list(range(count))
    return [written[i] for i in range(count)]


def records(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode())))


def wide_and_narrow(rows: int) -> pa.Table:
    """Rows of uneven width, with the CSV's awkward values: quotes, commas, line ends."""
    awkward = ['say "hi"', "a,b", "two\nlines", "", "plain"]
    return pa.table(
        {
            "id": [f"r{i}" for i in range(rows)],
            "note": [awkward[i % len(awkward)] * (1 + i % 7) for i in range(rows)],
            "amount": [i * 0.5 for i in range(rows)],
        }
    )


def test_parts_stay_within_the_budget_without_a_header_and_every_row_once_in_order(
    parts: ModuleType,
) -> None:
    # Given 50,000 rows of uneven width (more than one encoding step) and a 256 KiB budget
    table = wide_and_narrow(50_000)
    # When the table is cut into parts
    bodies = cut(parts, table, 256 * 1024)
    # Then every part is within the budget and starts with a row, not a header
    assert len(bodies) > 4
    assert all(len(body) <= 256 * 1024 for body in bodies)
    assert all(records(body)[0][0].startswith("r") for body in bodies)
    # And the rows come back whole (line ends inside quoted values included), each once,
    # in the table's order
    rows = [row for body in bodies for row in records(body)]
    assert [row[0] for row in rows] == table.column("id").to_pylist()
    assert [row[1] for row in rows] == table.column("note").to_pylist()
    # And parts are filled: all but the last hold more than half the budget
    assert all(len(body) > 128 * 1024 for body in bodies[:-1])


def test_a_table_within_the_budget_is_one_part(parts: ModuleType) -> None:
    # Given 100 rows and a budget far above their size; when cut, then one part holds all
    (body,) = cut(parts, wide_and_narrow(100), 8 * MIB)
    assert len(records(body)) == 100


def test_a_row_larger_than_the_budget_gets_a_part_of_its_own(parts: ModuleType) -> None:
    # Given a row of 10 KB between small rows, and a budget of 4 KB
    table = pa.table({"id": ["a", "b", "c"], "text": ["x", "y" * 10_000, "z"]})
    # When the table is cut
    bodies = cut(parts, table, 4_096)
    # Then the wide row is whole, alone in its part; the others are in parts of their own
    assert [[row[0] for row in records(body)] for body in bodies] == [["a"], ["b"], ["c"]]
    assert records(bodies[1])[0][1] == "y" * 10_000


def test_a_row_larger_than_one_request_is_refused_before_any_part_is_written(
    parts: ModuleType,
) -> None:
    # Given a second row whose CSV exceeds the request size batch transform may send
    table = pa.table({"id": ["a", "b"], "text": ["x", "y" * 2_000]})
    written: list[int] = []
    # When the table is cut, Then the error names the row and the request size
    with pytest.raises(parts.PartSizeError, match=r"row 2 takes 2007 bytes .* 1024-byte"):
        parts.write_parts(table, MIB, 1_024, lambda index, _: written.append(index))
    # And nothing was written for it (the first row's part is not flushed before it)
    assert written == []
