"""Files too large for one ingest invocation: routed to the Processing job, or quarantined.

moto stands in for S3, DynamoDB, EventBridge and Step Functions; the Processing job's
own run (the same ``Ingestion`` with no size limit) is driven here in-process, as the
job's entry point calls it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import boto3
import pyarrow.parquet as pq
import pytest

from tests.unit.test_ingest_handler import (
    CURATED,
    QUARANTINE,
    RAW,
    SAMPLE,
    Cloud,
    FakeContext,
    cloud,  # noqa: F401  # the fixture, used by name
    invoke,
)

CODE_BUCKET = "assets"
ROLE = "arn:aws:iam::123456789012:role/validation-job"


@pytest.fixture
def routed_cloud(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Cloud, str]]:  # noqa: F811
    """The cloud with the validation state machine deployed and the ingest function told to
    route files above 1 KiB to it."""
    sfn = boto3.client("stepfunctions")
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}
    arn = sfn.create_state_machine(
        name="dl-test-validation", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    for name, value in {
        "LARGE_FILE_BYTES": "1024",
        "VALIDATION_STATE_MACHINE_ARN": arn,
        "PROCESSING_IMAGE_URI": "123456789012.dkr.ecr.us-east-1.amazonaws.com/sklearn:1.4",
        "PROCESSING_ROLE_ARN": ROLE,
        "PROCESSING_CODE_BUCKET": CODE_BUCKET,
        "PROCESSING_CODE_KEY": "validator/validator.pyz",
    }.items():
        monkeypatch.setenv(name, value)
    yield cloud, arn


def test_a_file_over_the_threshold_with_no_route_is_quarantined_unread(
    cloud: Cloud,  # noqa: F811
    load_function: Callable[..., ModuleType],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a stage whose threshold is 1 KiB and which has no Processing job
    monkeypatch.setenv("LARGE_FILE_BYTES", "1024")
    handler = load_function("ingest")
    spooled: list[str] = []
    original = handler.INGESTION.services.s3

    class Watched:
        def __getattr__(self, name: str) -> Any:
            spooled.append(name)
            return getattr(original, name)

    handler.INGESTION.services.s3 = Watched()
    # When the sample (about 40 KiB) is dropped
    outcome = invoke(handler, cloud.drop("transactions/big.csv", SAMPLE.read_bytes()))
    # Then it is quarantined as too large, with its size and the limit, never downloaded
    assert outcome["status"] == "rejected"
    reason = outcome["reasons"][0]
    assert reason["code"] == "too_large"
    assert reason["details"] == {
        "bytes": SAMPLE.stat().st_size,
        "at_least": False,
        "large_file_bytes": 1024,
    }
    assert "get_object" not in spooled
    # And the raw object is still where it was dropped
    assert "transactions/big.csv" in cloud.keys(RAW)


def test_a_file_over_the_threshold_starts_the_validation_state_machine(
    routed_cloud: tuple[Cloud, str], load_function: Callable[..., ModuleType]
) -> None:
    aws, arn = routed_cloud
    handler = load_function("ingest")
    # When a file above the threshold is dropped, twice (S3 delivers at least once)
    event = aws.drop("transactions/big.csv", SAMPLE.read_bytes())
    first = invoke(handler, event)
    ref = handler.ObjectRef.from_record(event["Records"][0])
    again = handler.INGESTION.ingest(ref, now=datetime.now(UTC)).as_dict()
    # Then it is routed, nothing is curated or quarantined by the function
    assert first["status"] == "routed"
    assert again["status"] == "routed" and again["execution"] == first["execution"]
    assert aws.keys(CURATED) == [] and aws.keys(QUARANTINE) == []
    # And one execution carries the whole CreateProcessingJob request
    sfn = boto3.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=arn)["executions"]
    assert len(executions) == 1
    document = json.loads(sfn.describe_execution(executionArn=first["execution"])["input"])
    request = document["request"]
    assert document["dataset"] == "transactions"
    assert document["object"]["key"] == "transactions/big.csv"
    assert request["ProcessingJobName"].startswith("dl-test-")
    assert len(request["ProcessingJobName"]) <= 63
    assert request["RoleArn"] == ROLE
    code = request["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    assert code == f"s3://{CODE_BUCKET}/validator/validator.pyz"
    environment = request["Environment"]
    # The job gets the function's settings, without the threshold it would route by
    assert environment["CURATED_BUCKET"] == CURATED
    assert "LARGE_FILE_BYTES" not in environment
    assert json.loads(environment["DRIFTLINE_OBJECT"])["key"] == "transactions/big.csv"


def test_the_processing_job_validates_a_routed_file_as_the_function_would(
    routed_cloud: tuple[Cloud, str],
    load_function: Callable[..., ModuleType],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    aws, _ = routed_cloud
    handler = load_function("ingest")
    event = aws.drop("transactions/big.csv", SAMPLE.read_bytes())
    execution = invoke(handler, event)["execution"]
    sfn = boto3.client("stepfunctions")
    document = json.loads(sfn.describe_execution(executionArn=execution)["input"])
    # Given the job's environment, as SageMaker sets it
    for name, value in document["request"]["Environment"].items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WORK_DIRECTORY", str(tmp_path))
    job = load_function("ingest", "processing_job")
    # When the job runs
    outcome = job.run()
    # Then the file is a curated version with all its rows, as the function would make it
    assert outcome["status"] == "validated"
    rows = SAMPLE.read_text().count("\n") - 1
    assert outcome["rows"] == rows
    parquet = [key for key in aws.keys(CURATED) if key.endswith(".parquet")]
    assert len(parquet) == 1
    body = aws.s3.get_object(Bucket=CURATED, Key=parquet[0])["Body"].read()
    assert pq.read_table(pa_buffer(body)).num_rows == outcome["valid_rows"]
    assert [item["state"] for item in aws.lineage()] == ["validated"]
    assert [event["detail-type"] for event in aws.events()] == ["DatasetValidated"]


def test_a_failed_processing_job_quarantines_the_file_through_the_function(
    routed_cloud: tuple[Cloud, str], load_function: Callable[..., ModuleType]
) -> None:
    aws, _ = routed_cloud
    handler = load_function("ingest")
    event = aws.drop("transactions/big.csv", SAMPLE.read_bytes())
    routed = invoke(handler, event)
    record = event["Records"][0]["s3"]["object"]
    # When the state machine reports the job's failure to the function
    failure = {
        "dataset": "transactions",
        "object": {
            "bucket": RAW,
            "key": "transactions/big.csv",
            "version_id": record["versionId"],
            "size": record["size"],
            "event_time": "2026-11-01T10:00:00.000Z",
        },
        "job_name": "dl-test-transactions-v-0123456789abcdef",
        "execution": routed["execution"],
        "error": {"Error": "SageMaker.ProcessingJobFailed", "Cause": "AlgorithmError: killed"},
    }
    result = handler.handler(failure, FakeContext())
    # Then the file is quarantined with the job's failure as its reason, nothing lost
    assert result["status"] == "rejected"
    assert result["reasons"][0]["code"] == "validation_job_failed"
    assert "AlgorithmError: killed" in result["reasons"][0]["message"]
    assert any(key.endswith("/report.json") for key in aws.keys(QUARANTINE))
    assert "transactions/big.csv" in aws.keys(RAW)


def pa_buffer(body: bytes) -> Any:
    import pyarrow as pa

    return pa.BufferReader(body)


def test_a_failed_jobs_description_gives_its_failure_reason_as_the_message(
    routed_cloud: tuple[Cloud, str], load_function: Callable[..., ModuleType]
) -> None:
    aws, _ = routed_cloud
    handler = load_function("ingest")
    event = aws.drop("transactions/big-sync.csv", SAMPLE.read_bytes())
    routed = invoke(handler, event)
    record = event["Records"][0]["s3"]["object"]
    # Given the cause a failed createProcessingJob.sync task carries: the job's description
    description = {
        "ProcessingJobName": "dl-test-transactions-v-0123456789abcdef",
        "AppSpecification": {"ImageUri": "x" * 800},
        "ProcessingJobStatus": "Failed",
        "FailureReason": "AlgorithmError: the instance ran out of disk",
    }
    failure = {
        "dataset": "transactions",
        "object": {
            "bucket": RAW,
            "key": "transactions/big-sync.csv",
            "version_id": record["versionId"],
            "size": record["size"],
        },
        "job_name": description["ProcessingJobName"],
        "execution": routed["execution"],
        "error": {"Error": "States.TaskFailed", "Cause": json.dumps(description)},
    }
    # When the state machine reports it to the function
    result = handler.handler(failure, FakeContext())
    # Then the quarantine's reason is SageMaker's, not the start of the description
    assert "AlgorithmError: the instance ran out of disk" in result["reasons"][0]["message"]
