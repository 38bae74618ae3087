"""Splitting a curated dataset version into training channels."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions" / "prepare_training"))
from channels import NotEnoughData, split  # noqa: E402

sys.path.pop(0)


def table(rows: int) -> pa.Table:
    return pa.table(
        {"transaction_id": [f"t-{i:012x}" for i in range(rows)], "x": list(range(rows))}
    )


def test_split_is_roughly_70_15_15_and_covers_every_row_once() -> None:
    channels = split(table(10_000), "transaction_id")
    sizes = {c.name: c.rows for c in channels}
    assert sum(sizes.values()) == 10_000
    assert 6_700 < sizes["train"] < 7_300
    assert 1_300 < sizes["validation"] < 1_700
    assert 1_300 < sizes["test"] < 1_700
    ids = [
        row["transaction_id"]
        for c in channels
        for row in csv.DictReader(io.StringIO(c.csv.decode()))
    ]
    assert len(set(ids)) == 10_000


def test_a_row_keeps_its_split_whatever_else_is_in_the_version() -> None:
    # Given a small version and a larger one that contains it
    def test_ids(rows: int) -> set[str]:
        test = split(table(rows), "transaction_id")[2]
        return {r["transaction_id"] for r in csv.DictReader(io.StringIO(test.csv.decode()))}

    # Then the small version's test rows are test rows of the larger one too (no leakage)
    assert test_ids(50) <= test_ids(5_000)


def test_too_few_rows_is_a_clear_error() -> None:
    with pytest.raises(NotEnoughData, match="too few to train on"):
        split(table(2), "transaction_id")
