"""Datasets beside transactions on the local cloud: each problem type end to end, features
from the contract only, and a dataset added to a running deployment.

The example datasets ``tickets`` (multiclass) and ``store-sales`` (regression) are drawn
from their contracts (``driftline.samples.contract_rows``), dropped, trained on, scored and
monitored for drift, driven only by drops as a user would.
"""

from __future__ import annotations

import importlib.util
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from driftline_contracts import datasets
from driftline_runtime import names
from driftline_runtime.contracts import DatasetSpec

from driftline.actions import drop_file
from driftline.cli import main
from driftline.samples.contract_rows import generate_rows
from driftline.target import Target
from tests.e2e.conftest import ADDED_DATASET_CONTRACTS, EventRecorder

pytestmark = pytest.mark.e2e

END = datetime(2026, 11, 1, tzinfo=UTC)
SOURCES = ["driftline.ingest", "driftline.training", "driftline.inference", "driftline.monitor"]
# problem type -> (training dataset, the inference dataset its models score)
# The dataset added to the running deployment (one of the session's extra contract folders).
ADDED_DATASET = ADDED_DATASET_CONTRACTS / "added_loans.py"
EXAMPLES = {
    "multiclass": ("tickets", "ticket-triage"),
    "regression": ("store-sales", "store-sales-batches"),
}


@pytest.fixture
def events(deployed: dict[str, str], target: Target) -> Iterator[EventRecorder]:
    recording = EventRecorder(target, deployed["EventBusName"], SOURCES)
    try:
        yield recording
    finally:
        recording.close()


def fresh_seed() -> int:
    """A new seed per run: new ids, so new content and a new version on a reused cloud."""
    return uuid.uuid4().int % 1_000_000


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


def status_models(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    models: list[dict[str, Any]] = json.loads(capsys.readouterr().out)["models"]
    return models


def train(
    target: Target, events: EventRecorder, tmp_path: Path, spec: DatasetSpec, table: pa.Table
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Drop a training file: its DatasetValidated detail, and the training outcome's once
    the model is registered."""
    validated = drop(target, events, tmp_path / f"{spec.name}.csv", table, spec)
    outcome = events.wait_for(
        ("ModelRegistered", "ModelRejected"), validated["version"], timeout=600, key="version"
    )
    return validated, outcome["detail"]


@pytest.mark.parametrize("problem", list(EXAMPLES))
def test_each_problem_type_trains_scores_and_monitors_drift(
    problem: str,
    target: Target,
    events: EventRecorder,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    training, scoring = (datasets()[name] for name in EXAMPLES[problem])
    # Given a training file drawn from the contract that also carries an undeclared copy
    # of the label (as a file holding another model's output might)
    table = generate_rows(training, 4_000, seed=fresh_seed(), end=END)
    leak = table.column(str(training.target))
    table = table.append_column("label_copy", leak)
    # When it is dropped
    validated, outcome = train(target, events, tmp_path, training, table)
    # Then it is accepted, its manifest naming the undeclared column it left out
    manifest = json.loads(read_s3(target, validated["manifest_uri"]))
    assert manifest["dropped_columns"] == ["label_copy"]
    # And the model is registered with the problem's metrics, judged by its primary one
    primary = training.primary_metric_name
    assert primary in outcome["metrics"] and "test:auc" not in outcome["metrics"]
    assert outcome["status"] in ("Approved", "Rejected"), outcome
    if outcome["status"] == "Rejected":  # a champion of an earlier run on this cloud
        assert "does not beat the champion" in outcome["reason"], outcome["reason"]
    # And status shows its problem, its primary metric and its features: the contract's,
    # without the undeclared label copy
    (model,) = [m for m in status_models(capsys) if m["dataset_version"] == outcome["version"]]
    assert (model["problem"], model["primary_metric"]) == (problem, primary)
    assert model["features"] == training.feature_columns
    assert "label_copy" not in model["features"]

    # Given an approved model of this dataset, and a batch drawn like its training data
    clean = generate_rows(scoring, 600, seed=fresh_seed(), end=END, model=training)
    version = drop(target, events, tmp_path / "clean.csv", clean, scoring)["version"]
    # When it is scored
    completed = events.wait_for("InferenceCompleted", version, timeout=400, key="version")
    # Then every row has the problem's prediction columns, and the batch has not drifted
    detail = completed["detail"]
    predictions = pq.read_table(io.BytesIO(read_s3(target, detail["predictions_uri"])))
    report = json.loads(read_s3(target, detail["drift_report_uri"]))
    baseline = json.loads(read_s3(target, report["baseline_uri"]))
    expected = names.prediction_columns(problem, baseline.get("classes") or ())
    assert predictions.column_names == [scoring.id_column, *expected]
    assert predictions.num_rows == 600
    assert report["outcome"] == "no_drift", report["report"]["drifted_features"]
    prediction = report["report"]["prediction"]
    assert prediction["kind"] == "prediction" and prediction["p_value"] is not None
    assert prediction["test"] == ("chi_square" if problem == "multiclass" else "ks")

    # Given a batch from a strongly drifted population
    drifted = generate_rows(scoring, 1_000, seed=fresh_seed(), drift=1.0, end=END, model=training)
    version = drop(target, events, tmp_path / "drifted.csv", drifted, scoring)["version"]
    # When it is scored, Then drift is detected
    found = events.wait_for("DriftDetected", version, timeout=400, key="version")["detail"]
    assert found["drifted_features"]


def loaded(path: Path) -> DatasetSpec:
    module_spec = importlib.util.spec_from_file_location("added_loans_contract", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    (spec,) = module.DATASETS
    assert isinstance(spec, DatasetSpec)
    return spec


@pytest.mark.extended_deployment
def test_a_dataset_added_to_a_running_deployment_trains_at_once(
    extended_deployment: dict[str, str],
    target: Target,
    events: EventRecorder,
    tmp_path: Path,
) -> None:
    # Given a running deployment deployed again, as `driftline local up` does on a running
    # cloud, with a contract module for a new dataset in a folder the stage packages
    # (extra_contract_folders: tests/fixtures/added_dataset)
    spec = loaded(ADDED_DATASET)
    # When a file of the new dataset is dropped (its integer key validates)
    table = generate_rows(spec, 2_000, seed=fresh_seed(), end=END)
    _, outcome = train(target, events, tmp_path, spec, table)
    # Then every function of the pipeline knew the dataset: it trained and registered
    assert outcome["dataset"] == "added-loans"
    assert "test:auc" in outcome["metrics"]
    assert outcome["status"] in ("Approved", "Rejected")
