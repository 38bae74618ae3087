"""Captured real-time traffic as batches (functions/collect_capture): the endpoint's data
capture of one window becomes one CSV file of the capture dataset in the raw bucket."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from driftline_runtime.catalog import _capture_problems
from driftline_runtime.contracts import DatasetSpec, RealtimeSettings
from moto import mock_aws
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
ENDPOINT = "dl-dev-transactions-live"
PREFIX = f"capture/transactions/{ENDPOINT}/champion"


@pytest.fixture(scope="module")
def collection() -> Iterator[Any]:
    """The function's logic module, imported as Lambda imports it."""
    sys.path.insert(0, str(ROOT / "functions" / "collect_capture"))
    try:
        import collection

        yield collection
    finally:
        sys.path.remove(str(ROOT / "functions" / "collect_capture"))
        sys.modules.pop("collection", None)


class Features(BaseModel):
    transaction_id: str
    amount: float
    is_fraud: bool


class Scored(BaseModel):
    transaction_id: str
    amount: float


def specs(capture_dataset: str | None = "scoring") -> dict[str, DatasetSpec]:
    common: dict[str, Any] = {"contract_version": "1.0.0", "id_column": "transaction_id"}
    return {
        "transactions": DatasetSpec(
            name="transactions",
            kind="training",
            contract=Features,
            target="is_fraud",
            realtime=RealtimeSettings(capture_dataset=capture_dataset),
            **common,
        ),
        "scoring": DatasetSpec(
            name="scoring",
            kind="inference",
            contract=Scored,
            model_dataset="transactions",
            **common,
        ),
    }


def record(data: str, content_type: str, encoding: str = "CSV") -> str:
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": content_type,
                    "mode": "INPUT",
                    "data": data,
                    "encoding": encoding,
                },
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": '{"predictions": []}',
                    "encoding": "JSON",
                },
            },
            "eventMetadata": {"eventId": "e", "inferenceTime": "2026-11-29T10:00:00Z"},
            "eventVersion": "0",
        }
    )


@pytest.fixture
def s3(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3")
        for bucket in ("predictions", "raw"):
            client.create_bucket(Bucket=bucket)
        yield client


def collector(collection: Any, s3: Any, capture_dataset: str | None = "scoring") -> Any:
    settings = collection.Settings(
        stage="dev", capture_bucket="predictions", raw_bucket="raw", window_minutes=60
    )
    return collection.CaptureCollection(
        settings, collection.Services(s3=s3, datasets=lambda: specs(capture_dataset))
    )


def test_a_windows_captured_requests_become_one_csv_batch_of_the_capture_dataset(
    collection: Any, s3: Any
) -> None:
    # Given two capture objects: a CSV request with a header (the label among its
    # columns), a JSON Lines request, t-1 sent again, and a positional CSV request
    lines = [
        record("amount,transaction_id,is_fraud\n12.5,t-1,0\n3,t-2,1\n", "text/csv"),
        record('{"transaction_id": "t-3", "amount": 7}\n', "application/jsonlines", "JSON"),
        record("transaction_id,amount\nt-1,13\n", "text/csv"),
    ]
    s3.put_object(Bucket="predictions", Key=f"{PREFIX}/a.jsonl", Body="\n".join(lines) + "\n")
    s3.put_object(Bucket="predictions", Key=f"{PREFIX}/b.jsonl", Body=record("t-9,1\n", "text/csv"))
    # When the window that holds them is collected
    windows = collector(collection, s3).collect(datetime.now(UTC) + timedelta(minutes=1))
    # Then the rows are one CSV of scoring in the raw bucket, in the contract's columns
    # (undeclared ones such as the label left out), t-1 once as last sent, and the
    # unnamed request counted
    [window] = windows
    assert (window.objects, window.records, window.rows) == (2, 4, 3)
    assert (window.unnamed, window.repeated) == (1, 1)
    assert window.key.startswith("scoring/capture-") and window.key.endswith(f"-{ENDPOINT}.csv")
    body = s3.get_object(Bucket="raw", Key=window.key)["Body"].read().decode()
    assert list(csv.reader(io.StringIO(body))) == [
        ["transaction_id", "amount"],
        ["t-1", "13"],
        ["t-2", "3"],
        ["t-3", "7"],
    ]


def test_only_the_window_is_collected_and_an_empty_window_drops_nothing(
    collection: Any, s3: Any
) -> None:
    # Given a capture object written now
    s3.put_object(
        Bucket="predictions",
        Key=f"{PREFIX}/a.jsonl",
        Body=record("transaction_id,amount\nt-1,1\n", "text/csv"),
    )
    # When the window that ended two hours ago is collected
    [window] = collector(collection, s3).collect(datetime.now(UTC) - timedelta(hours=2))
    # Then nothing was in it and nothing is dropped
    assert (window.objects, window.rows, window.key) == (0, 0, None)
    assert s3.list_objects_v2(Bucket="raw").get("KeyCount") == 0


def test_a_dataset_without_a_capture_dataset_is_not_collected(collection: Any, s3: Any) -> None:
    assert collector(collection, s3, capture_dataset=None).collect(datetime.now(UTC)) == []


def test_the_catalog_refuses_a_capture_dataset_the_endpoints_models_do_not_score() -> None:
    # Given a capture dataset that is the training dataset itself
    found = specs(capture_dataset="transactions")
    # When the catalog checks the references, then the problem names the fitting ones
    [problem] = _capture_problems({name: ("m", spec) for name, spec in found.items()})
    assert "capture_dataset 'transactions'" in problem.message
    assert "those are: scoring" in problem.message
    assert _capture_problems({name: ("m", spec) for name, spec in specs().items()}) == []
