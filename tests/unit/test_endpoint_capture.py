"""The local cloud's data capture (driftline_localcloud.sagemaker.endpoint_capture): what an
endpoint variant writes to S3 from its sampled requests and answers, as SageMaker does."""

from __future__ import annotations

import base64
import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "predictions"


@pytest.fixture(scope="module")
def capture() -> ModuleType:
    sys.path.insert(0, str(ROOT / "local"))
    try:
        return importlib.import_module("driftline_localcloud.sagemaker.endpoint_capture")
    finally:
        sys.path.remove(str(ROOT / "local"))


@pytest.fixture
def aws(aws_credentials: None) -> Iterator[tuple[Any, str]]:
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        key = boto3.client("kms").create_key()["KeyMetadata"]["Arn"]
        yield s3, key


def config(key: str, percent: int, **extra: Any) -> dict[str, Any]:
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": percent,
        "DestinationS3Uri": f"s3://{BUCKET}/capture/transactions",
        "KmsKeyId": key,
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {
            "CsvContentTypes": ["text/csv"],
            "JsonContentTypes": ["application/json", "application/jsonlines"],
        },
        **extra,
    }


def written(s3: Any) -> list[tuple[str, dict[str, Any]]]:
    objects = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    found = []
    for item in objects:
        got = s3.get_object(Bucket=BUCKET, Key=item["Key"])
        for line in got["Body"].read().decode().splitlines():
            found.append((item["Key"], json.loads(line)))
    return found


def test_every_request_is_captured_as_text_under_the_variants_hour_with_kms(
    capture: ModuleType, aws: tuple[Any, str]
) -> None:
    # Given a variant that captures all of its traffic
    s3, key = aws
    writer = capture.CaptureWriter(s3, config(key, 100), "dl-dev-transactions-live", "champion")
    # When it answers a CSV request and a request of another content type, and stops
    request = b"transaction_id,amount\nt-1,12.5\n"
    answer = b'{"predictions": [{"transaction_id": "t-1", "probability": 0.1}]}'
    assert writer.offer(request, "text/csv", answer, "application/json")
    assert writer.offer(b"\x00\x01", "application/x-parquet", b"0.5", "text/plain")
    writer.close()
    # Then both records are in one SSE-KMS object under <destination>/<endpoint>/<variant>/
    # yyyy/mm/dd/hh/, CSV and JSON kept as text and anything else as base64
    records = written(s3)
    assert len(records) == 2
    object_key = records[0][0]
    assert object_key.startswith("capture/transactions/dl-dev-transactions-live/champion/")
    assert len(object_key.split("/")) == 9 and object_key.endswith(".jsonl")
    head = s3.head_object(Bucket=BUCKET, Key=object_key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(key.split("/")[-1])
    first, second = records[0][1], records[1][1]
    assert first["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": request.decode(),
        "encoding": "CSV",
    }
    assert first["captureData"]["endpointOutput"]["encoding"] == "JSON"
    assert json.loads(first["captureData"]["endpointOutput"]["data"]) == json.loads(answer)
    assert first["eventVersion"] == "0" and first["eventMetadata"]["eventId"]
    assert second["captureData"]["endpointInput"]["encoding"] == "BASE64"
    assert base64.b64decode(second["captureData"]["endpointInput"]["data"]) == b"\x00\x01"


def test_only_the_sampled_share_is_captured(capture: ModuleType, aws: tuple[Any, str]) -> None:
    # Given a variant that samples 20% of its requests
    s3, key = aws
    writer = capture.CaptureWriter(s3, config(key, 20), "e", "champion", seed=7)
    # When it answers 2,000 requests
    taken = sum(writer.offer(b"a\n1\n", "text/csv", b"0.5", "text/csv") for _ in range(2000))
    writer.close()
    # Then about a fifth of them are captured, and exactly those are written
    assert 330 <= taken <= 470
    assert len(written(s3)) == taken


def test_input_only_capture_and_a_capture_that_is_off(
    capture: ModuleType, aws: tuple[Any, str]
) -> None:
    s3, key = aws
    inputs_only = config(key, 100, CaptureOptions=[{"CaptureMode": "Input"}])
    writer = capture.CaptureWriter(s3, inputs_only, "e", "champion")
    writer.offer(b"a\n1\n", "text/csv", b"0.5", "text/csv")
    writer.close()
    assert set(written(s3)[0][1]["captureData"]) == {"endpointInput"}
    assert capture.capture_settings(config(key, 0)) is None
    assert capture.capture_settings(config(key, 50, EnableCapture=False)) is None
    assert capture.capture_settings(None) is None


def test_a_failed_write_drops_its_records_without_failing_the_request(
    capture: ModuleType, aws: tuple[Any, str]
) -> None:
    # Given a capture destination bucket that does not exist
    s3, key = aws
    missing = config(key, 100, DestinationS3Uri="s3://no-such-bucket/capture")
    writer = capture.CaptureWriter(s3, missing, "e", "champion")
    # When a request is captured and written, then nothing is raised
    assert writer.offer(b"a\n1\n", "text/csv", b"0.5", "text/csv")
    writer.close()
    assert written(s3) == []
