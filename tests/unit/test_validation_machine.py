"""Contract tests of the large-file validation state machine (``validation.asl.json``).

The walk (``tests/unit/asl.py``) starts from the execution input the ingest function
builds (``processing.validation_request``), answers the Processing job as
``createProcessingJob.sync`` does, and checks the ingest function's payload against
``ValidationFailure``, the event against ``ValidationFailed`` and what a finished
execution leaves against ``ValidationState``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from driftline_runtime.steps.validation import (
    CreateProcessingJobRequest,
    FailureRecorded,
    ValidationFailure,
    ValidationState,
)

from infra.lint_templates import validate_asl
from tests.unit.asl import TaskFailure, Trace, Walker
from tests.unit.test_step_contracts import (
    ACCOUNT,
    STATE_MACHINES,
    check_events,
    definition,
    lambda_answer,
    publish_states,
)

EXECUTION = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:driftline-test-validation:v-1"
INGEST_ARN = "${IngestFunctionArn}"
JOB_FAILURE = {"ProcessingJobStatus": "Failed", "FailureReason": "AlgorithmError: killed"}


@pytest.fixture
def started(load_logic: Callable[[str, str], ModuleType]) -> dict[str, Any]:
    """The execution input, as the ingest function builds it for a 6 GiB file."""
    processing = load_logic("ingest", "processing")
    objects = load_logic("ingest", "objects")
    settings = processing.ProcessingSettings(
        stage="test",
        state_machine_arn=f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:driftline-test-validation",
        image_uri="763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.10.0-cpu-py313",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/validation-job",
        instance_type="ml.m5.xlarge",
        max_runtime_seconds=3600,
        code_bucket="assets",
        code_key="validator/bundle.tar.gz",
        key_arn=None,
        environment={"CURATED_BUCKET": "curated"},
    )
    ref = objects.ObjectRef(
        bucket="raw", key="transactions/big.csv", version_id="v1", size=6 * 1024**3
    )
    validation = processing.validation_request(settings, "transactions", ref)
    document: dict[str, Any] = validation.model_dump(mode="json", exclude_none=True)
    return document


def responder(*, job_fails: bool, record: FailureRecorded) -> Callable[..., Any]:
    def respond(name: str, state: dict[str, Any], given: Any) -> Any:
        resource = state["Resource"]
        if resource == "arn:aws:states:::sagemaker:createProcessingJob.sync":
            CreateProcessingJobRequest.model_validate(given)
            if job_fails:
                raise TaskFailure("SageMaker.ProcessingJobFailed", json.dumps(JOB_FAILURE))
            return {**given, "ProcessingJobStatus": "Completed", "ProcessingJobArn": "arn:job"}
        if resource == "arn:aws:states:::lambda:invoke":
            assert given["FunctionName"] == INGEST_ARN
            ValidationFailure.model_validate(given["Payload"])
            return lambda_answer(record)
        assert resource == "arn:aws:states:::events:putEvents", resource
        return {"Entries": [{"EventId": "e"}], "FailedEntryCount": 0}

    return respond


def walk(
    started: dict[str, Any], *, job_fails: bool = False, failing: frozenset[str] = frozenset()
) -> Trace:
    record = FailureRecorded(
        status="rejected",
        dataset="transactions",
        version="0123456789abcdef",
        reasons=[{"code": "validation_job_failed", "message": "m", "details": {}}],
    )
    context = {"Execution": {"Id": EXECUTION, "Input": started}}
    walker = Walker(responder(job_fails=job_fails, record=record), failing)
    return walker.run(definition("validation.asl.json"), started, context)


def test_a_completed_job_ends_the_execution_with_nothing_more_to_do(
    started: dict[str, Any],
) -> None:
    # Given a routed file whose Processing job completes
    trace = walk(started)
    # Then the execution succeeds without calling the function or putting an event: the
    # job wrote the outputs and the DatasetValidated/DatasetRejected event itself
    assert not trace.failed
    assert trace.states == ["Validate", "Validated"]
    state = ValidationState.model_validate(trace.output)
    assert state.job is not None and state.job.ProcessingJobStatus == "Completed"


def test_a_failed_job_has_the_function_quarantine_the_file(started: dict[str, Any]) -> None:
    # Given a routed file whose Processing job fails
    trace = walk(started, job_fails=True)
    # Then the ingest function gets the object, the job's name and SageMaker's failure
    failure = ValidationFailure.model_validate(trace.inputs["RecordFailure"]["Payload"])
    assert failure.job_name == started["request"]["ProcessingJobName"]
    assert failure.object.key == "transactions/big.csv"
    assert failure.error.error == "SageMaker.ProcessingJobFailed"
    assert "AlgorithmError: killed" in failure.error.cause
    assert failure.execution == EXECUTION
    # And the execution ends failed, with the quarantine's outcome in its state
    assert trace.failed and trace.states[-1] == "ValidationJobFailed"
    state = ValidationState.model_validate(trace.output)
    assert state.failure is not None and state.failure.result.status == "rejected"
    assert check_events(trace) == []


def test_a_file_that_cannot_be_quarantined_either_is_announced(started: dict[str, Any]) -> None:
    # Given a failed job, and a function that fails to quarantine the file as well
    trace = walk(started, job_fails=True, failing=frozenset({"RecordFailure"}))
    # Then ValidationFailed names the object still in the raw bucket and the job's failure
    assert check_events(trace) == ["ValidationFailed"]
    ((_, entry),) = trace.events
    assert entry["Detail"]["source_key"] == "transactions/big.csv"
    assert entry["Detail"]["error"] == "SageMaker.ProcessingJobFailed"
    assert trace.failed and trace.states[-1] == "Failed"
    state = ValidationState.model_validate(trace.output)
    assert state.record_error is not None
    assert publish_states(definition("validation.asl.json")) <= set(trace.states)


def test_every_task_retries_what_aws_raises_and_catches_the_rest() -> None:
    machine = definition("validation.asl.json")
    for name, state in machine["States"].items():
        if state["Type"] != "Task":
            continue
        retried = {error for retrier in state["Retry"] for error in retrier["ErrorEquals"]}
        # AWS raises SageMaker throttling as its base exception, never ThrottlingException
        assert "SageMaker.ThrottlingException" not in retried, name
        if "sagemaker" in state["Resource"]:
            assert {"SageMaker.AmazonSageMakerException"} <= retried
            assert "SageMaker.ResourceLimitExceededException" in retried
        if not name.startswith("Publish"):
            assert [c["ErrorEquals"] for c in state["Catch"]] == [["States.ALL"]], name


def test_asl_validator_accepts_the_definition() -> None:
    # Given the file with its placeholders filled as CloudFormation fills them
    text = (STATE_MACHINES / "validation.asl.json").read_text()
    text = text.replace("${Partition}", "aws").replace("${EventBusName}", "driftline-test")
    text = text.replace(
        INGEST_ARN, f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:driftline-test-ingest"
    )
    # Then the pinned asl-validator finds nothing wrong
    assert validate_asl("validation", text) == []
