"""What the ingest function records about each object that lands in the raw bucket.

This is the walking skeleton of ingestion: every arrival is turned into a receipt in
the curated bucket, keyed by the raw object's key and version so that a redelivered
event rewrites the same receipt instead of adding one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from pydantic import BaseModel

RECEIPTS_PREFIX = "arrivals"


class Arrival(BaseModel):
    bucket: str
    key: str
    dataset: str
    version_id: str | None
    size: int
    etag: str | None
    event_time: datetime


class UndeclaredLocation(ValueError):
    """The object is not under a ``<dataset>/`` prefix."""


def dataset_of(key: str) -> str:
    dataset, separator, rest = key.partition("/")
    if not separator or not dataset or not rest:
        raise UndeclaredLocation(
            f"Object key {key!r} is not of the form <dataset>/<file>: it names no dataset"
        )
    return dataset


def arrival_from_record(record: dict[str, Any]) -> Arrival:
    """Build an Arrival from one S3 event notification record (keys arrive URL-encoded)."""
    s3 = record["s3"]
    key = unquote_plus(s3["object"]["key"])
    return Arrival(
        bucket=s3["bucket"]["name"],
        key=key,
        dataset=dataset_of(key),
        version_id=s3["object"].get("versionId"),
        size=int(s3["object"].get("size", 0)),
        etag=s3["object"].get("eTag"),
        event_time=record["eventTime"],
    )


def receipt_key(arrival: Arrival) -> str:
    version = arrival.version_id or "unversioned"
    return f"{RECEIPTS_PREFIX}/{arrival.key}/{version}.json"
