"""Labels on the local cloud: a labels file joined with the batch it labels, the model's
measured quality, and the labelled rows fed back as a training version that a training
run on its window learns from.

Nothing is started by hand: the labels file's DatasetValidated event invokes the
join-labels function through its rule, and the feedback file it drops is ingested and
trained on as any training file is.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from driftline_runtime import names

from driftline import status as status_of
from driftline.actions import drop_file
from driftline.samples import generate_transactions, random_rows
from driftline.target import Target
from tests.e2e.conftest import EventRecorder, wait_for, write_salted
from tests.e2e.test_batch_inference import approved_packages, read_s3

pytestmark = pytest.mark.e2e

END = datetime(2026, 11, 1, tzinfo=UTC)
ROWS = 600


@pytest.fixture
def events(deployed: dict[str, str], target: Target) -> Iterator[EventRecorder]:
    recording = EventRecorder(
        target,
        deployed["EventBusName"],
        [
            "driftline.ingest",
            "driftline.inference",
            "driftline.training",
            "driftline.quality",
            "driftline.monitor",
            "driftline.retraining",
        ],
    )
    try:
        yield recording
    finally:
        recording.close()


@pytest.fixture
def approved(deployed: dict[str, str], target: Target, tmp_path: Path) -> None:
    if not approved_packages(target):
        path = write_salted(
            tmp_path / "train.csv", generate_transactions(20_000, seed=606, end=END)
        )
        drop_file(target, path, "transactions", "training")
        wait_for(lambda: approved_packages(target) or None, 300, "an approved model", 1.0)


def test_labels_measure_the_model_and_feed_back_a_training_version(
    target: Target, events: EventRecorder, approved: None, tmp_path: Path
) -> None:
    # Given a scored batch whose outcomes are known, with its labels turned against the
    # model (the most confident ones wrong): a concept change, as labels reveal it
    labelled = random_rows(generate_transactions(20_000, seed=707, end=END), ROWS, seed=7)
    features = labelled.drop_columns(["is_fraud"])
    path = write_salted(tmp_path / "batch.csv", features)
    _, key, _ = drop_file(target, path, "scoring", "inference")
    batch = events.wait_for("DatasetValidated", key, timeout=90)["detail"]["version"]
    scored = events.wait_for("InferenceCompleted", batch, timeout=240, key="version")["detail"]
    table = pq.read_table(io.BytesIO(read_s3(target, scored["predictions_uri"])))
    probability = dict(
        zip(table["transaction_id"].to_pylist(), table["probability"].to_pylist(), strict=True)
    )
    ids = list(probability)  # as dropped: write_salted gave the batch fresh ids
    ranked = sorted(ids, key=lambda i: probability[i])
    # The model's lowest-ranked tenth is fraud now, the rest not: its AUC falls below 0.5
    fraud = set(ranked[: len(ranked) // 10])
    outcomes = [{"transaction_id": i, "is_fraud": int(i in fraud)} for i in ids]
    # And the file repeats one id and names one nobody scored
    # (an id of its own: an earlier run on a kept local cloud labelled another)
    unknown = f"t-{uuid.uuid4().hex[:12]}"
    outcomes += [outcomes[0], {"transaction_id": unknown, "is_fraud": 1}]
    # (Written as they are: the ids are the scored batch's, already unique to this run.)
    labels_path = tmp_path / "labels.csv"
    pacsv.write_csv(pa.Table.from_pylist(outcomes), labels_path)
    # When the labels file is dropped
    dropped = datetime.now(UTC) - timedelta(seconds=5)
    _, labels_key, _ = drop_file(target, labels_path, "scoring-labels", "labels")
    labels_version = events.wait_for("DatasetValidated", labels_key, timeout=90)["detail"][
        "version"
    ]
    # Then the model is measured on the 600 labelled rows and found degraded
    degraded = events.wait_for("ModelQualityDegraded", batch, timeout=120, key="version")["detail"]
    assert degraded["labelled_rows"] == ROWS
    assert degraded["metrics"]["auc"] < 0.5 < degraded["reference_metric"]
    # And CloudWatch has it as the join-labels function's metric (taken from its
    # embedded-metric log line, as on AWS), in the dataset's series (the monitoring
    # stack's alarm) and in the measured model's (a deployment of that model's guard)
    by_dataset = {names.DATASET_DIMENSION: "scoring"}
    assert wait_for(lambda: degraded_maximum(target, dropped, by_dataset), 60, "by dataset") == 1
    group, version = degraded["model_package_arn"].rsplit("/", 2)[-2:]
    by_model = {names.MODEL_GROUP_DIMENSION: group, names.MODEL_VERSION_DIMENSION: version}
    assert wait_for(lambda: degraded_maximum(target, dropped, by_model), 60, "by model") == 1
    # And the join report says what became of every row, none counted twice
    # (written once every scored run is measured: it may follow the event by a moment)
    predictions_bucket = target.outputs("pipeline")["PredictionsBucketName"]
    report = json.loads(
        wait_for(
            lambda: read_s3_or_none(
                target, f"s3://{predictions_bucket}/labels/scoring/{labels_version}/report.json"
            ),
            60,
            "the labels file's join report",
            0.5,
        )
    )
    assert report["rows"] == ROWS + 2 and report["accepted"] == ROWS + 1
    assert report["duplicate_in_file"]["rows"] == 1
    assert report["never_scored"]["examples"] == [unknown]
    assert report["batches"] == {batch: ROWS}
    # And status shows the measurement with the labels dataset's kind
    facts = status_of.collect(target)
    (quality,) = [q for q in facts["model_quality"] if q["version"] == batch]
    assert quality["degraded"] is True and quality["labelled_rows"] == ROWS
    assert {"dataset", "model_group", "model_version", "metrics", "reference_metric", "time"} <= (
        set(quality)
    )
    assert any(d["kind"] == "labels" and d["version"] == labels_version for d in facts["datasets"])
    # And the labelled rows came back as a validated training version...
    feedback_key = f"transactions/feedback-{labels_version}.parquet"
    fed = events.wait_for("DatasetValidated", feedback_key, timeout=120)["detail"]
    assert fed["kind"] == "training" and fed["rows"] == ROWS
    # ...that a training run learns from, beside the champion's data, with both models
    # measured on one holdout
    outcome = events.wait_for(
        ("ModelRegistered", "ModelRejected"), fed["version"], timeout=300, key="version"
    )["detail"]
    model = wait_for(
        lambda: next(
            (
                m
                for m in status_of.collect(target)["models"]
                if m["training_job"] == outcome["training_job"]
            ),
            None,
        ),
        60,
        "the registered package in status",
        1.0,
    )
    assert fed["version"] in model["training_versions"] and len(model["training_versions"]) > 1
    evaluation = model["evaluation"]
    assert evaluation["holdout"]["split"] == "time"
    assert evaluation["champion"] is not None
    assert evaluation["challenger"] == pytest.approx(outcome["metrics"]["test:auc"], abs=1e-5)


def read_s3_or_none(target: Target, uri: str) -> bytes | None:
    try:
        return read_s3(target, uri)
    except target.client("s3").exceptions.NoSuchKey:
        return None


def drift_retrainings(target: Target, batch: str) -> list[dict[str, Any]]:
    """The retrainings the batch's drift asked for (its labels may ask for one too, when
    they measure the model degraded: that one's trigger is model_quality)."""
    return [
        r
        for r in status_of.collect(target)["retrainings"]
        if r["trigger_version"] == batch and r["trigger"] == "drift"
    ]


def test_drift_with_nothing_new_waits_for_labels_which_start_the_training(
    target: Target, events: EventRecorder, approved: None, tmp_path: Path
) -> None:
    # Given a champion that learned from the newest training version (approved by hand
    # if the policy did not: what matters is what the champion has seen)
    path = write_salted(tmp_path / "train.csv", generate_transactions(3_000, seed=808, end=END))
    _, key, _ = drop_file(target, path, "transactions", "training")
    newest = events.wait_for("DatasetValidated", key, timeout=90)["detail"]["version"]
    trained = events.wait_for(
        ("ModelRegistered", "ModelRejected"), newest, timeout=300, key="version"
    )["detail"]
    if trained["status"] != "Approved":
        target.client("sagemaker").update_model_package(
            ModelPackageArn=trained["model_package_arn"], ModelApprovalStatus="Approved"
        )
    # When a drifted batch is scored
    labelled = random_rows(
        generate_transactions(50_000, seed=909, drift=1.0, end=END), 1_000, seed=9
    )
    batch_path = write_salted(tmp_path / "drifted.csv", labelled.drop_columns(["is_fraud"]))
    _, batch_key, _ = drop_file(target, batch_path, "scoring", "inference")
    batch = events.wait_for("DatasetValidated", batch_key, timeout=90)["detail"]["version"]
    events.wait_for("DriftDetected", batch, timeout=240, key="version")
    # Then the retraining it asks for waits for labels: it would reproduce the champion
    waiting = events.wait_for("RetrainingWaiting", batch, timeout=120, key="trigger_version")
    assert waiting["detail"]["newest_version"] == newest
    assert not [
        e
        for e in events.seen
        if e["detail-type"] == "RetrainingStarted" and e["detail"]["trigger_version"] == batch
    ]
    (entry,) = drift_retrainings(target, batch)
    assert entry["status"] == "WAITING_FOR_LABELS" and entry["execution"] is None
    # When the batch's labels arrive
    ids = pacsv.read_csv(batch_path)["transaction_id"].to_pylist()
    outcomes = pa.table({"transaction_id": ids, "is_fraud": labelled["is_fraud"]})
    labels_path = tmp_path / "drifted-labels.csv"
    pacsv.write_csv(outcomes, labels_path)
    _, labels_key, _ = drop_file(target, labels_path, "scoring-labels", "labels")
    labels_version = events.wait_for("DatasetValidated", labels_key, timeout=90)["detail"][
        "version"
    ]
    # Then the labelled rows come back as training data, and a training run starts on them
    fed = events.wait_for(
        "DatasetValidated", f"transactions/feedback-{labels_version}.parquet", timeout=120
    )["detail"]
    events.wait_for(
        ("ModelRegistered", "ModelRejected"), fed["version"], timeout=300, key="version"
    )
    (entry,) = drift_retrainings(target, batch)
    assert entry["status"] == "STARTED_ON_LABELS" and entry["execution"]
    assert fed["version"] in entry["training_versions"] and newest in entry["training_versions"]


def degraded_maximum(target: Target, since: datetime, series: dict[str, str]) -> float | None:
    """The highest ModelQualityDegraded the join-labels function recorded in a series
    (its dimensions beside stage and service) since ``since``, or None while CloudWatch
    has none."""
    datapoints = target.client("cloudwatch").get_metric_statistics(
        Namespace=names.METRICS_NAMESPACE,
        MetricName=names.MODEL_QUALITY_DEGRADED_METRIC,
        Dimensions=[
            {"Name": "service", "Value": names.MODEL_QUALITY_SERVICE},
            {"Name": names.STAGE_DIMENSION, "Value": target.stage},
            *({"Name": name, "Value": value} for name, value in series.items()),
        ],
        StartTime=since,
        EndTime=datetime.now(UTC) + timedelta(minutes=1),
        Period=60,
        Statistics=["Maximum"],
    )["Datapoints"]
    return max((point["Maximum"] for point in datapoints), default=None)
