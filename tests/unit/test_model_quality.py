"""Model quality for every problem type: the measures (held to scikit-learn's), the labels
read as each problem needs them, the degraded verdict in the metric's direction, and the
join-labels function measuring a regression and a multiclass model."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from driftline_runtime import names
from driftline_runtime.contracts import QualitySettings
from driftline_runtime.events import DatasetValidated
from driftline_runtime.observability import observability
from driftline_runtime.quality import allowed_worsening, is_degraded
from driftline_runtime.quality_measures import (
    UNKNOWN_CLASS,
    multiclass_measures,
    regression_measures,
    top_class_calibration,
)
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions" / "join_labels"))
from joining import LABEL  # noqa: E402
from measuring import (  # noqa: E402
    ModelFacts,
    UnmeasurableLabels,
    binary_labels,
    class_indexes,
    measure_rows,
)

sys.path.pop(0)


# -- the measures -----------------------------------------------------------------------
def test_multiclass_measures_match_scikit_learn() -> None:
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    # Given three classes, labels that mostly follow the probabilities, and a class
    # (2) that is never the top one
    rng = np.random.default_rng(11)
    y = rng.integers(0, 3, 1_500)
    raw = rng.uniform(0.05, 1.0, (1_500, 3))
    raw[np.arange(1_500), y] += 0.8
    raw[:, 2] *= 0.2
    probabilities = raw / raw.sum(axis=1, keepdims=True)
    # When they are measured
    measured = multiclass_measures(y.astype(np.int64), probabilities)
    # Then the numbers are scikit-learn's, as the training job measures them
    predicted = probabilities.argmax(axis=1)
    expected_f1 = f1_score(y, predicted, labels=[0, 1, 2], average="macro", zero_division=0)
    assert measured["macro_f1"] == pytest.approx(expected_f1, abs=1e-12)
    assert measured["log_loss"] == pytest.approx(
        log_loss(y, probabilities, labels=[0, 1, 2]), abs=1e-9
    )
    assert measured["accuracy"] == pytest.approx(accuracy_score(y, predicted), abs=1e-12)
    assert measured["rows"] == 1_500


def test_a_label_the_model_has_no_class_for_is_a_miss_with_probability_zero() -> None:
    # Given two rows the model got right and one whose label it does not know
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    labels = np.array([0, 1, UNKNOWN_CLASS], dtype=np.int64)
    # When measured
    measured = multiclass_measures(labels, probabilities)
    # Then it counts against accuracy, and log loss takes the clipped zero probability
    assert measured["accuracy"] == pytest.approx(2 / 3)
    assert measured["log_loss"] > 10
    # And calibration compares the top class's probability with how often it was right
    bins = top_class_calibration(labels, probabilities)
    assert sum(b.rows for b in bins) == 3
    assert {b.observed for b in bins} <= {0.0, 1.0}


def test_regression_measures_match_scikit_learn_and_a_constant_target_has_no_r2() -> None:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    rng = np.random.default_rng(5)
    values = rng.normal(50, 10, 800)
    predicted = values + rng.normal(0, 4, 800)
    measured = regression_measures(values, predicted)
    assert measured["rmse"] == pytest.approx(np.sqrt(mean_squared_error(values, predicted)))
    assert measured["mae"] == pytest.approx(mean_absolute_error(values, predicted))
    assert measured["r2"] == pytest.approx(r2_score(values, predicted))
    constant = regression_measures(np.full(10, 3.0), np.arange(10, dtype=np.float64))
    assert "r2" not in constant and constant["rmse"] > 0


# -- labels as each problem reads them -------------------------------------------------
def test_binary_labels_read_zero_one_booleans_and_two_labels_of_their_own() -> None:
    assert binary_labels(pa.chunked_array([[0, 1, 1]])).tolist() == [0.0, 1.0, 1.0]
    assert binary_labels(pa.chunked_array([["true", "False", "1.0"]])).tolist() == [1, 0, 1]
    # Two labels of their own: the second in sort order is positive, as training has it
    assert binary_labels(pa.chunked_array([["yes", "no", "yes"]])).tolist() == [1, 0, 1]
    with pytest.raises(UnmeasurableLabels, match="both of the model's two labels"):
        binary_labels(pa.chunked_array([["yes", "yes"]]))


def test_multiclass_labels_map_to_the_models_classes_integers_written_one_way() -> None:
    indexes = class_indexes(pa.chunked_array([[2.0, 1.0, 7.0]]), ["1", "2", "3"])
    assert indexes.tolist() == [1, 0, UNKNOWN_CLASS]


def test_regression_labels_that_are_not_numbers_say_so() -> None:
    rows = pa.table({LABEL: ["12.5", "lots"], names.PREDICTION_COLUMN: [10.0, 11.0]})
    with pytest.raises(UnmeasurableLabels, match="must be numbers"):
        measure_rows("regression", rows, [names.PREDICTION_COLUMN])


def test_a_package_says_how_its_model_is_judged_and_an_old_one_is_binary_by_auc() -> None:
    facts = ModelFacts.of_package(
        {
            "CustomerMetadataProperties": {
                "problem": "regression",
                "primary_metric": "test:rmse",
                "metric:test:rmse": "4.5",
            }
        }
    )
    assert (facts.problem, facts.primary_metric, facts.reference_metric) == (
        "regression",
        "rmse",
        4.5,
    )
    assert facts.direction == "lower"
    old = ModelFacts.of_package({"CustomerMetadataProperties": {"metric:test:auc": "0.9"}})
    assert (old.problem, old.primary_metric, old.reference_metric) == ("binary", "auc", 0.9)


# -- the verdict in the metric's direction ---------------------------------------------
@pytest.mark.parametrize(
    ("direction", "value", "reference", "rows", "degraded"),
    [
        ("higher", 0.80, 0.86, 500, True),  # AUC lost 0.06 > 0.05
        ("higher", 0.82, 0.86, 500, False),  # 0.04: within
        ("higher", 0.50, 0.86, 100, False),  # too few labelled rows for a verdict
        ("lower", 11.5, 10.0, 500, True),  # RMSE 15% above the model's own: > 10%
        ("lower", 10.8, 10.0, 500, False),  # 8%: within
        ("lower", 9.0, 10.0, 500, False),  # better than at training
    ],
)
def test_degraded_is_worse_than_the_test_metric_by_more_than_allowed(
    direction: str, value: float, reference: float, rows: int, degraded: bool
) -> None:
    settings = QualitySettings(max_drop=0.05, max_error_increase=0.1, min_labelled_rows=200)
    assert is_degraded(direction, value, reference, rows, settings) is degraded  # type: ignore[arg-type]


def test_the_allowed_worsening_is_in_the_metrics_own_units() -> None:
    settings = QualitySettings(max_drop=0.03, max_error_increase=0.2)
    assert allowed_worsening("higher", 0.9, settings) == 0.03
    assert allowed_worsening("lower", 25.0, settings) == pytest.approx(5.0)


# -- the join function, for a regression and a multiclass model ------------------------
class Registry:
    """The SageMaker and EventBridge calls the join function makes, as fakes."""

    def __init__(self, metadata: dict[str, str]) -> None:
        self.metadata = metadata
        self.events: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803
        self.events += Entries
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "1"} for _ in Entries]}

    def describe_model_package(self, ModelPackageName: str) -> dict[str, Any]:  # noqa: N803
        return {"CustomerMetadataProperties": self.metadata}


def put_parquet(s3: Any, bucket: str, key: str, table: pa.Table) -> str:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    s3.put_object(Bucket=bucket, Key=key, Body=sink.getvalue())
    return f"s3://{bucket}/{key}"


def scored_batch(s3: Any, dataset: str, features: pa.Table, predictions: pa.Table) -> None:
    data_uri = put_parquet(s3, "curated", f"curated/{dataset}/b1.parquet", features)
    prefix = f"predictions/{dataset}/b1/r1"
    put_parquet(s3, "predictions", f"{prefix}/predictions.parquet", predictions)
    manifest = {
        "version": "b1",
        "run": "r1",
        "model_package_arn": f"arn:aws:sagemaker:us-east-1:1:model-package/g-{dataset}/1",
        "data_uri": data_uri,
        "predictions_uri": f"s3://predictions/{prefix}/predictions.parquet",
    }
    s3.put_object(
        Bucket="predictions", Key=f"{prefix}/manifest.json", Body=json.dumps(manifest).encode()
    )


def process(
    module: ModuleType, s3: Any, registry: Registry, labels_name: str, labels: pa.Table
) -> dict[str, Any]:
    labels_uri = put_parquet(s3, "curated", f"curated/{labels_name}/l1.parquet", labels)
    logic = module.LabelJoining(
        module.Settings(
            curated_bucket="curated",
            predictions_bucket="predictions",
            raw_bucket="raw",
            event_bus_name="bus",
        ),
        module.Services(
            s3=s3, sagemaker=registry, events=registry, obs=observability("join_labels")
        ),
    )
    event = DatasetValidated(
        dataset=labels_name,
        kind="labels",
        version="l1",
        contract_version="1.0.0",
        source_bucket="raw",
        source_key=f"{labels_name}/outcomes.csv",
        source_version_id=None,
        report_uri=f"s3://curated/reports/{labels_name}/l1.json",
        data_uri=labels_uri,
        manifest_uri=f"s3://curated/manifests/{labels_name}/l1.json",
        rows=labels.num_rows,
        dropped_rows=0,
    )
    report: dict[str, Any] = logic.process(event, datetime(2026, 11, 2, tzinfo=UTC))
    return report


def test_labels_measure_a_regression_model_by_rmse_and_feed_back_its_rows(
    aws_credentials: None,
    load_logic: Callable[[str, str], ModuleType],
) -> None:
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in ("curated", "predictions", "raw"):
            s3.create_bucket(Bucket=bucket)
        # Given a store-sales batch of 300 store-days, forecast 30% too high
        rng = np.random.default_rng(2)
        ids = list(range(1, 301))
        sold = rng.uniform(20, 200, 300)
        features = pa.table({"sale_id": ids, "price": rng.uniform(1, 50, 300)})
        predictions = pa.table({"sale_id": ids, names.PREDICTION_COLUMN: sold * 1.3})
        scored_batch(s3, "store-sales-batches", features, predictions)
        # And a model registered with an RMSE of 10 on its own test split
        registry = Registry(
            {"problem": "regression", "primary_metric": "test:rmse", "metric:test:rmse": "10.0"}
        )
        module = load_logic("join_labels", "labelling")
        # When the units actually sold arrive (store-sales-labels: RMSE may be 15% above)
        report = process(
            module,
            s3,
            registry,
            "store-sales-labels",
            pa.table({"sale_id": ids, "units_sold": sold}),
        )
        # Then the model is measured by RMSE, MAE and R2, and RMSE far above 10 is degraded
        (quality,) = report["model_quality"]
        assert quality["problem"] == "regression" and quality["primary_metric"] == "rmse"
        assert quality["direction"] == "lower" and quality["max_drop"] == pytest.approx(1.5)
        expected = float(np.sqrt(np.mean((0.3 * sold) ** 2)))
        assert quality["metrics"]["rmse"] == pytest.approx(expected)
        assert {"mae", "r2", "rows"} <= set(quality["metrics"])
        assert quality["degraded"] is True
        assert len(quality["calibration"]) == 10
        (event,) = registry.events
        assert event["DetailType"] == "ModelQualityDegraded"
        assert json.loads(event["Detail"])["training_dataset"] == "store-sales"
        # And the labelled rows go back as store-sales training rows, with the units sold
        raw = s3.get_object(Bucket="raw", Key="store-sales/feedback-l1.parquet")["Body"].read()
        fed = pq.read_table(io.BytesIO(raw))
        assert fed.num_rows == 300
        fed_sold = dict(zip(fed["sale_id"].to_pylist(), fed["units_sold"].to_pylist(), strict=True))
        assert [fed_sold[i] for i in ids] == pytest.approx(sold.tolist())


def test_labels_measure_a_multiclass_model_by_macro_f1(
    aws_credentials: None,
    load_logic: Callable[[str, str], ModuleType],
) -> None:
    with mock_aws():
        s3 = boto3.client("s3")
        for bucket in ("curated", "predictions", "raw"):
            s3.create_bucket(Bucket=bucket)
        # Given 200 triaged tickets: the model is sure and right on the first 150 and sure
        # and wrong on the rest
        teams = ["billing", "technical", "account"]
        ids = [f"tk-{i:08d}" for i in range(200)]
        truth = [teams[i % 3] for i in range(200)]
        chosen = [t if i < 150 else teams[(teams.index(t) + 1) % 3] for i, t in enumerate(truth)]
        probability = {
            f"{names.PROBABILITY_COLUMN}:{team}": [0.9 if c == team else 0.05 for c in chosen]
            for team in teams
        }
        predictions = pa.table({"ticket_id": ids, names.PREDICTION_COLUMN: chosen, **probability})
        scored_batch(s3, "ticket-triage", pa.table({"ticket_id": ids}), predictions)
        registry = Registry(
            {
                "problem": "multiclass",
                "primary_metric": "test:macro_f1",
                "metric:test:macro_f1": "0.95",
            }
        )
        module = load_logic("join_labels", "labelling")
        # When the teams that actually resolved them arrive (ticket-triage-labels)
        report = process(
            module,
            s3,
            registry,
            "ticket-triage-labels",
            pa.table({"ticket_id": ids, "team": truth}),
        )
        # Then the model is measured by macro F1 and accuracy: 75% right is degraded from 0.95
        (quality,) = report["model_quality"]
        assert quality["problem"] == "multiclass" and quality["primary_metric"] == "macro_f1"
        assert quality["metrics"]["accuracy"] == pytest.approx(0.75)
        assert quality["metrics"]["macro_f1"] < 0.8 and quality["degraded"] is True
        # And calibration says the model was 90% sure and 75% right (one decile: every
        # top-class probability is the same)
        (top,) = quality["calibration"]
        assert top["rows"] == 200 and top["predicted"] == pytest.approx(0.9)
        assert top["observed"] == pytest.approx(0.75)
