"""Contract tests between the ASL files and the step and event models.

Each test walks a state machine (``tests/unit/asl.py``) as Step Functions moves its state
data, answering every task with an example of the output model of the step it calls.
Along the way each Lambda payload the ASL builds must validate against the input model
of its function, each ``ResultSelector``/``ResultPath`` must leave what the next steps'
paths select, every ``Publish*`` state's event must validate against its model in
``driftline_runtime.events`` (with the model's source), and the state data a finished
execution leaves must validate against the state model ``driftline status`` reads.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from driftline_runtime import events, names
from driftline_runtime.drift import Outcome
from driftline_runtime.events import DatasetValidated, DriftlineEvent
from driftline_runtime.steps import CreateModelRequest, Tag
from driftline_runtime.steps.batch_inference import (
    BatchInferenceState,
    DriftOutcome,
    MonitorDriftInput,
    ResolvedInference,
    ResolveInferenceInput,
    TransformJobResult,
    WritePredictionsInput,
    WrittenPredictions,
)
from driftline_runtime.steps.training import (
    CreateTrainingJobRequest,
    EvaluateModelInput,
    Evaluation,
    PreparedTraining,
    PrepareTrainingInput,
    RegisterModelInput,
    Registration,
    TrainingJob,
    TrainingRequest,
    TrainingState,
)
from pydantic import BaseModel

from driftline.status import inference_runs
from tests.unit.asl import TaskFailure, Trace, Walker

ROOT = Path(__file__).resolve().parents[2]
STATE_MACHINES = ROOT / "state_machines"
ACCOUNT = "123456789012"
EXECUTION = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:driftline-test-training:run-1"
PACKAGE = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package/driftline-test-transactions/3"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k"


def definition(name: str) -> dict[str, Any]:
    """The ASL file as the state machine runs it in the commercial partition: CloudFormation
    fills ``${Partition}`` (the other placeholders stay, for the responders to check)."""
    text = (STATE_MACHINES / name).read_text().replace("${Partition}", "aws")
    return dict(json.loads(text))


def event_models() -> dict[str, type[DriftlineEvent]]:
    return {
        model.detail_type(): model
        for model in vars(events).values()
        if isinstance(model, type)
        and issubclass(model, DriftlineEvent)
        and hasattr(model, "SOURCE")
    }


def lambda_answer(output: BaseModel) -> dict[str, Any]:
    """What a lambda:invoke task returns: the function's result as its Payload, serialised
    as ``driftline_runtime.steps.step`` does (None fields left out)."""
    return {
        "StatusCode": 200,
        "ExecutedVersion": "$LATEST",
        "Payload": output.model_dump(mode="json", by_alias=True, exclude_none=True),
    }


def check_events(trace: Trace) -> list[str]:
    """Every event the walk put validates against its model; their detail-types."""
    models = event_models()
    put = []
    for state, entry in trace.events:
        assert state.startswith("Publish"), state
        model = models[entry["DetailType"]]
        assert entry["Source"] == model.SOURCE, state
        assert entry["EventBusName"] == "${EventBusName}"
        model.model_validate(entry["Detail"])
        put.append(entry["DetailType"])
    return put


def publish_states(machine: dict[str, Any]) -> set[str]:
    return {name for name in machine["States"] if name.startswith("Publish")}


# -- training ------------------------------------------------------------------------------
TRAINING_INPUTS: dict[str, dict[str, Any]] = {
    "by hand": {"dataset": "transactions", "version": "a3f2d89373014dfb"},
    "retraining": {
        "dataset": "transactions",
        "version": "a3f2d89373014dfb",
        "retraining": {
            "event_id": "e-1",
            "dataset": "scoring",
            "version": "b4c5d6e7f8a9b0c1",
            "model_package_arn": PACKAGE,
            "drifted_features": ["amount", names.PREDICTION_FEATURE],
            "report_uri": "s3://predictions/drift/scoring/b4c5/run.json",
            "time": "2026-11-01T10:00:00Z",
        },
    },
    "the rule's event": {
        "version": "0",
        "id": "7bf73129-1428-4cd3-a780-95db273d1602",
        "detail-type": DatasetValidated.detail_type(),
        "source": DatasetValidated.SOURCE,
        "account": ACCOUNT,
        "time": "2026-11-01T10:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "dataset": "transactions",
            "kind": "training",
            "version": "a3f2d89373014dfb",
            "contract_version": "1.0.0",
            "source_bucket": "raw",
            "source_key": "transactions/t.csv",
            "source_version_id": None,
            "report_uri": "s3://curated/reports/transactions/a3f2d89373014dfb.json",
            "data_uri": "s3://curated/curated/transactions/a3f2d89373014dfb.parquet",
            "manifest_uri": "s3://curated/manifests/transactions/a3f2d89373014dfb.json",
            "rows": 2000,
            "dropped_rows": 0,
        },
    },
}


def model_request(name: str) -> CreateModelRequest:
    """A CreateModel request as the register and resolve functions build it."""
    return CreateModelRequest.model_validate(
        {
            "ModelName": name,
            "ExecutionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/sagemaker",
            "PrimaryContainer": {
                "Image": IMAGE,
                "ModelDataUrl": "s3://artifacts/models/transactions/x/output/model.tar.gz",
                "Environment": {
                    "SAGEMAKER_PROGRAM": "inference.py",
                    "SAGEMAKER_SUBMIT_DIRECTORY": names.MODEL_CODE_DIRECTORY,
                },
            },
            "EnableNetworkIsolation": True,
            "Tags": [{"Key": names.PROJECT_TAG, "Value": names.PROJECT}],
        }
    )


def training_request() -> CreateTrainingJobRequest:
    channel = {
        "ContentType": "text/csv",
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": "s3://artifacts/training/transactions/dl-job/train/",
                "S3DataDistributionType": "FullyReplicated",
            }
        },
    }
    return CreateTrainingJobRequest.model_validate(
        {
            "TrainingJobName": "dl-transactions-a3f2d893-20261101100000",
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/sagemaker",
            "AlgorithmSpecification": {
                "TrainingImage": IMAGE,
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": names.PRIMARY_METRIC, "Regex": "x=(.*);"}],
            },
            "HyperParameters": {"target_column": "is_fraud"},
            "InputDataConfig": [{"ChannelName": c, **channel} for c in names.SPLITS],
            "OutputDataConfig": {
                "S3OutputPath": "s3://artifacts/models/transactions/",
                "KmsKeyId": KEY,
            },
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 10,
                "VolumeKmsKeyId": KEY,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 900},
            "EnableInterContainerTrafficEncryption": True,
            "Tags": [{"Key": names.PROJECT_TAG, "Value": names.PROJECT}],
        }
    )


def training_job() -> dict[str, Any]:
    """What createTrainingJob.sync returns: SageMaker's whole description."""
    request = training_request().model_dump(mode="json", exclude_none=True)
    answer = {
        **request,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/x",
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "ModelArtifacts": {
            "S3ModelArtifacts": "s3://artifacts/models/transactions/x/output/model.tar.gz"
        },
        "FinalMetricDataList": [
            {"MetricName": names.PRIMARY_METRIC, "Value": 0.87, "Timestamp": 1_700_000_095_000}
        ],
        "TrainingStartTime": 1_700_000_000_000,
        "TrainingEndTime": 1_700_000_095_500,
    }
    TrainingJob.model_validate(answer)
    return answer


def training_responder(status: str) -> Any:
    functions: dict[str, tuple[type[BaseModel], BaseModel]] = {
        "${PrepareFunctionArn}": (
            PrepareTrainingInput,
            PreparedTraining(
                dataset="transactions",
                version="a3f2d89373014dfb",
                manifest_uri="s3://curated/manifests/transactions/a3f2d89373014dfb.json",
                rows={"train": 1400, "validation": 300, "test": 300},
                request=training_request(),
            ),
        ),
        "${EvaluateFunctionArn}": (
            EvaluateModelInput,
            Evaluation(
                group="driftline-test-transactions",
                metrics={names.PRIMARY_METRIC: 0.87},
                status=status,
                reason="why",
                metric=0.87,
            ),
        ),
        "${RegisterFunctionArn}": (
            RegisterModelInput,
            Registration(
                model_package_arn=PACKAGE,
                status=status,
                baseline_uri="s3://artifacts/models/transactions/x/baseline.json",
                model=model_request("dl-test-transactions-a3f2d893-20261101100000"),
            ),
        ),
    }

    def respond(name: str, state: dict[str, Any], given: Any) -> Any:
        resource = state["Resource"]
        if resource == "arn:aws:states:::lambda:invoke":
            model, output = functions[given["FunctionName"]]
            model.model_validate(given["Payload"])
            return lambda_answer(output)
        if resource == "arn:aws:states:::sagemaker:createTrainingJob.sync":
            CreateTrainingJobRequest.model_validate(given)
            return training_job()
        if resource == "arn:aws:states:::sagemaker:createModel":
            # The whole request, as the register function built it
            assert CreateModelRequest.model_validate(given).EnableNetworkIsolation
            return {"ModelArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/{given['ModelName']}"}
        assert resource == "arn:aws:states:::events:putEvents", resource
        return {"Entries": [{"EventId": "e"}], "FailedEntryCount": 0}

    return respond


def walk_training(execution_input: dict[str, Any], status: str, failing: frozenset[str]) -> Trace:
    context = {"Execution": {"Id": EXECUTION, "Input": execution_input}}
    walker = Walker(training_responder(status), failing)
    return walker.run(definition("training.asl.json"), execution_input, context)


@pytest.mark.parametrize("execution_input", sorted(TRAINING_INPUTS))
@pytest.mark.parametrize(
    ("status", "announced"),
    [
        ("Approved", "ModelRegistered"),
        ("PendingManualApproval", "ModelRegistered"),
        ("Rejected", "ModelRejected"),
    ],
)
def test_a_training_run_hands_each_step_its_model_and_announces_the_outcome(
    execution_input: str, status: str, announced: str
) -> None:
    # Given a training execution started by hand, by the retraining gate or by the rule
    started = TRAINING_INPUTS[execution_input]
    # When it runs through, each step answering with its output model
    trace = walk_training(started, status, frozenset())
    # Then every payload validated against its step's input model (in the responder),
    # Prepare understood the execution input, and the outcome event validates
    assert not trace.failed
    prepared = PrepareTrainingInput.model_validate(trace.inputs["Prepare"]["Payload"])
    assert prepared.request == TrainingRequest.from_execution_input(started)
    assert check_events(trace) == [announced]
    # And what the execution leaves is what `driftline status` reads
    state = TrainingState.model_validate(trace.output)
    assert state.evaluation is not None and state.evaluation.result.status == status
    # And every registered package has its model, a rejected one too (a person may
    # approve it in the registry, and its deployment serves that model)
    assert state.model is not None
    assert "CreateModel" in trace.states


TRAINING_TASKS = (
    "Prepare",
    "Train",
    "Evaluate",
    "Register",
    "CreateModel",
    "PublishModelRegistered",
)


@pytest.mark.parametrize("failing", TRAINING_TASKS)
def test_a_failed_training_step_is_announced_as_training_failed(failing: str) -> None:
    # Given a training execution whose step fails
    started = TRAINING_INPUTS["by hand"]
    # When it runs
    trace = walk_training(started, "Approved", frozenset({failing}))
    # Then the failure event validates, and the execution fails with its error recorded
    assert trace.failed
    assert check_events(trace)[-1] == "TrainingFailed"
    state = TrainingState.model_validate(trace.output)
    assert state.error is not None and state.error.error == "States.TaskFailed"


def test_every_training_event_is_put_by_some_walk() -> None:
    reached: set[str] = set()
    for status in ("Approved", "Rejected"):
        reached.update(
            s for s in walk_training(TRAINING_INPUTS["by hand"], status, frozenset()).states
        )
    reached.update(
        walk_training(TRAINING_INPUTS["by hand"], "Approved", frozenset({"Train"})).states
    )
    assert publish_states(definition("training.asl.json")) <= reached


# -- batch inference -----------------------------------------------------------------------
INFERENCE_INPUTS: dict[str, dict[str, Any]] = {
    "the rule's request": {"dataset": "scoring", "version": "b4c5d6e7f8a9b0c1"},
    "a schedule": {"dataset": "scoring", "scheduled": True},
}
PARTS = 3


def resolved() -> ResolvedInference:
    run = "b4c5d6e7-20261101100000"
    return ResolvedInference.model_validate(
        {
            "dataset": "scoring",
            "version": "b4c5d6e7f8a9b0c1",
            "training_dataset": "transactions",
            "run": run,
            "rows": 2500,
            "parts": PARTS,
            "id_column": "transaction_id",
            "data_uri": "s3://curated/curated/scoring/b4c5d6e7f8a9b0c1.parquet",
            "manifest_uri": "s3://curated/manifests/scoring/b4c5d6e7f8a9b0c1.json",
            "model_package_arn": PACKAGE,
            "baseline_uri": "s3://artifacts/models/transactions/x/baseline.json",
            "model": model_request(f"dl-test-scoring-{run}"),
            "input": {
                "bucket": "artifacts",
                "prefix": f"inference/scoring/{run}/input/",
                "results_prefix": f"inference/scoring/{run}/results/",
            },
            "transform": {
                "job_prefix": f"dl-scoring-{run}",
                "output_path": f"s3://artifacts/inference/scoring/{run}/output/",
                "instance_type": "ml.m5.large",
                "kms_key": KEY,
                "max_payload_mb": 6,
                "max_concurrency": 2,
            },
        }
    )


def inference_responder(outcome: Outcome, failed_part: int | None) -> Any:
    drifted = outcome == "drifted"
    functions: dict[str, tuple[type[BaseModel], BaseModel]] = {
        "${PrepareFunctionArn}": (ResolveInferenceInput, resolved()),
        "${WritePredictionsFunctionArn}": (
            WritePredictionsInput,
            WrittenPredictions(
                predictions_uri="s3://predictions/predictions/scoring/b4c5/run/predictions.parquet",
                rows=2500,
                transform_jobs=[f"dl-scoring-run-{i}" for i in range(PARTS)],
            ),
        ),
        "${MonitorDriftFunctionArn}": (
            MonitorDriftInput,
            DriftOutcome(
                drifted=drifted,
                outcome=outcome,
                rows=30 if outcome == "insufficient_rows" else 2500,
                min_rows=50,
                drifted_features=["amount"] if drifted else [],
                report_uri="s3://predictions/drift/scoring/b4c5/run.json",
            ),
        ),
    }

    def respond(name: str, state: dict[str, Any], given: Any) -> Any:
        resource = state.get("Resource") or state["ItemReader"]["Resource"]
        if resource == "arn:aws:states:::lambda:invoke":
            model, output = functions[given["FunctionName"]]
            model.model_validate(given["Payload"])
            return lambda_answer(output)
        if resource == "arn:aws:states:::s3:listObjectsV2":
            prefix = given["Prefix"]
            return [{"Key": f"{prefix}part-{i:04d}.csv", "Size": 10} for i in range(PARTS)]
        if resource == "arn:aws:states:::sagemaker:createModel":
            assert CreateModelRequest.model_validate(given).EnableNetworkIsolation
            return {"ModelArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model/{given['ModelName']}"}
        if resource == "arn:aws:states:::sagemaker:createTransformJob.sync":
            job = given["TransformJobName"]
            if failed_part is not None and job.endswith(f"-{failed_part}"):
                cause = {"TransformJobStatus": "Failed", "FailureReason": "ClientError: OOM"}
                raise TaskFailure("States.TaskFailed", json.dumps(cause))
            return {"TransformJobName": job, "TransformJobStatus": "Completed", **given}
        assert resource == "arn:aws:states:::events:putEvents", resource
        return {"Entries": [{"EventId": "e"}], "FailedEntryCount": 0}

    return respond


def walk_inference(
    execution_input: dict[str, Any],
    *,
    outcome: Outcome = "no_drift",
    failing: frozenset[str] = frozenset(),
    failed_part: int | None = None,
) -> Trace:
    context = {"Execution": {"Id": EXECUTION, "Input": execution_input}}
    walker = Walker(inference_responder(outcome, failed_part), failing)
    return walker.run(definition("batch_inference.asl.json"), execution_input, context)


@pytest.mark.parametrize("execution_input", sorted(INFERENCE_INPUTS))
@pytest.mark.parametrize("outcome", ["no_drift", "drifted", "insufficient_rows"])
def test_a_batch_inference_run_hands_each_step_its_model_and_announces_completion(
    execution_input: str, outcome: Outcome
) -> None:
    # Given a batch inference execution started by the rule or a schedule
    started = INFERENCE_INPUTS[execution_input]
    # When it runs through, one transform job per input part, to a drift verdict (or, for
    # a batch below the dataset's minimum, none)
    trace = walk_inference(started, outcome=outcome)
    # Then every payload validated against its step's input model, and so did each part's
    # result and the completion event
    assert not trace.failed
    request = ResolveInferenceInput.model_validate(trace.inputs["Resolve"]["Payload"])
    assert request.inference_request.dataset == "scoring"
    assert len([s for s in trace.states if s == "Score/Transform"]) == PARTS
    assert check_events(trace) == ["InferenceCompleted"]
    (completed,) = [entry["Detail"] for _, entry in trace.events]
    assert completed["drifted"] is (outcome == "drifted")
    # And what the execution leaves is what `driftline status` reads, the outcome included
    state = BatchInferenceState.model_validate(trace.output)
    assert state.scored is not None
    assert state.scored.ResultWriterDetails.Key.endswith("manifest.json")
    assert state.drift is not None and state.drift.result.outcome == outcome
    execution: dict[str, Any] = {"name": "run-1", "arn": EXECUTION, "status": "SUCCEEDED"}
    execution |= {"input": started, "output": trace.output, "started": None, "stopped": None}
    (run,) = inference_runs([execution | {"error": None, "cause": None}])
    assert (run["drift_outcome"], run["drift_min_rows"]) == (outcome, 50)


def test_a_failed_transform_job_reaches_write_predictions_as_a_failed_part(
    load_logic: Callable[[str, str], ModuleType],
) -> None:
    # Given a run whose second part's transform job fails
    trace = walk_inference(INFERENCE_INPUTS["the rule's request"], failed_part=1)
    # Then the Map's Catch turns it into that part's result, with SageMaker's reason
    given = WritePredictionsInput.model_validate(trace.inputs["WritePredictions"]["Payload"])
    # And WritePredictions finds it where the Map's ResultWriter put it
    jobs = results_of(load_logic("write_predictions", "predictions"), given, trace)
    assert len(jobs) == PARTS
    failed = [job for job in jobs if job is not None and not job.completed]
    assert [job.failure_reason for job in failed] == ["ClientError: OOM"]
    assert failed[0].job == f"{resolved().transform.job_prefix}-1"
    TransformJobResult.model_validate(trace.inputs["Score/TransformFailed"])


def results_of(
    module: ModuleType, given: WritePredictionsInput, trace: Trace
) -> list[TransformJobResult | None]:
    """The parts' results as the write-predictions function reads them from S3."""

    class Objects:
        def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
            return {"Body": io.BytesIO(trace.objects[(Bucket, Key)])}

    writer = module.PredictionWriter(None, module.Services(s3=Objects()))
    results: list[TransformJobResult | None] = writer.read_map_results(given.results)
    return results


INFERENCE_TASKS = (
    "Resolve",
    "CreateModel",
    "Score",
    "WritePredictions",
    "MonitorDrift",
    "PublishInferenceCompleted",
)


@pytest.mark.parametrize("execution_input", sorted(INFERENCE_INPUTS))
@pytest.mark.parametrize("failing", INFERENCE_TASKS)
def test_a_failed_batch_inference_step_is_announced_as_inference_failed(
    execution_input: str, failing: str
) -> None:
    trace = walk_inference(INFERENCE_INPUTS[execution_input], failing=frozenset({failing}))
    assert trace.failed
    assert check_events(trace)[-1] == "InferenceFailed"
    state = BatchInferenceState.model_validate(trace.output)
    assert state.error is not None


def test_every_batch_inference_event_is_put_by_some_walk() -> None:
    reached = set(walk_inference(INFERENCE_INPUTS["a schedule"]).states)
    reached.update(
        walk_inference(INFERENCE_INPUTS["a schedule"], failing=frozenset({"Resolve"})).states
    )
    assert publish_states(definition("batch_inference.asl.json")) <= reached


# -- both ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["training.asl.json", "batch_inference.asl.json"])
def test_resources_are_tagged_with_the_project(name: str) -> None:
    # Jobs and models whose whole request a function builds (Train, CreateModel) are
    # checked where it is built; what the ASL builds itself carries the project tag
    text = (STATE_MACHINES / name).read_text()
    tags = [
        tag
        for parameters in _all_parameters(json.loads(text))
        for tag in parameters.get("Tags", [])
    ]
    assert all(tag == {"Key": names.PROJECT_TAG, "Value": names.PROJECT} for tag in tags)


def test_create_model_requests_carry_the_project_tag_and_network_isolation() -> None:
    for request in (model_request("dl-test-x-run"), resolved().model):
        assert request.Tags == [Tag(Key=names.PROJECT_TAG, Value=names.PROJECT)]
        assert request.EnableNetworkIsolation
        assert request.PrimaryContainer.Environment["SAGEMAKER_SUBMIT_DIRECTORY"] == (
            names.MODEL_CODE_DIRECTORY
        )


def _all_parameters(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        if isinstance(node.get("Parameters"), dict):
            found.append(node["Parameters"])
        for value in node.values():
            found += _all_parameters(value)
    elif isinstance(node, list):
        for value in node:
            found += _all_parameters(value)
    return found
