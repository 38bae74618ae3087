"""The ingest function's arrival logic, on plain event records."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions" / "ingest"))
from arrival import (  # noqa: E402
    UndeclaredLocation,
    arrival_from_record,
    dataset_of,
    receipt_key,
)

sys.path.pop(0)


def record(key: str, version: str | None = "v1") -> dict[str, Any]:
    obj = {"key": key, "size": 12, "eTag": "abc"}
    if version:
        obj["versionId"] = version
    return {
        "eventTime": "2026-11-01T10:00:00.000Z",
        "s3": {"bucket": {"name": "raw"}, "object": obj},
    }


def test_dataset_is_the_first_key_segment() -> None:
    # Given a key under a dataset prefix / When its dataset is read / Then it is the prefix
    assert dataset_of("transactions/2026/file.csv") == "transactions"


@pytest.mark.parametrize("key", ["file.csv", "/file.csv", "transactions/"])
def test_key_without_dataset_is_rejected_with_the_key_named(key: str) -> None:
    with pytest.raises(UndeclaredLocation, match="names no dataset") as raised:
        dataset_of(key)
    assert repr(key) in str(raised.value)


def test_url_encoded_keys_are_decoded() -> None:
    # Given S3's URL-encoded key for "transactions/a b+c.csv"
    arrival = arrival_from_record(record("transactions/a+b%2Bc.csv"))
    # Then the arrival names the real key
    assert arrival.key == "transactions/a b+c.csv"
    assert arrival.dataset == "transactions"
    assert arrival.size == 12


def test_receipt_key_is_stable_per_object_version() -> None:
    # Given the same event delivered twice (S3 delivers at least once)
    first = receipt_key(arrival_from_record(record("transactions/f.csv", "v7")))
    again = receipt_key(arrival_from_record(record("transactions/f.csv", "v7")))
    other = receipt_key(arrival_from_record(record("transactions/f.csv", "v8")))
    # Then both deliveries write the same receipt, and a new version another one
    assert first == again == "arrivals/transactions/f.csv/v7.json"
    assert other != first


def test_unversioned_objects_get_a_receipt_too() -> None:
    key = receipt_key(arrival_from_record(record("d/f.csv", version=None)))
    assert key == "arrivals/d/f.csv/unversioned.json"
