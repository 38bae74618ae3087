"""Turning a training window into SageMaker training channels, and naming the holdout.

Without a time column, rows are assigned to train, validation and test by a hash of
their id, so a row keeps its split across versions and re-runs (no leakage from a
reshuffle), and the split needs no random state. With a time column, the test split is
the most recent slice of the window (what the model will face next is newer than what it
learned from); the older rows are split between train and validation by the same hash.

The holdout's identity is a digest of its sorted ids: two evaluations with the same
identity were measured on exactly the same rows, which is what the registry records
beside the challenger's and the champion's numbers.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from driftline_runtime.steps.training import Holdout

SPLITS = (("train", 70), ("validation", 85), ("test", 100))
# The test split's share of a time-ordered window (the newest rows).
TIME_HOLDOUT_SHARE = 0.15


@dataclass(frozen=True)
class Channel:
    name: str
    rows: int
    csv: bytes


class NotEnoughData(ValueError):
    pass


def bucket_of(identifier: str) -> int:
    return int.from_bytes(hashlib.sha256(identifier.encode()).digest()[:4], "big") % 100


def _buckets(table: pa.Table, id_column: str) -> pa.Array:
    ids = table.column(id_column).cast(pa.string()).to_pylist()
    return pa.array([bucket_of(i or "") for i in ids], type=pa.int8())


def _by_hash(table: pa.Table, id_column: str) -> dict[str, pa.Table]:
    buckets = _buckets(table, id_column)
    parts, lower = {}, 0
    for name, upper in SPLITS:
        mask = pc.and_(pc.greater_equal(buckets, lower), pc.less(buckets, upper))
        parts[name] = table.filter(mask)
        lower = upper
    return parts


def _by_time(table: pa.Table, id_column: str, time_column: str) -> dict[str, pa.Table]:
    ordered = table.sort_by([(time_column, "ascending"), (id_column, "ascending")])
    held_out = int(round(ordered.num_rows * TIME_HOLDOUT_SHARE))
    older = ordered.slice(0, ordered.num_rows - held_out)
    # train:validation as 70:15 of the older rows, by the id's hash.
    buckets = _buckets(older, id_column)
    cut = round(100 * SPLITS[0][1] / SPLITS[1][1])
    return {
        "train": older.filter(pc.less(buckets, cut)),
        "validation": older.filter(pc.greater_equal(buckets, cut)),
        "test": ordered.slice(ordered.num_rows - held_out),
    }


def holdout_of(test: pa.Table, id_column: str, time_column: str | None) -> Holdout:
    ids = sorted(str(i) for i in test.column(id_column).cast(pa.string()).to_pylist())
    digest = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
    start = end = None
    if time_column is not None and test.num_rows:
        times = test.column(time_column)
        start = str(pc.min(times).as_py())
        end = str(pc.max(times).as_py())
    return Holdout(
        id=f"sha256:{digest}",
        rows=test.num_rows,
        split="time" if time_column else "hash",
        time_column=time_column,
        start=start,
        end=end,
    )


def split(
    table: pa.Table,
    id_column: str,
    time_column: str | None = None,
    columns: list[str] | None = None,
) -> tuple[list[Channel], Holdout]:
    """The train, validation and test channels of ``table`` (only ``columns``, when given:
    the time column orders the split without becoming a feature), and the test split's
    identity."""
    parts = _by_time(table, id_column, time_column) if time_column else _by_hash(table, id_column)
    channels = []
    for name, part in parts.items():
        if part.num_rows == 0:
            raise NotEnoughData(
                f"The {name} split is empty: {table.num_rows} rows are too few to train on"
            )
        out = io.BytesIO()
        pacsv.write_csv(part.select(columns) if columns is not None else part, out)
        channels.append(Channel(name, part.num_rows, out.getvalue()))
    return channels, holdout_of(parts["test"], id_column, time_column)
