"""A dataset with its own training code, end to end on the local cloud.

The worked example (``tests/fixtures/own_training``: the ``parcel-delays`` dataset, whose
spec names the folder ``parcel_model`` and judges models by accuracy) is packaged beside
the project's contracts (``extra_contract_folders``) in the session's extended deployment
(``tests/e2e/conftest.py``). A training file is
dropped; the training job runs the dataset's script under the SageMaker role (IAM checks
on, so the role's read-only grant on the code is what lets the job fetch it), the gate
judges the model by the spec's primary metric, the model registers, and a scoring batch
is scored by the serving code the model carries.
"""

from __future__ import annotations

import importlib
import io
import json
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from driftline_runtime import names
from driftline_runtime.contracts import DatasetSpec

from driftline.actions import drop_file
from driftline.cli import main
from driftline.samples.contract_rows import generate_rows
from driftline.target import Target
from tests.e2e.conftest import OWN_TRAINING_CONTRACTS, EventRecorder

pytestmark = pytest.mark.e2e

CONTRACTS = OWN_TRAINING_CONTRACTS
END = datetime(2026, 11, 1, tzinfo=UTC)
SOURCES = ["driftline.ingest", "driftline.training", "driftline.inference"]


@pytest.fixture
def events(deployed: dict[str, str], target: Target) -> Iterator[EventRecorder]:
    recording = EventRecorder(target, deployed["EventBusName"], SOURCES)
    try:
        yield recording
    finally:
        recording.close()


def parcel_specs() -> tuple[DatasetSpec, DatasetSpec]:
    """The example's specs, imported by module name (pydantic resolves its postponed
    annotations through the module)."""
    sys.path.insert(0, str(CONTRACTS))
    try:
        module = importlib.import_module("parcel_delays")
    finally:
        sys.path.remove(str(CONTRACTS))
    training, scoring = module.DATASETS
    return training, scoring


def drop(
    target: Target, events: EventRecorder, path: Path, table: pa.Table, spec: DatasetSpec
) -> dict[str, Any]:
    pacsv.write_csv(table, path)
    _, key, _ = drop_file(target, path, spec.name, spec.kind)
    detail: dict[str, Any] = events.wait_for("DatasetValidated", key, timeout=120)["detail"]
    return detail


def read_s3(target: Target, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body: bytes = target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


@pytest.mark.extended_deployment
def test_a_dataset_with_its_own_training_code_trains_registers_and_scores(
    extended_deployment: dict[str, str],
    target: Target,
    events: EventRecorder,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    training, scoring = parcel_specs()
    # Given the deployment with the worked example's contract, whose training code CDK
    # packages as an asset of its own
    # When a training file of the dataset is dropped
    seed = uuid.uuid4().int % 1_000_000
    table = generate_rows(training, 2_000, seed=seed, end=END)
    validated = drop(target, events, tmp_path / "parcels.csv", table, training)
    outcome = events.wait_for(
        ("ModelRegistered", "ModelRejected"), validated["version"], timeout=600, key="version"
    )["detail"]
    # Then the training job ran the dataset's script, with the spec's own settings and
    # none of driftline's trainer
    sagemaker = target.client("sagemaker")
    job = sagemaker.describe_training_job(TrainingJobName=outcome["training_job"])
    hyperparameters = job["HyperParameters"]
    assert job["TrainingJobStatus"] == "Completed"
    assert hyperparameters["sagemaker_program"] == "train.py"
    assert hyperparameters["regularization"] == "0.5"
    assert not {"max_iter", "learning_rate", "algorithm"} & set(hyperparameters)
    # And the gate judged the model by the spec's primary metric (accuracy), which the
    # script reported, and registered it
    primary = training.primary_metric_name
    assert primary == "test:accuracy" and primary in outcome["metrics"]
    assert f"{primary} " in outcome["reason"], outcome["reason"]
    assert outcome["status"] in ("Approved", "Rejected"), outcome
    if outcome["status"] == "Rejected":  # a champion of an earlier run on this cloud
        assert "does not beat the champion" in outcome["reason"], outcome["reason"]
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    models = json.loads(capsys.readouterr().out)["models"]
    (model,) = [m for m in models if m["dataset_version"] == outcome["version"]]
    assert (model["problem"], model["primary_metric"]) == ("binary", primary)
    assert model["features"] == training.feature_columns

    # Given a scoring batch for the dataset's approved model
    batch = generate_rows(scoring, 300, seed=seed + 1, end=END, model=training)
    version = drop(target, events, tmp_path / "batch.csv", batch, scoring)["version"]
    # When it is scored
    completed = events.wait_for("InferenceCompleted", version, timeout=400, key="version")
    # Then the model's own serving code gave every row a probability
    predictions = pq.read_table(io.BytesIO(read_s3(target, completed["detail"]["predictions_uri"])))
    assert predictions.column_names == [
        scoring.id_column,
        *names.prediction_columns("binary", ()),
    ]
    assert predictions.num_rows == 300
    # (one per input row: the predictions keep ids as text, whatever their type)
    expected_ids = sorted(str(i) for i in batch.column(scoring.id_column).to_pylist())
    assert sorted(predictions.column(scoring.id_column).to_pylist()) == expected_ids
    probabilities = predictions.column(names.PROBABILITY_COLUMN).to_pylist()
    assert all(0.0 <= p <= 1.0 for p in probabilities)
