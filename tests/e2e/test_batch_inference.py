"""Batch inference, drift and retraining on the local cloud, driven only by drops.

A validated scoring version starts the batch inference state machine through its rule:
the newest approved model scores it with SageMaker batch transform (the repo's
inference.py, one job per part), the predictions land with lineage, and the drift
monitor compares the batch with the model's training baseline. Drift goes through the
retraining rule and its cooldown gate to the training state machine.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from driftline import status as status_of
from driftline.actions import drop_file
from driftline.faults import arm, armed
from driftline.localcloud import LocalCloud
from driftline.samples import generate_transactions, random_rows
from driftline.target import Target
from tests.e2e.conftest import EventRecorder, wait_for, write_salted

pytestmark = pytest.mark.e2e

END = datetime(2026, 11, 1, tzinfo=UTC)
BATCH_ROWS = 3_000  # one part at the dev stage's part size (2 MiB, about 20,000 rows)
LARGE_ROWS = 50_000  # more than two parts at the dev stage's part size
SOURCES = [
    "driftline.ingest",
    "driftline.inference",
    "driftline.monitor",
    "driftline.retraining",
    "driftline.training",
]


@pytest.fixture
def events(deployed: dict[str, str], target: Target) -> Iterator[EventRecorder]:
    recording = EventRecorder(target, deployed["EventBusName"], SOURCES)
    try:
        yield recording
    finally:
        recording.close()


def group(target: Target) -> str:
    return f"{target.outputs('pipeline')['ModelPackageGroupPrefix']}-transactions"


def approved_packages(target: Target) -> list[str]:
    sagemaker = target.client("sagemaker")
    pages = sagemaker.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName=group(target), ModelApprovalStatus="Approved"
    )
    try:
        return [s["ModelPackageArn"] for page in pages for s in page["ModelPackageSummaryList"]]
    except sagemaker.exceptions.ClientError:
        return []


@pytest.fixture(scope="module")
def approved_model(deployed: dict[str, str], target: Target, tmp_path_factory: Any) -> str:
    """The champion the batches here are judged against: trained from a drop of data drawn
    like them (undrifted) alone, and approved. A training run learns from its champion's
    versions too, and a kept champion may have learned another window (the demo's concept
    change among it), against whose baseline clean batches drift: the earlier champions
    are withdrawn while this one trains, and approved again after. The newest approved
    model scores, and this one is the newest."""
    sagemaker = target.client("sagemaker")
    earlier = approved_packages(target)
    for arn in earlier:
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    path = write_salted(
        tmp_path_factory.mktemp("train") / "train.csv",
        generate_transactions(20_000, seed=303, end=END),
    )
    recorder = EventRecorder(target, deployed["EventBusName"], SOURCES)
    try:
        _, key, _ = drop_file(target, path, "transactions", "training")
        version = recorder.wait_for("DatasetValidated", key, timeout=90)["detail"]["version"]
        trained = recorder.wait_for(
            ("ModelRegistered", "ModelRejected"), version, timeout=300, key="version"
        )["detail"]
    finally:
        recorder.close()
        for arn in earlier:
            sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    arn = str(trained["model_package_arn"])
    if trained["status"] != "Approved":
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    return arn


def batch_of(rows: int, drift: float, seed: int) -> pa.Table:
    """``rows`` random rows of 100,000 generated at ``drift``: at drift 0, a batch drawn
    like the training data (see driftline.samples.random_rows)."""
    population = generate_transactions(100_000, seed=seed, drift=drift, labelled=False, end=END)
    return random_rows(population, rows, seed)


def drop_batch(
    target: Target, events: EventRecorder, tmp_path: Path, drift: float, seed: int
) -> tuple[str, dict[str, Any]]:
    """Drop a scoring batch; returns its dataset version and its DatasetValidated detail."""
    table = batch_of(BATCH_ROWS, drift, seed)
    path = write_salted(tmp_path / f"scoring-{seed}.csv", table)
    _, key, _ = drop_file(target, path, "scoring", "inference")
    validated = events.wait_for("DatasetValidated", key, timeout=90)["detail"]
    return validated["version"], validated


def read_s3(target: Target, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body: bytes = target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def part_size_bytes(target: Target) -> int:
    """The deployed stage's part size, as the prepare function reads it."""
    lambda_ = target.client("lambda")
    arns = [
        f["FunctionArn"]
        for page in lambda_.get_paginator("list_functions").paginate()
        for f in page["Functions"]
        if "prepareinference" in f["FunctionName"].lower().replace("-", "")
    ]
    (arn,) = arns
    variables = lambda_.get_function_configuration(FunctionName=arn)["Environment"]["Variables"]
    size: int = json.loads(variables["TRANSFORM"])["part_size_bytes"]
    return size


def scored_parts(target: Target, jobs: list[str]) -> list[int]:
    """Each job's part checked against its ``.out``: the part is headerless and holds
    whole rows, the output has one prediction per row; the parts' row counts."""
    sagemaker = target.client("sagemaker")
    rows: list[int] = []
    for job in sorted(jobs):
        described = sagemaker.describe_transform_job(TransformJobName=job)
        assert described["TransformJobStatus"] == "Completed"
        output = described["TransformOutput"]["S3OutputPath"]
        source = described["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        options = pacsv.ReadOptions(autogenerate_column_names=True)
        part = pacsv.read_csv(io.BytesIO(read_s3(target, source)), options)
        assert part.column(0).cast(pa.string())[0].as_py() != "transaction_id"  # no header
        out = read_s3(target, f"{output}{source.rsplit('/', 1)[1]}.out")
        predicted = pacsv.read_csv(io.BytesIO(out), options)
        assert (
            predicted.column(0).cast(pa.string()).to_pylist()
            == part.column(0).cast(pa.string()).to_pylist()
        )
        rows.append(part.num_rows)
    return rows


def retrainings_for(target: Target, version: str) -> list[dict[str, Any]]:
    arn = target.outputs("pipeline")["TrainingStateMachineArn"]
    described = status_of.executions(target, arn, "training", described=True)
    return [r for r in status_of.retrainings(described) if r["trigger_version"] == version]


def unseen_training_version(
    target: Target, events: EventRecorder, local_cloud: LocalCloud, tmp_path: Path
) -> str:
    """A validated training version the champion never learned from, as after labels
    arrived: its own training run fails (an injected fault), so a drift retrains on it
    instead of waiting for labels."""
    path = write_salted(tmp_path / "unseen.csv", generate_transactions(1_000, seed=505, end=END))
    version = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    fault = {"kind": "training-job", "action": "fail", "match": f"-{version[:8]}-", "count": 1}
    arm(local_cloud, **fault)
    drop_file(target, path, "transactions", "training")
    events.wait_for("DatasetValidated", version, timeout=90, key="version")
    wait_for(
        lambda: [a for a in armed(local_cloud) if a["match"] == fault["match"]] == [] or None,
        240,
        "the unseen version's training to fail",
        1.0,
    )
    return version


def reset_cooldown(target: Target) -> None:
    """As on a fresh local cloud: no retraining window open for the training dataset."""
    table = target.resource("dynamodb").Table(target.outputs("pipeline")["CooldownTableName"])
    table.delete_item(Key={"dataset": "transactions", "sk": "cooldown"})


def test_a_drop_with_no_approved_model_fails_with_a_clear_event(
    target: Target, events: EventRecorder, tmp_path: Path
) -> None:
    # Given a registry whose approved models were all revoked (or that has none yet)
    sagemaker = target.client("sagemaker")
    revoked = approved_packages(target)
    for arn in revoked:
        sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected")
    try:
        # When a scoring batch is dropped
        version, _ = drop_batch(target, events, tmp_path, drift=0.0, seed=41)
        failed = events.wait_for("InferenceFailed", "scoring", timeout=120, key="dataset")
    finally:
        for arn in revoked:
            sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    # Then the run fails with an event that says why, naming the version it was asked for
    detail = failed["detail"]
    assert detail["input"] == {"dataset": "scoring", "version": version}
    assert detail["error"] == "NoApprovedModel"
    assert f"No approved model in model package group '{group(target)}'" in detail["cause"]


def test_a_clean_batch_gets_a_prediction_per_row_and_no_retraining(
    target: Target, events: EventRecorder, approved_model: str, tmp_path: Path
) -> None:
    # Given an approved model; when a batch drawn like the training data is dropped
    version, validated = drop_batch(target, events, tmp_path, drift=0.0, seed=42)
    completed = events.wait_for("InferenceCompleted", version, timeout=240, key="version")
    detail = completed["detail"]
    # Then every row was scored, by an approved model
    assert detail["rows"] == validated["rows"] == BATCH_ROWS
    assert detail["model_package_arn"] in approved_packages(target)
    predictions = pq.read_table(io.BytesIO(read_s3(target, detail["predictions_uri"])))
    inputs = pq.read_table(io.BytesIO(read_s3(target, validated["data_uri"])))
    assert sorted(predictions.column("transaction_id").to_pylist()) == sorted(
        inputs.column("transaction_id").to_pylist()
    )
    probabilities = predictions.column("probability").to_pylist()
    assert all(0.0 <= p <= 1.0 for p in probabilities)
    lineage = json.loads(predictions.schema.metadata[b"driftline.lineage"])
    assert lineage["version"] == version
    assert lineage["model_package_arn"] == detail["model_package_arn"]
    assert sorted(lineage["transform_jobs"]) == sorted(detail["transform_jobs"])
    # And its one part (the batch is far below the part size) went through one transform
    # job that wrote SageMaker's .out file with a prediction per row
    assert scored_parts(target, detail["transform_jobs"]) == [BATCH_ROWS]
    # And no drift: the report says so, no DriftDetected was put, no retraining started
    assert detail["drifted"] is False
    report = json.loads(read_s3(target, detail["drift_report_uri"]))
    assert report["report"]["drifted"] is False
    assert max(report["scores"].values()) < 0.2
    assert not [e for e in events.seen if e["detail-type"] == "DriftDetected"]
    assert retrainings_for(target, version) == []


def test_a_clean_100_row_batch_starts_no_retraining_and_a_drifted_1000_row_batch_does(
    target: Target,
    events: EventRecorder,
    approved_model: str,
    local_cloud: LocalCloud,
    tmp_path: Path,
) -> None:
    reset_cooldown(target)
    unseen_training_version(target, events, local_cloud, tmp_path)
    # Given 100 rows drawn like the training data
    path = write_salted(tmp_path / "clean-100.csv", batch_of(100, drift=0.0, seed=2201))
    _, key, _ = drop_file(target, path, "scoring", "inference")
    clean = events.wait_for("DatasetValidated", key, timeout=90)["detail"]["version"]
    # When they are scored
    completed = events.wait_for("InferenceCompleted", clean, timeout=240, key="version")
    # Then the drift monitor gave a verdict (100 rows are enough) and it is no drift
    report = json.loads(read_s3(target, completed["detail"]["drift_report_uri"]))
    assert report["outcome"] == "no_drift"
    assert report["report"]["rows"] == 100
    assert report["report"]["tested"] == len(report["report"]["features"]) + 1
    assert completed["detail"]["drifted"] is False
    # Given 1,000 rows drawn from a strongly drifted population
    path = write_salted(tmp_path / "drifted-1000.csv", batch_of(1_000, drift=1.0, seed=2202))
    _, key, _ = drop_file(target, path, "scoring", "inference")
    drifted = events.wait_for("DatasetValidated", key, timeout=90)["detail"]["version"]
    # When they are scored, Then drift is detected and one retraining starts
    detail = events.wait_for("DriftDetected", drifted, timeout=240, key="version")["detail"]
    assert detail["drifted_features"]
    started = events.wait_for("RetrainingStarted", drifted, timeout=120, key="trigger_version")
    assert started["detail"]["dataset"] == "transactions"
    # And the clean batch put no DriftDetected and started no retraining
    assert not [
        e
        for e in events.seen
        if e["detail-type"] == "DriftDetected" and e["detail"]["version"] == clean
    ]
    assert retrainings_for(target, clean) == []
    (caused,) = retrainings_for(target, drifted)
    assert caused["trigger_report_uri"] == detail["report_uri"]


def test_drift_starts_one_retraining_and_a_burst_inside_the_cooldown_starts_none(
    target: Target,
    events: EventRecorder,
    approved_model: str,
    local_cloud: LocalCloud,
    tmp_path: Path,
) -> None:
    reset_cooldown(target)
    # Given labelled data the champion has not learned from (else drift waits for labels)
    unseen_training_version(target, events, local_cloud, tmp_path)
    # Given a strongly drifted batch
    first, _ = drop_batch(target, events, tmp_path, drift=1.0, seed=43)
    drift_event = events.wait_for("DriftDetected", first, timeout=240, key="version")
    drift = drift_event["detail"]
    # Then the drift names the features and the model, and one retraining starts
    assert drift["training_dataset"] == "transactions"
    assert drift["model_package_arn"] in approved_packages(target)
    assert {"amount", "country", "__prediction__"} <= set(drift["drifted_features"])
    started = events.wait_for("RetrainingStarted", first, timeout=120, key="trigger_version")
    execution = started["detail"]["execution_arn"]
    sfn = target.client("stepfunctions")
    request = json.loads(sfn.describe_execution(executionArn=execution)["input"])
    assert request["dataset"] == "transactions"
    assert request["retraining"]["version"] == first
    assert request["retraining"]["report_uri"] == drift["report_uri"]
    # When a second drifted batch arrives inside the cooldown window
    second, _ = drop_batch(target, events, tmp_path, drift=0.9, seed=44)
    events.wait_for("DriftDetected", second, timeout=240, key="version")
    suppressed = events.wait_for(
        "RetrainingSuppressed", second, timeout=120, key="trigger_version"
    )["detail"]
    # Then it starts nothing, and the suppression is recorded and visible in status
    assert suppressed["suppressed_count"] >= 1
    assert retrainings_for(target, second) == []
    (caused,) = retrainings_for(target, first)
    assert caused["execution"] == execution.rsplit(":", 1)[1]
    facts = status_of.collect(target)
    held = [s for s in facts["suppressed_retrainings"] if s["trigger_version"] == second]
    assert held and held[0]["dataset"] == "transactions"
    assert {e["version"] for e in facts["drift_events"]} >= {first, second}
    # When EventBridge delivers the first DriftDetected again after its retraining ended
    # (stopped if it still runs: it may have finished already, and a stop of an ended
    # execution is refused)
    if sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
        try:
            sfn.stop_execution(executionArn=execution)
        except ClientError as error:  # it ended between the two calls
            if error.response["Error"]["Code"] != "ValidationException":
                raise
    wait_for(
        lambda: sfn.describe_execution(executionArn=execution)["status"] != "RUNNING" or None,
        60,
        "the retraining to stop",
    )
    response = target.client("lambda").invoke(
        FunctionName="driftline-dev-retraining-gate",
        Payload=json.dumps({k: v for k, v in drift_event.items() if k != "queued"}).encode(),
    )
    decision = json.loads(response["Payload"].read())
    # Then the gate finds the run that event started (its role may describe the training
    # state machine's executions, with IAM enforced) and starts no other
    assert "FunctionError" not in response, decision
    assert decision["started"] is True and decision["execution"] == execution
    assert len(retrainings_for(target, first)) == 1


def test_a_batch_larger_than_the_part_size_is_scored_in_parts_cut_by_bytes(
    target: Target, events: EventRecorder, approved_model: str, tmp_path: Path
) -> None:
    # Given a batch whose transform input is more than the stage's part size
    table = batch_of(LARGE_ROWS, drift=0.0, seed=2301)
    path = write_salted(tmp_path / "large.csv", table)
    _, key, _ = drop_file(target, path, "scoring", "inference")
    validated = events.wait_for("DatasetValidated", key, timeout=120)["detail"]
    # When it is scored
    completed = events.wait_for("InferenceCompleted", validated["version"], 600, key="version")
    detail = completed["detail"]
    # Then every row was scored once, one transform job per part, each output with a
    # prediction for each row of its part (headerless, rows whole)
    rows = scored_parts(target, detail["transform_jobs"])
    assert len(rows) >= 2
    assert sum(rows) == detail["rows"] == LARGE_ROWS
    # And the parts are cut by bytes: each at most the part size, all but the last more
    # than half of it
    budget = part_size_bytes(target)
    sagemaker = target.client("sagemaker")
    sizes: dict[int, int] = {}
    for job in detail["transform_jobs"]:
        described = sagemaker.describe_transform_job(TransformJobName=job)
        source = described["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
        sizes[int(job.rsplit("-", 1)[1])] = len(read_s3(target, source))
    ordered = [sizes[index] for index in sorted(sizes)]
    assert max(ordered) <= budget
    assert all(size > budget / 2 for size in ordered[:-1])
