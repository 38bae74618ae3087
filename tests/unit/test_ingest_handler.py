"""The ingest handler against moto's S3: an event in, a receipt out."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

CURATED = "curated-bucket"


@dataclass
class FakeContext:
    function_name: str = "driftline-dev-ingest"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:000000000000:function:ingest"
    aws_request_id: str = "req-1"


def s3_event(*keys: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventTime": "2026-11-01T10:00:00.000Z",
                "s3": {
                    "bucket": {"name": "raw"},
                    "object": {"key": key, "size": 3, "versionId": "v1", "eTag": "e"},
                },
            }
            for key in keys
        ]
    }


@pytest.fixture
def handler(
    aws_credentials: None,
    monkeypatch: pytest.MonkeyPatch,
    load_function: Callable[[str], ModuleType],
) -> Iterator[ModuleType]:
    monkeypatch.setenv("CURATED_BUCKET", CURATED)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "driftline")
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket=CURATED)
        yield load_function("ingest")


def test_each_record_gets_a_receipt(handler: ModuleType) -> None:
    # Given an event with two objects
    result = handler.handler(s3_event("transactions/a.csv", "scores/b.csv"), FakeContext())
    # Then each has a receipt naming its dataset
    assert result["receipts"] == [
        "arrivals/transactions/a.csv/v1.json",
        "arrivals/scores/b.csv/v1.json",
    ]
    body = boto3.client("s3").get_object(Bucket=CURATED, Key=result["receipts"][1])["Body"]
    assert json.loads(body.read())["dataset"] == "scores"


def test_redelivered_event_rewrites_the_same_receipt(handler: ModuleType) -> None:
    handler.handler(s3_event("transactions/a.csv"), FakeContext())
    handler.handler(s3_event("transactions/a.csv"), FakeContext())
    listed = boto3.client("s3").list_objects_v2(Bucket=CURATED)["Contents"]
    assert [o["Key"] for o in listed] == ["arrivals/transactions/a.csv/v1.json"]


def test_missing_setting_fails_the_cold_start_naming_it(
    aws_credentials: None,
    monkeypatch: pytest.MonkeyPatch,
    load_function: Callable[[str], ModuleType],
) -> None:
    monkeypatch.delenv("CURATED_BUCKET", raising=False)
    with pytest.raises(Exception, match="curated_bucket"):
        load_function("ingest")
