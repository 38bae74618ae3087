"""Turning a curated dataset version into SageMaker training channels.

Rows are assigned to train, validation and test by a hash of their id, so a row keeps
its split across versions and re-runs (no leakage from a reshuffle), and the split
needs no random state.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

SPLITS = (("train", 70), ("validation", 85), ("test", 100))


@dataclass(frozen=True)
class Channel:
    name: str
    rows: int
    csv: bytes


class NotEnoughData(ValueError):
    pass


def bucket_of(identifier: str) -> int:
    return int.from_bytes(hashlib.sha256(identifier.encode()).digest()[:4], "big") % 100


def split(table: pa.Table, id_column: str) -> list[Channel]:
    ids = table.column(id_column).cast(pa.string()).to_pylist()
    buckets = pa.array([bucket_of(i or "") for i in ids], type=pa.int8())
    channels = []
    lower = 0
    for name, upper in SPLITS:
        mask = pc.and_(pc.greater_equal(buckets, lower), pc.less(buckets, upper))
        part = table.filter(mask)
        if part.num_rows == 0:
            raise NotEnoughData(
                f"The {name} split is empty: {table.num_rows} rows are too few to train on"
            )
        out = io.BytesIO()
        pacsv.write_csv(part, out)
        channels.append(Channel(name, part.num_rows, out.getvalue()))
        lower = upper
    return channels
