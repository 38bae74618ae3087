"""The local cloud's SageMaker Processing jobs: the entry point really runs as a process
under the Processing container contract, and Step Functions follows it with ``.sync``."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from driftline.target import Target
from tests.e2e.conftest import wait_for
from tests.e2e.test_sagemaker_local import ROLE, RUNNING, SageMaker

pytestmark = pytest.mark.e2e

IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.10.0-cpu-py313"
CODE = "/opt/ml/processing/input/code"
DATA = "/opt/ml/processing/input/data"
RESULT = "/opt/ml/processing/output/result"

# Reads its input, writes a result and what it saw, prints a line for the logs.
CONTRACT_JOB = """
import json, os, sys
source, target = sys.argv[sys.argv.index("--input") + 1], sys.argv[sys.argv.index("--output") + 1]
rows = open(os.path.join(source, "rows.csv")).read().splitlines()
os.makedirs(os.path.join(target, "nested"), exist_ok=True)
with open(os.path.join(target, "nested", "seen.json"), "w") as f:
    json.dump({"rows": len(rows), "greeting": os.environ["GREETING"],
               "scratch": os.environ["SCRATCH"], "python": sys.version_info[:2]}, f)
print(f"processed {len(rows)} rows", flush=True)
"""
FAILING_JOB = """
import os, sys
path = os.environ["MESSAGE"]
os.makedirs(os.path.dirname(path), exist_ok=True)
open(path, "w").write("KeyError: 'amount' is not in the file")
print("failing now", flush=True)
sys.exit(2)
"""
SLEEPING_JOB = """
import time
print("sleeping", flush=True)
time.sleep(120)
"""


@pytest.fixture
def sagemaker(target: Target, test_roles: None) -> SageMaker:
    return SageMaker(target)


def processing_request(sm: SageMaker, name: str, script: str, **extra: Any) -> dict[str, Any]:
    code = sm.put(f"processing/{name}/job.py", script)
    sm.put(f"processing/{name}/data/rows.csv", "1,2\n3,4\n5,6\n")
    request: dict[str, Any] = {
        "ProcessingJobName": name,
        "ProcessingInputs": [
            {"InputName": "code", "S3Input": {"S3Uri": code, "LocalPath": CODE,
                                              "S3DataType": "S3Prefix", "S3InputMode": "File"}},
            {"InputName": "data", "S3Input": {"S3Uri": f"s3://{sm.bucket}/processing/{name}/data",
                                              "LocalPath": DATA, "S3DataType": "S3Prefix",
                                              "S3InputMode": "File"}},
        ],
        "ProcessingOutputConfig": {"Outputs": [
            {"OutputName": "result", "S3Output": {
                "S3Uri": f"s3://{sm.bucket}/processing/{name}/result", "LocalPath": RESULT,
                "S3UploadMode": "EndOfJob"}},
        ]},
        "ProcessingResources": {"ClusterConfig": {
            "InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}},
        "AppSpecification": {
            "ImageUri": IMAGE,
            "ContainerEntrypoint": ["python3", f"{CODE}/job.py"],
            "ContainerArguments": ["--input", DATA, "--output", RESULT],
        },
        "Environment": {"GREETING": "hello", "SCRATCH": "/opt/ml/processing/work",
                        "MESSAGE": "/opt/ml/output/message"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
        "RoleArn": ROLE,
    }  # fmt: skip
    request.update(extra)
    return request


def finished(sm: SageMaker, name: str, timeout: float = 60) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        job: dict[str, Any] = sm.sm.describe_processing_job(ProcessingJobName=name)
        return None if job["ProcessingJobStatus"] in RUNNING else job

    return wait_for(probe, timeout, f"processing job {name} to finish", interval=0.2)


def job_log(sm: SageMaker, name: str) -> list[str] | None:
    """The lines of the job's log stream, once there are any."""
    group = "/aws/sagemaker/ProcessingJobs"
    try:
        streams = sm.logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=name)
    except sm.logs.exceptions.ResourceNotFoundException:
        return None
    lines = [
        event["message"]
        for stream in streams["logStreams"]
        for event in sm.logs.get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"]
        )["events"]
    ]
    return lines or None


def test_a_processing_job_runs_its_entry_point_on_its_inputs_and_uploads_its_outputs(
    sagemaker: SageMaker,
) -> None:
    # Given a job whose entry point reads an input, writes an output and logs
    name = f"proc-{uuid.uuid4().hex[:8]}"
    sagemaker.sm.create_processing_job(**processing_request(sagemaker, name, CONTRACT_JOB))
    # When it finishes
    job = finished(sagemaker, name)
    # Then it completed, its arguments and environment naming paths inside the job
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    seen = json.loads(sagemaker.get(f"processing/{name}/result/nested/seen.json"))
    assert seen["rows"] == 3 and seen["greeting"] == "hello"
    assert seen["scratch"].endswith("/processing/work") and not seen["scratch"].startswith("/opt")
    assert seen["python"] == [3, 13]
    # And its output went to CloudWatch Logs, and it is listed
    assert "processed 3 rows" in wait_for(
        lambda: job_log(sagemaker, name), 30, f"the log of {name}", interval=0.5
    )
    listed = sagemaker.sm.list_processing_jobs(NameContains=name)["ProcessingJobSummaries"]
    assert [j["ProcessingJobName"] for j in listed] == [name]


def test_a_failing_job_reports_its_exit_message_as_the_failure_reason(
    sagemaker: SageMaker,
) -> None:
    name = f"proc-{uuid.uuid4().hex[:8]}"
    sagemaker.sm.create_processing_job(**processing_request(sagemaker, name, FAILING_JOB))
    job = finished(sagemaker, name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"] == "AlgorithmError: KeyError: 'amount' is not in the file"
    assert job["ExitMessage"] == "KeyError: 'amount' is not in the file"


def test_a_stopped_job_ends_stopped(sagemaker: SageMaker) -> None:
    name = f"proc-{uuid.uuid4().hex[:8]}"
    sagemaker.sm.create_processing_job(**processing_request(sagemaker, name, SLEEPING_JOB))
    sagemaker.sm.stop_processing_job(ProcessingJobName=name)
    job = finished(sagemaker, name, timeout=30)
    assert job["ProcessingJobStatus"] == "Stopped"


def test_an_entry_point_that_needs_the_image_is_refused_with_the_reason(
    sagemaker: SageMaker,
) -> None:
    name = f"proc-{uuid.uuid4().hex[:8]}"
    request = processing_request(sagemaker, name, CONTRACT_JOB)
    request["AppSpecification"]["ContainerEntrypoint"] = ["/usr/bin/run-processing"]
    with pytest.raises(ClientError, match="must start with a Python interpreter"):
        sagemaker.sm.create_processing_job(**request)


def test_step_functions_follows_a_processing_job_with_sync(
    sagemaker: SageMaker, target: Target
) -> None:
    # Given a state machine that runs a processing job with .sync
    name = f"proc-{uuid.uuid4().hex[:8]}"
    definition = {
        "StartAt": "Process",
        "States": {
            "Process": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sagemaker:createProcessingJob.sync",
                "Parameters": processing_request(sagemaker, name, CONTRACT_JOB),
                "End": True,
            }
        },
    }
    machine = sagemaker.sfn.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]
    execution = sagemaker.sfn.start_execution(stateMachineArn=machine)["executionArn"]

    # When it runs, then it waits for the job and returns its description
    def done() -> dict[str, Any] | None:
        described: dict[str, Any] = sagemaker.sfn.describe_execution(executionArn=execution)
        return None if described["status"] == "RUNNING" else described

    described = wait_for(done, 90, "the execution to finish", interval=0.5)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"])["ProcessingJobStatus"] == "Completed"
