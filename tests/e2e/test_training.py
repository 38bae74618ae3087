"""The training pipeline on the local cloud: a dropped training file becomes a model.

Nothing is started by hand: the DatasetValidated event of each drop starts the training
state machine through its EventBridge rule, which runs SageMaker training (the repo's
train.py, as the scikit-learn container would) and registers the outcome.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from driftline_runtime.steps.training import TrainingRequest

from driftline.actions import drop_file
from driftline.samples import generate_transactions
from driftline.target import Target
from tests.e2e.conftest import EventRecorder, wait_for
from tests.e2e.conftest import write_salted as write

pytestmark = pytest.mark.e2e

END = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
def events(deployed: dict[str, str], target: Target) -> Iterator[EventRecorder]:
    recording = EventRecorder(
        target, deployed["EventBusName"], ["driftline.ingest", "driftline.training"]
    )
    try:
        yield recording
    finally:
        recording.close()


def drop_training_file(
    target: Target, events: EventRecorder, path: Path
) -> tuple[str, dict[str, Any]]:
    """Drop a file and wait until it is a validated dataset version."""
    _, key, _ = drop_file(target, path, "transactions", "training")
    validated = events.wait_for("DatasetValidated", key, timeout=90)["detail"]
    return validated["version"], validated


def execution_for(target: Target, version: str) -> dict[str, Any]:
    """The training execution the rule started for a dataset version, once finished."""
    sfn = target.client("stepfunctions")
    state_machine = target.outputs("pipeline")["TrainingStateMachineArn"]

    def finished() -> dict[str, Any] | None:
        for execution in sfn.list_executions(stateMachineArn=state_machine)["executions"]:
            described = sfn.describe_execution(executionArn=execution["executionArn"])
            if f'"version":"{version}"' in described["input"].replace(" ", ""):
                return dict(described) if described["status"] != "RUNNING" else None
        return None

    return wait_for(finished, 240, f"the training execution for version {version}", 1.0)


def start_training(target: Target, version: str, *, versions: list[str]) -> str:
    """Start the training state machine by hand on an explicit window; its ARN."""
    request = TrainingRequest(dataset="transactions", version=version, versions=versions)
    started = target.client("stepfunctions").start_execution(
        stateMachineArn=target.outputs("pipeline")["TrainingStateMachineArn"],
        name=f"window-{version}-{datetime.now(UTC):%H%M%S%f}",
        input=request.model_dump_json(),
    )
    return str(started["executionArn"])


def finished(target: Target, arn: str) -> dict[str, Any]:
    sfn = target.client("stepfunctions")

    def done() -> dict[str, Any] | None:
        described = sfn.describe_execution(executionArn=arn)
        return dict(described) if described["status"] != "RUNNING" else None

    return wait_for(done, 240, f"the training execution {arn}", 1.0)


def packages_for(target: Target, version: str) -> list[dict[str, Any]]:
    sagemaker = target.client("sagemaker")
    group = f"{target.outputs('pipeline')['ModelPackageGroupPrefix']}-transactions"
    found = []
    # Every page: the session's tests (retrainings among them) register more than one
    # page of packages in the group.
    pages = sagemaker.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group)
    for summary in (s for page in pages for s in page["ModelPackageSummaryList"]):
        described = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        if described["CustomerMetadataProperties"].get("dataset_version") == version:
            found.append(described)
    return found


def test_valid_training_file_becomes_a_registered_model(
    target: Target, events: EventRecorder, tmp_path: Path
) -> None:
    # Given a realistic training file, large enough (about 90 frauds in its test split)
    # for its test AUC to be stable
    path = write(tmp_path / "train.csv", generate_transactions(20_000, seed=101, end=END))
    champion_before = newest_approved(target)
    # When it is dropped (and nothing else is done)
    version, _ = drop_training_file(target, events, path)
    outcome = events.wait_for(
        ("ModelRegistered", "ModelRejected"), version, timeout=240, key="version"
    )["detail"]
    # Then the training execution succeeded and the model is in S3 with real metrics
    assert execution_for(target, version)["status"] == "SUCCEEDED"
    job = target.client("sagemaker").describe_training_job(TrainingJobName=outcome["training_job"])
    assert job["TrainingJobStatus"] == "Completed"
    model = job["ModelArtifacts"]["S3ModelArtifacts"]
    bucket, _, key = model.removeprefix("s3://").partition("/")
    assert key.endswith("/output/model.tar.gz")
    assert target.client("s3").head_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    reported = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert 0.7 < reported["test:auc"] < 1.0
    assert outcome["metrics"]["test:auc"] == pytest.approx(reported["test:auc"], abs=1e-5)
    # And it is registered with those metrics: approved, unless a champion it does not
    # beat by the margin was already there (other tests in this session train models too)
    (package,) = packages_for(target, version)
    assert package["ModelApprovalStatus"] == outcome["status"]
    assert package["CustomerMetadataProperties"]["training_job"] == outcome["training_job"]
    if champion_before is None:
        assert outcome["status"] == "Approved"
    elif outcome["status"] != "Approved":
        assert "does not beat the champion" in outcome["reason"]
    # And the champion, if there was one, was measured on the challenger's own holdout
    metadata = package["CustomerMetadataProperties"]
    assert metadata["holdout"].startswith("sha256:") and metadata["holdout_split"] == "time"
    if champion_before is not None:
        assert 0.5 < float(metadata["champion_metric"]) <= 1.0
        assert outcome["metrics"]["champion:auc"] == pytest.approx(
            float(metadata["champion_metric"]), abs=1e-5
        )
    # And the registry holds an approved model trained in this session, with real metrics
    champion = newest_approved(target)
    assert champion is not None
    assert 0.7 < float(champion["CustomerMetadataProperties"]["metric:test:auc"]) < 1.0


def newest_approved(target: Target) -> dict[str, Any] | None:
    sagemaker = target.client("sagemaker")
    group = f"{target.outputs('pipeline')['ModelPackageGroupPrefix']}-transactions"
    try:
        summaries = sagemaker.list_model_packages(
            ModelPackageGroupName=group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )["ModelPackageSummaryList"]
    except sagemaker.exceptions.ClientError:
        return None  # the group does not exist yet: nothing was ever trained
    if not summaries:
        return None
    return dict(sagemaker.describe_model_package(ModelPackageName=summaries[0]["ModelPackageArn"]))


def test_worse_model_is_rejected_and_the_champion_stays(
    target: Target, events: EventRecorder, tmp_path: Path
) -> None:
    # Given a champion (a model trained on good data; approved now or earlier)
    good = write(tmp_path / "good.csv", generate_transactions(20_000, seed=202, end=END))
    good_version, _ = drop_training_file(target, events, good)
    assert execution_for(target, good_version)["status"] == "SUCCEEDED"
    # When a dataset whose labels carry no signal (shuffled) is dropped
    table = generate_transactions(3000, seed=303, end=END)
    order = np.random.default_rng(5).permutation(table.num_rows)
    shuffled = pc.take(table.column("is_fraud"), pa.array(order))
    worse = table.set_column(table.schema.get_field_index("is_fraud"), "is_fraud", shuffled)
    worse_version, _ = drop_training_file(target, events, write(tmp_path / "worse.csv", worse))
    rejected = events.wait_for("ModelRejected", worse_version, timeout=240, key="version")["detail"]
    # Then the challenger is registered as Rejected, with the reason
    assert rejected["status"] == "Rejected"
    (package,) = packages_for(target, worse_version)
    assert package["ModelApprovalStatus"] == "Rejected"
    # And the newest approved model is still one trained on good data
    champion = newest_approved(target)
    assert champion is not None
    assert champion["CustomerMetadataProperties"]["dataset_version"] != worse_version


def test_failing_training_is_caught_and_announced_without_a_package(
    target: Target, events: EventRecorder, tmp_path: Path
) -> None:
    # Given a valid file the training script cannot learn from: a single class
    table = generate_transactions(1000, seed=404, end=END)
    single_class = table.set_column(
        table.schema.get_field_index("is_fraud"), "is_fraud", pa.array([0] * 1000, pa.int64())
    )
    version, _ = drop_training_file(target, events, write(tmp_path / "one-class.csv", single_class))
    # When a training run learns from that version alone (the window of the run its drop
    # started also holds the champion's data, which has both classes)
    execution = finished(target, start_training(target, version, versions=[version]))
    # Then the execution fails through its Catch
    assert execution["status"] == "FAILED"
    failed = events.wait_for(
        "TrainingFailed", execution["executionArn"], timeout=60, key="execution"
    )["detail"]
    # And the failure event carries the training job's own reason
    cause = json.loads(failed["cause"])
    assert cause["TrainingJobStatus"] == "Failed"
    assert "class" in cause["FailureReason"]
    job = target.client("sagemaker").describe_training_job(TrainingJobName=cause["TrainingJobName"])
    assert job["FailureReason"] == cause["FailureReason"]
    # And no model was registered
    assert packages_for(target, version) == []
