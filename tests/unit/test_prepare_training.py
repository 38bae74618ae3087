"""Splitting a curated dataset version into training channels."""

from __future__ import annotations

import csv
import io
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from driftline_runtime.contracts import TrainingWindow

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions" / "prepare_training"))
from channels import NotEnoughData, split  # noqa: E402
from window import UnknownWindowVersion, ValidatedVersion, choose, combine, explicit  # noqa: E402

sys.path.pop(0)


def table(rows: int) -> pa.Table:
    return pa.table(
        {"transaction_id": [f"t-{i:012x}" for i in range(rows)], "x": list(range(rows))}
    )


def test_split_is_roughly_70_15_15_and_covers_every_row_once() -> None:
    channels, holdout = split(table(10_000), "transaction_id")
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
    assert holdout.split == "hash" and holdout.rows == sizes["test"]


def test_a_row_keeps_its_split_whatever_else_is_in_the_version() -> None:
    # Given a small version and a larger one that contains it
    def test_ids(rows: int) -> set[str]:
        test = split(table(rows), "transaction_id")[0][2]
        return {r["transaction_id"] for r in csv.DictReader(io.StringIO(test.csv.decode()))}

    # Then the small version's test rows are test rows of the larger one too (no leakage)
    assert test_ids(50) <= test_ids(5_000)


def test_too_few_rows_is_a_clear_error() -> None:
    with pytest.raises(NotEnoughData, match="too few to train on"):
        split(table(2), "transaction_id")


def timed_table(rows: int) -> pa.Table:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return pa.table(
        {
            "transaction_id": [f"t-{i:012x}" for i in range(rows)],
            # Shuffled in the file: the split must order by time, not by position.
            "event_time": [start + timedelta(minutes=(i * 7919) % rows) for i in range(rows)],
        }
    )


def ids_of(channel_csv: bytes) -> list[str]:
    return [r["transaction_id"] for r in csv.DictReader(io.StringIO(channel_csv.decode()))]


def test_with_a_time_column_the_holdout_is_the_most_recent_slice() -> None:
    # Given rows whose times are not in file order
    data = timed_table(1_000)
    # When the table is split by its time column
    channels, holdout = split(data, "transaction_id", "event_time")
    by_name = {c.name: c for c in channels}
    # Then the test split is the newest 15% of the rows, every one newer than any other row
    times = dict(
        zip(data["transaction_id"].to_pylist(), data["event_time"].to_pylist(), strict=True)
    )
    test_times = [times[i] for i in ids_of(by_name["test"].csv)]
    other_times = [times[i] for n in ("train", "validation") for i in ids_of(by_name[n].csv)]
    assert len(test_times) == 150 and min(test_times) > max(other_times)
    assert holdout.split == "time" and holdout.rows == 150
    assert holdout.end == str(max(test_times)) and holdout.start == str(min(test_times))
    # And train and validation share the older rows about 70:15
    assert 650 < by_name["train"].rows < 750


def test_the_holdout_identity_is_its_set_of_ids() -> None:
    # Given the same rows in another order, and the same rows less the newest
    data = timed_table(500)
    reordered = data.take(list(reversed(range(500))))
    newest = max(data["event_time"].to_pylist())
    fewer = data.filter(pa.array([t != newest for t in data["event_time"].to_pylist()]))
    # Then the same rows give the same identity, different rows another
    first = split(data, "transaction_id", "event_time")[1]
    assert split(reordered, "transaction_id", "event_time")[1].id == first.id
    assert split(fewer, "transaction_id", "event_time")[1].id != first.id
    assert first.id.startswith("sha256:")


NOW = datetime(2026, 6, 1, tzinfo=UTC)


def versions(*days_ago: int) -> list[ValidatedVersion]:
    return [
        ValidatedVersion(f"v{i}", NOW - timedelta(days=d), f"s3://c/v{i}.parquet", 10)
        for i, d in enumerate(days_ago)
    ]


def chosen(found: list[ValidatedVersion]) -> list[str]:
    return [v.version for v in found]


def test_default_window_is_the_champions_versions_and_everything_since() -> None:
    # Given five versions, the champion trained on v1 and v2 (v0 older, v3 and v4 newer)
    available = versions(50, 40, 30, 20, 10)
    # When a retraining asks for v4 with the default window
    found = choose(available, "v4", TrainingWindow(), ["v1", "v2"], NOW)
    # Then it learns from v1..v4, oldest first, not from v4 alone
    assert chosen(found) == ["v1", "v2", "v3", "v4"]


def test_without_a_champion_the_default_window_is_the_requested_version() -> None:
    available = versions(50, 40, 30)
    assert chosen(choose(available, "v1", TrainingWindow(), None, NOW)) == ["v1"]


def test_last_versions_and_last_days_bound_the_window() -> None:
    available = versions(50, 40, 30, 20, 10)
    assert chosen(choose(available, "v4", TrainingWindow(last_versions=2), None, NOW)) == [
        "v3",
        "v4",
    ]
    assert chosen(choose(available, "v4", TrainingWindow(last_days=35), None, NOW)) == [
        "v2",
        "v3",
        "v4",
    ]
    both = TrainingWindow(last_versions=4, last_days=25)
    assert chosen(choose(available, "v4", both, None, NOW)) == ["v3", "v4"]
    # The version asked for is in the window even when the bounds leave it out
    assert chosen(choose(available, "v0", TrainingWindow(last_versions=1), None, NOW)) == [
        "v0",
        "v4",
    ]


def test_rows_are_deduplicated_by_id_and_the_newest_version_wins() -> None:
    # Given an older version and a newer one that holds one id again with another label
    old = pa.table({"transaction_id": ["a", "b", "c"], "is_fraud": [0, 0, 0]})
    new = pa.table({"transaction_id": ["c", "d"], "is_fraud": [1, 1]})
    # When they are combined, oldest first
    combined, replaced = combine([old, new], "transaction_id")
    # Then each id appears once, the repeated one with the newer label
    labels = dict(
        zip(combined["transaction_id"].to_pylist(), combined["is_fraud"].to_pylist(), strict=True)
    )
    assert labels == {"a": 0, "b": 0, "c": 1, "d": 1}
    assert replaced == 1 and combined.num_rows == 4


def test_an_explicit_window_is_taken_as_named_and_checked() -> None:
    available = versions(50, 40, 30)
    assert chosen(explicit(available, "v2", ["v0"])) == ["v0", "v2"]
    with pytest.raises(UnknownWindowVersion, match="not validated: v9"):
        explicit(available, "v2", ["v9"])
