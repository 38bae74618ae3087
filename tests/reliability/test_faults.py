"""Faults on the local cloud: each ends in a retry that succeeds, or in a failure event
and a dead-letter entry; nothing disappears.

Faults are armed on the local cloud's fault-injection route (``driftline.faults``),
scoped to one object or one training job by a match on its key or version, and
consumed as they fire; ``armed_faults`` disarms whatever is left.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from driftline.faults import armed, armed_faults
from driftline.localcloud import LocalCloud
from driftline.target import Target
from tests.e2e.conftest import EventRecorder, wait_for
from tests.reliability.conftest import Figures, Pipeline, drain
from tests.reliability.test_duplicates import training_runs
from tests.reliability.test_load import scoring_file, training_file

# The ingest function: its first attempt and Lambda's two retries of an async event.
ATTEMPTS = 3


def crash(function: str, match: str, count: int) -> dict[str, Any]:
    return {
        "kind": "lambda",
        "function": function,
        "action": "crash",
        "match": match,
        "count": count,
    }


def ingest_after(pipeline: Pipeline, key: str, body: bytes) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    pipeline.drop(key, body)
    (record,) = pipeline.wait_for_records({key}, timeout=120)[key]
    return record, time.monotonic() - started


def test_a_crash_mid_invocation_is_retried_and_ingested_once(
    pipeline: Pipeline, local_cloud: LocalCloud, figures: Figures
) -> None:
    # Given the ingest function's process will be killed during its next invocation
    run = pipeline.salt()
    key = f"scoring/faults-{run}/crash-{run}.csv"
    with armed_faults(local_cloud, crash(pipeline.function, f"crash-{run}", 1)):
        # When a file is dropped
        record, elapsed = ingest_after(pipeline, key, scoring_file("c001", run, bad=False))
        # Then the crash happened, and Lambda's retry ingested the file, once
        assert armed(local_cloud) == []
    assert record["state"] == "validated"
    runs = pipeline.invocations(0)[key]
    assert [r.status for r in runs] == ["validated"]
    figures.add(
        "Faults",
        "ingest process killed mid-invocation",
        f"retried, validated once ({elapsed:.1f} s)",
    )


def test_a_timed_out_invocation_is_retried_and_ingested_once(
    pipeline: Pipeline, local_cloud: LocalCloud, figures: Figures
) -> None:
    # Given the ingest function will hang during its next invocation (frozen, as if stuck
    # in C code) with a 3 s time limit instead of its 15 minutes
    run = pipeline.salt()
    key = f"scoring/faults-{run}/hang-{run}.csv"
    fault = {"kind": "lambda", "function": pipeline.function, "action": "timeout"}
    with armed_faults(local_cloud, {**fault, "match": f"hang-{run}", "seconds": 3}):
        record, elapsed = ingest_after(pipeline, key, scoring_file("c002", run, bad=False))
        assert armed(local_cloud) == []
    # Then the executor timed it out, and the retry ingested the file once
    assert record["state"] == "validated"
    assert any("Task timed out after 3.00 seconds" in line for line in pipeline.log_lines(0))
    figures.add(
        "Faults", "ingest invocation timing out", f"retried, validated once ({elapsed:.1f} s)"
    )


def test_an_invocation_that_always_crashes_lands_in_the_failure_queue(
    pipeline: Pipeline, local_cloud: LocalCloud, target: Target, figures: Figures
) -> None:
    # Given every attempt at one object crashes
    run = pipeline.salt()
    key = f"scoring/faults-{run}/doomed-{run}.csv"
    body = scoring_file("c003", run, bad=False)
    sqs = target.client("sqs")
    queue = pipeline.outputs["IngestFailuresQueueUrl"]
    started = time.monotonic()
    with armed_faults(local_cloud, crash(pipeline.function, f"doomed-{run}", ATTEMPTS)):
        pipeline.drop(key, body)

        # When Lambda has given up: the event is in the failure queue, with its payload
        def failure() -> dict[str, Any] | None:
            for message in sqs.receive_message(
                QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", []):
                document = json.loads(message["Body"])
                if f"doomed-{run}" in json.dumps(document.get("requestPayload")):
                    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
                    return dict(document)
            return None

        document = wait_for(failure, 120, "the failed event in the ingest failure queue", 0)
        assert armed(local_cloud) == []
    elapsed = time.monotonic() - started
    assert document["requestContext"]["condition"] == "RetriesExhausted"
    assert document["requestContext"]["approximateInvokeCount"] == ATTEMPTS
    # Then nothing was recorded, and the original is still in the raw bucket
    assert pipeline.records_of({key})[key] == []
    assert pipeline.s3.head_object(Bucket=pipeline.raw, Key=key)["ContentLength"] == len(body)
    # And redriving the dead-lettered event ingests it, once
    outcome = pipeline.invoke(document["requestPayload"])["outcomes"][0]
    assert outcome["status"] == "validated"
    assert len(pipeline.records_of({key})[key]) == 1
    figures.add(
        "Faults",
        f"ingest crashing on all {ATTEMPTS} attempts",
        f"failure queue after {elapsed:.1f} s, original kept; redrive validated it once",
    )


def version_of(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:16]


def train_with_faults(
    pipeline: Pipeline,
    recorder: EventRecorder,
    training_recorder: EventRecorder,
    local_cloud: LocalCloud,
    name: str,
    *faults: dict[str, Any],
) -> tuple[str, dict[str, Any], float]:
    """Drop a good training file with ``faults`` armed for its training job; the outcome."""
    run = pipeline.salt()
    body = training_file(hashlib.sha256(name.encode()).hexdigest()[:4], run, bad=False)
    version = version_of(body)
    key = f"transactions/faults-{run}/{name}.csv"
    started = time.monotonic()
    with armed_faults(local_cloud, *({**f, "match": version[:8]} for f in faults)):
        pipeline.drop(key, body)
        assert recorder.wait_for("DatasetValidated", key)["detail"]["version"] == version

        event = wait_for_training(training_recorder, version)
        assert armed(local_cloud) == []
    return version, event, time.monotonic() - started


def wait_for_training(training_recorder: EventRecorder, version: str) -> dict[str, Any]:
    """The training outcome event of ``version``: ModelRegistered/Rejected name the version,
    TrainingFailed names the failed job (whose name holds the version's first 8 digits)."""
    wanted = ("ModelRegistered", "ModelRejected", "TrainingFailed")

    def probe() -> dict[str, Any] | None:
        for event in drain(training_recorder):
            if event["detail-type"] in wanted and version[:8] in json.dumps(event["detail"]):
                return event
        return None

    return wait_for(probe, 240, f"the training outcome of {version}", interval=0)


def test_a_failing_training_job_ends_in_a_training_failed_event(
    pipeline: Pipeline,
    target: Target,
    recorder: EventRecorder,
    training_recorder: EventRecorder,
    local_cloud: LocalCloud,
    figures: Figures,
) -> None:
    fault = {"kind": "training-job", "action": "fail", "reason": "AlgorithmError: out of memory"}
    version, event, elapsed = train_with_faults(
        pipeline, recorder, training_recorder, local_cloud, "job-fails", fault
    )
    assert event["detail-type"] == "TrainingFailed"
    assert "AlgorithmError: out of memory" in event["detail"]["cause"]
    assert [run["status"] for run in training_runs(target, version)] == ["FAILED"]
    figures.add(
        "Faults",
        "training job failing",
        f"TrainingFailed event, execution FAILED ({elapsed:.1f} s)",
    )


def test_a_training_job_past_its_stopping_condition_ends_in_a_training_failed_event(
    pipeline: Pipeline,
    target: Target,
    recorder: EventRecorder,
    training_recorder: EventRecorder,
    local_cloud: LocalCloud,
    figures: Figures,
) -> None:
    fault = {"kind": "training-job", "action": "max_runtime", "seconds": 0}
    version, event, elapsed = train_with_faults(
        pipeline, recorder, training_recorder, local_cloud, "job-overruns", fault
    )
    assert event["detail-type"] == "TrainingFailed"
    assert "MaxRuntimeExceeded" in event["detail"]["cause"]
    assert [run["status"] for run in training_runs(target, version)] == ["FAILED"]
    figures.add(
        "Faults",
        "training job exceeding MaxRuntimeInSeconds",
        f"stopped (MaxRuntimeExceeded), TrainingFailed event ({elapsed:.1f} s)",
    )


def test_sagemaker_throttling_is_absorbed_by_the_state_machine_retry(
    pipeline: Pipeline,
    target: Target,
    recorder: EventRecorder,
    training_recorder: EventRecorder,
    local_cloud: LocalCloud,
    figures: Figures,
) -> None:
    throttled = {"kind": "sagemaker-api", "operation": "CreateTrainingJob", "action": "error"}
    version, event, elapsed = train_with_faults(
        pipeline,
        recorder,
        training_recorder,
        local_cloud,
        "throttled",
        {**throttled, "code": "ThrottlingException"},
        {**throttled, "code": "ResourceLimitExceeded"},
    )
    assert event["detail-type"] in ("ModelRegistered", "ModelRejected")
    (run,) = training_runs(target, version)
    assert run["status"] == "SUCCEEDED"
    history = target.client("stepfunctions").get_execution_history(
        executionArn=run["arn"], maxResults=1000
    )["events"]
    errors = [e["taskFailedEventDetails"]["error"] for e in history if e["type"] == "TaskFailed"]
    assert errors == [
        "SageMaker.AmazonSageMakerException",
        "SageMaker.ResourceLimitExceededException",
    ]
    figures.add(
        "Faults",
        "CreateTrainingJob throttled, then ResourceLimitExceeded",
        f"absorbed by Retry, model trained ({elapsed:.1f} s)",
    )
