"""Files above the large-file threshold, validated by the Processing job on the local cloud.

The threshold is the stage's ``large_file_threshold_mib``. The session's extended
deployment sets it to 1 MiB (``tests.e2e.conftest.EXTENDED_CONTEXT``), as a test stage
would, so these tests drop files a little over 1 MiB; every other file the extended
deployment's tests drop is far smaller and still validated by the ingest function.
"""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path
from typing import Any

import pytest
from driftline_runtime import names

from driftline.actions import drop_file
from driftline.faults import armed_faults
from driftline.localcloud import LocalCloud
from driftline.status import datasets as dataset_versions
from driftline.target import Target
from tests.e2e.conftest import EXTENDED_CONTEXT, EventRecorder, wait_for
from tests.e2e.test_ingestion import SAMPLES, read_json

pytestmark = [pytest.mark.e2e, pytest.mark.extended_deployment]

THRESHOLD_BYTES = int(EXTENDED_CONTEXT["driftline:large_file_threshold_mib"]) * 1024 * 1024
JOB_TIMEOUT = 240


@pytest.fixture
def machine(extended_deployment: dict[str, str]) -> str:
    """The validation state machine of the deployment whose threshold is 1 MiB."""
    return extended_deployment[names.VALIDATION_STATE_MACHINE_OUTPUT]


def large_copy(tmp_path: Path, name: str) -> Path:
    """The training sample repeated past the threshold, every row with an id of its own."""
    rows = list(csv.DictReader(io.StringIO((SAMPLES / "transactions.csv").read_text())))
    path = tmp_path / name
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        while out.tell() <= THRESHOLD_BYTES * 1.2:
            salt = uuid.uuid4().hex[:4]
            writer.writerows({**row, "transaction_id": f"t-{salt}{row['transaction_id'][6:]}"}
                             for row in rows)  # fmt: skip
    return path


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
    machine: str, target: Target, recorder: EventRecorder, tmp_path: Path
) -> None:
    # Given a valid training file larger than the threshold
    path = large_copy(tmp_path, "large.csv")
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
    execution = validation_execution(target, machine, name)
    assert execution["status"] == "SUCCEEDED"
    job = processing_job_of(target, key)
    assert job["ProcessingJobStatus"] == "Completed"
    assert "pytorch-training" in job["AppSpecification"]["ImageUri"]


def test_a_failed_processing_job_quarantines_the_file_with_its_reason(
    machine: str,
    local_cloud: LocalCloud,
    target: Target,
    recorder: EventRecorder,
    tmp_path: Path,
) -> None:
    # Given a large file whose Processing job the local cloud will fail
    path = large_copy(tmp_path, "large-failing.csv")
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
    execution = validation_execution(target, machine, job["ProcessingJobName"])
    assert execution["status"] == "FAILED"
    assert execution.get("error") == "ValidationJobFailed"
