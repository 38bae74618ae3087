"""Files above the large-file threshold, validated by the Processing job on the local cloud.

The threshold is the stage's ``large_file_threshold_mib``, which the deployment sets as
the ingest function's ``LARGE_FILE_BYTES``. Redeploying the session's app with a
threshold of a few KiB would route every other test's files too, so this module lowers
the deployed function's variable for its own tests and puts it back afterwards: the
route, the state machine, the job's role, image and code bundle are the deployment's.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from driftline_runtime import names

from driftline.actions import CommandError, drop_file
from driftline.faults import armed_faults
from driftline.localcloud import LocalCloud
from driftline.status import datasets as dataset_versions
from driftline.target import Target
from tests.e2e.conftest import EventRecorder, wait_for
from tests.e2e.test_ingestion import SAMPLES, read_json, unique_copy

pytestmark = pytest.mark.e2e

THRESHOLD_BYTES = 128 * 1024
JOB_TIMEOUT = 240
PROBE_TIMEOUT = 400


@pytest.fixture(scope="module")
def low_threshold(deployed: dict[str, str], target: Target) -> Iterator[str]:
    """The deployed ingest function, routing files above 128 KiB; the state machine's ARN."""
    functions = target.client("lambda")
    name = deployed[names.INGEST_FUNCTION_OUTPUT]
    variables = functions.get_function_configuration(FunctionName=name)["Environment"]["Variables"]

    def configure(values: dict[str, str], *, probe: bool = True) -> None:
        functions.update_function_configuration(
            FunctionName=name, Environment={"Variables": values}
        )
        functions.get_waiter("function_updated_v2").wait(FunctionName=name)
        if not probe:
            return
        # S3 events that arrive in the first minutes after the local cloud swapped the
        # function's environment never reach it: a probe object under no dataset,
        # quarantined at once, shows the path is open again.
        probes: set[str] = set()

        def judged() -> bool | None:
            key = f"probe-{uuid.uuid4().hex[:8]}.csv"
            target.client("s3").put_object(Bucket=raw, Key=key, Body=b"a,b\n1,2\n")
            probes.add(key)
            try:
                recorder.wait_until(
                    lambda event: event["detail"].get("source_key") in probes, 15, "a probe"
                )
            except CommandError:
                return None
            return True

        wait_for(judged, PROBE_TIMEOUT, "the ingest function to receive S3 events", interval=0)

    raw = deployed[names.RAW_BUCKET_OUTPUT]
    recorder = EventRecorder(target, deployed["EventBusName"], ["driftline.ingest"])

    try:
        configure({**variables, "LARGE_FILE_BYTES": str(THRESHOLD_BYTES)})
        yield deployed[names.VALIDATION_STATE_MACHINE_OUTPUT]
    finally:
        configure(variables, probe=False)
        recorder.close()


def validation_execution(target: Target, machine: str, job_name: str) -> dict[str, Any]:
    sfn = target.client("stepfunctions")

    def probe() -> dict[str, Any] | None:
        for execution in sfn.list_executions(stateMachineArn=machine)["executions"]:
            described: dict[str, Any] = sfn.describe_execution(
                executionArn=execution["executionArn"]
            )
            if job_name in described["input"] and described["status"] != "RUNNING":
                return described
        return None

    return wait_for(probe, JOB_TIMEOUT, f"the validation execution of {job_name}", interval=1.0)


def processing_job_of(target: Target, key: str) -> dict[str, Any]:
    """The Processing job that validated the object under ``key`` (the newest one)."""
    sagemaker = target.client("sagemaker")
    jobs = sagemaker.list_processing_jobs(
        NameContains="-transactions-v-", SortBy="CreationTime", SortOrder="Descending"
    )["ProcessingJobSummaries"]
    for summary in jobs:
        job: dict[str, Any] = sagemaker.describe_processing_job(
            ProcessingJobName=summary["ProcessingJobName"]
        )
        if f'"key":"{key}"' in job["Environment"]["DRIFTLINE_OBJECT"]:
            return job
    raise AssertionError(f"no Processing job validated {key}")


def test_a_file_over_the_threshold_is_validated_by_the_processing_job(
    low_threshold: str, target: Target, recorder: EventRecorder, tmp_path: Path
) -> None:
    # Given a valid training file larger than the threshold
    path = unique_copy(tmp_path, SAMPLES / "transactions.csv", "large.csv")
    assert path.stat().st_size > THRESHOLD_BYTES
    # When it is dropped
    _, key, _ = drop_file(target, path, "transactions", "training")
    # Then the Processing job validates it and announces the version, as the function would
    event = recorder.wait_for("DatasetValidated", key, timeout=JOB_TIMEOUT)["detail"]
    manifest = read_json(target, event["manifest_uri"])
    assert manifest["rows"] == event["rows"] == len(path.read_text().splitlines()) - 1
    versions = {d["version"]: d for d in dataset_versions(target)}
    assert versions[event["version"]]["state"] == "validated"
    # And it was the job, run by the validation state machine, that did it (the event is
    # put before the job's process ends: the execution is waited for first)
    name = processing_job_of(target, key)["ProcessingJobName"]
    execution = validation_execution(target, low_threshold, name)
    assert execution["status"] == "SUCCEEDED"
    job = processing_job_of(target, key)
    assert job["ProcessingJobStatus"] == "Completed"
    assert "pytorch-training" in job["AppSpecification"]["ImageUri"]


def test_a_failed_processing_job_quarantines_the_file_with_its_reason(
    low_threshold: str,
    local_cloud: LocalCloud,
    target: Target,
    recorder: EventRecorder,
    tmp_path: Path,
) -> None:
    # Given a large file whose Processing job the local cloud will fail
    path = unique_copy(tmp_path, SAMPLES / "transactions.csv", "large-failing.csv")
    reason = "InternalServerError: the instance was lost (injected)"
    fault = {"kind": "processing-job", "action": "fail", "reason": reason,
             "match": "-transactions-v-", "count": 1}  # fmt: skip
    with armed_faults(local_cloud, fault):
        _, key, _ = drop_file(target, path, "transactions", "training")
        # Then the ingest function quarantines it with the job's failure as the reason
        event = recorder.wait_for("DatasetRejected", key, timeout=JOB_TIMEOUT)["detail"]
    report = read_json(target, event["report_uri"])
    (failure,) = [r for r in report["reasons"] if r["code"] == "validation_job_failed"]
    assert reason in failure["message"]
    # And the original stays where it was dropped, and the execution ended failed
    raw = target.outputs(names.DATA_STACK)[names.RAW_BUCKET_OUTPUT]
    target.client("s3").head_object(Bucket=raw, Key=key)
    job = processing_job_of(target, key)
    assert job["FailureReason"] == reason
    execution = validation_execution(target, low_threshold, job["ProcessingJobName"])
    assert execution["status"] == "FAILED"
    assert execution.get("error") == "ValidationJobFailed"
