"""Multiclass and regression models, from the training job to the drift monitor: the
metrics each problem type reports, its baseline, what the model serves, how the batch
writer reads it and how its prediction drift is measured.

The data are the example datasets ``tickets`` (multiclass) and ``store-sales``
(regression), drawn from their contracts by ``driftline.samples.contract_rows``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from driftline_contracts import datasets
from driftline_runtime import names
from driftline_runtime.baseline import Baseline
from driftline_runtime.drift import drift_report
from moto import mock_aws

from driftline.samples.contract_rows import generate_rows
from tests.unit.test_training import Job, printed_metrics, run_training, write_channels
from training import inference

END = datetime(2026, 11, 1, tzinfo=UTC)
ROWS = 3_000


def train(root: Path, dataset: str, **extra: Any) -> tuple[Job, pa.Table]:
    """The example dataset's rows through train.py, with the hyperparameters the prepare
    step derives from its spec."""
    spec = datasets()[dataset]
    table = generate_rows(spec, ROWS, seed=5, end=END)
    columns = [spec.id_column, *spec.feature_columns, str(spec.target)]
    write_channels(root, table.select(columns))
    hyperparameters = {
        "problem": spec.problem,
        "algorithm": spec.training.algorithm,
        "target_column": spec.target,
        "id_column": spec.id_column,
        "features": json.dumps(spec.feature_columns),
        "max_iter": 80,
        "min_rows": 100,
        **extra,
    }
    return run_training(root, hyperparameters=hyperparameters), table


@pytest.fixture(scope="module")
def multiclass(tmp_path_factory: pytest.TempPathFactory) -> tuple[Job, pa.Table]:
    return train(tmp_path_factory.mktemp("tickets"), "tickets")


@pytest.fixture(scope="module")
def regression(tmp_path_factory: pytest.TempPathFactory) -> tuple[Job, pa.Table]:
    return train(tmp_path_factory.mktemp("store-sales"), "store-sales")


def test_a_multiclass_job_reports_macro_f1_and_log_loss_and_learns(
    multiclass: tuple[Job, pa.Table],
) -> None:
    # Given the tickets dataset's rows (four teams) / When the job trains on them
    job, _ = multiclass
    assert job.result.returncode == 0, job.result.stderr
    # Then it prints the multiclass measures of every split, and no binary one
    printed = printed_metrics(job.result.stdout)
    measures = {name.split(":")[1] for name in printed}
    assert measures == {"macro_f1", "log_loss", "accuracy", "rows"}
    # And the model beats guessing among four teams by far, on the held-out split
    assert printed["test:macro_f1"] > 0.45
    assert printed["test:log_loss"] < np.log(4)
    evaluation = job.json("evaluation.json")
    assert evaluation["problem"] == "multiclass"
    assert evaluation["classes"] == ["account", "billing", "shipping", "technical"]
    quality = evaluation["multiclass_classification_metrics"]["macro_f1"]["value"]
    assert quality == pytest.approx(printed["test:macro_f1"], abs=1e-6)
    assert evaluation["positive_rate"] is None


def test_a_multiclass_baseline_profiles_the_predicted_classes(
    multiclass: tuple[Job, pa.Table],
) -> None:
    job, _ = multiclass
    baseline = Baseline.model_validate(job.json(names.BASELINE_FILE))
    assert baseline.problem == "multiclass"
    assert baseline.classes == ["account", "billing", "shipping", "technical"]
    assert baseline.prediction.kind == "categorical"
    assert baseline.prediction.split == "test"
    shares = baseline.prediction.frequencies
    assert set(baseline.classes) <= set(shares)
    assert sum(shares.values()) == pytest.approx(1.0)


def test_a_multiclass_model_serves_the_class_and_each_class_probability(
    multiclass: tuple[Job, pa.Table],
) -> None:
    # Given the trained model and five tickets as batch transform sends them
    job, table = multiclass
    model = inference.model_fn(str(job.model_dir))
    rows = table.slice(0, 5).to_pandas()
    # When they are scored
    prediction = inference.predict_fn(inference.Records(frame=rows), model)
    body, content_type = inference.output_fn(prediction, "text/csv")
    # Then each line is the id, the predicted team, then four probabilities summing to 1
    assert content_type == "text/csv"
    assert prediction.columns == [
        "prediction",
        "probability:account",
        "probability:billing",
        "probability:shipping",
        "probability:technical",
    ]
    lines = list(csv.reader(io.StringIO(body)))
    assert [line[0] for line in lines] == rows["ticket_id"].tolist()
    for line in lines:
        probabilities = [float(value) for value in line[2:]]
        assert sum(probabilities) == pytest.approx(1.0, abs=1e-6)
        assert line[1] == model.classes[int(np.argmax(probabilities))]
    document = json.loads(inference.output_fn(prediction, "application/json")[0])
    assert set(document["predictions"][0]) == {"ticket_id", *prediction.columns}


def test_a_regression_job_reports_rmse_mae_and_r2_and_learns(
    regression: tuple[Job, pa.Table],
) -> None:
    job, table = regression
    assert job.result.returncode == 0, job.result.stderr
    printed = printed_metrics(job.result.stdout)
    assert {name.split(":")[1] for name in printed} == {"rmse", "mae", "r2", "rows"}
    # The model explains most of the units sold, and errs by far less than their spread
    assert printed["test:r2"] > 0.6
    spread = float(np.std(table.column("units_sold").to_numpy()))
    assert printed["test:rmse"] < 0.7 * spread
    assert printed["test:mae"] <= printed["test:rmse"]
    baseline = Baseline.model_validate(job.json(names.BASELINE_FILE))
    assert (baseline.problem, baseline.classes) == ("regression", None)
    assert baseline.prediction.kind == "numeric"
    assert "store_id" not in baseline.feature_columns  # excluded by the spec


def test_a_regression_model_serves_the_predicted_value(regression: tuple[Job, pa.Table]) -> None:
    job, table = regression
    model = inference.model_fn(str(job.model_dir))
    rows = table.slice(0, 4).to_pandas()
    prediction = inference.predict_fn(inference.Records(frame=rows), model)
    assert prediction.columns == ["prediction"]
    values = [float(row[0]) for row in prediction.rows]
    assert all(np.isfinite(values))
    body, _ = inference.output_fn(prediction, "text/csv")
    assert [line.split(",")[0] for line in body.splitlines()] == [
        str(value) for value in rows["sale_id"]
    ]
    with pytest.raises(ValueError, match="no single probability"):
        _ = prediction.probabilities


# -- the batch writer and the drift monitor ----------------------------------------------
@pytest.fixture
def s3(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="artifacts")
        yield client


def test_the_writer_reads_a_multiclass_models_output_columns(
    s3: Any, load_logic: Callable[[str, str], ModuleType]
) -> None:
    # Given a transform job's output of a multiclass model (id, class, probabilities)
    predictions = load_logic("write_predictions", "predictions")
    columns = names.prediction_columns("multiclass", ["a", "b"])
    body = "tk-1,a,0.70000000,0.30000000\ntk-2,b,0.10000000,0.90000000"
    s3.put_object(Bucket="artifacts", Key="out/part-0.csv.out", Body=body.encode())
    writer = predictions.PredictionWriter(
        predictions.Settings(predictions_bucket="predictions"), predictions.Services(s3=s3)
    )
    # When it is read with the run's prediction columns
    table = writer.read_outputs("s3://artifacts/out/", "ticket_id", columns)
    # Then the class is text and the probabilities numbers, and coverage checks pass
    assert table.column_names == ["ticket_id", "prediction", "probability:a", "probability:b"]
    assert table.column("prediction").to_pylist() == ["a", "b"]
    assert table.schema.field("probability:b").type == pa.float64()
    predictions.check_coverage(pa.array(["tk-1", "tk-2"]), table, "ticket_id")
    with pytest.raises(predictions.IncompletePredictions, match="1 missing prediction"):
        broken = table.set_column(1, "prediction", pa.array(["a", None]))
        predictions.check_coverage(pa.array(["tk-1", "tk-2"]), broken, "ticket_id")


def test_multiclass_prediction_drift_compares_the_predicted_classes(
    multiclass: tuple[Job, pa.Table],
) -> None:
    # Given the multiclass baseline, and batches whose predicted classes keep or lose
    # the held-out split's shares
    job, table = multiclass
    baseline = Baseline.model_validate(job.json(names.BASELINE_FILE))
    shares = baseline.prediction.frequencies  # type: ignore[union-attr]
    rng = np.random.default_rng(3)
    classes = baseline.classes or []
    weights = np.asarray([shares[label] for label in classes])
    alike = rng.choice(classes, size=2_000, p=weights / weights.sum())
    skewed = np.asarray(["billing"] * 1_800 + ["account"] * 200)
    batch = table.slice(0, 2_000)
    # When the monitor measures each
    calm = drift_report(baseline, batch, pa.array(alike.tolist()))
    moved = drift_report(baseline, batch, pa.array(skewed.tolist()))
    # Then the prediction is compared as categories: flagged only when the shares moved
    assert calm.prediction is not None and moved.prediction is not None
    assert calm.prediction.test == "chi_square" and not calm.prediction.drifted
    assert moved.prediction.drifted
    assert set(classes) <= set(moved.prediction.labels)


def test_regression_prediction_drift_compares_the_predicted_values(
    regression: tuple[Job, pa.Table],
) -> None:
    job, table = regression
    baseline = Baseline.model_validate(job.json(names.BASELINE_FILE))
    sketch = np.asarray(baseline.prediction.quantiles or [])  # type: ignore[union-attr]
    batch = table.slice(0, 1_000)
    rng = np.random.default_rng(4)
    moved = drift_report(baseline, batch, rng.choice(sketch, 1_000) * 3 + 50)
    assert moved.prediction is not None and moved.prediction.test == "ks"
    assert moved.prediction.drifted


# -- XGBoost ------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset", ["tickets", "store-sales"])
def test_the_xgboost_algorithm_trains_and_serves_each_problem_type(
    tmp_path: Path, dataset: str
) -> None:
    # Given the example dataset's rows, and algorithm=xgboost (as a spec's training sets it)
    spec = datasets()[dataset]
    # When the job trains
    job, table = train(tmp_path, dataset, algorithm="xgboost")
    # Then it succeeds with XGBoost's booster inside the pipeline, and the problem's metrics
    assert job.result.returncode == 0, job.result.stderr
    evaluation = job.json("evaluation.json")
    assert evaluation["hyperparameters"]["algorithm"] == "xgboost"
    assert "xgboost" in evaluation["library_versions"]
    assert 0 < evaluation["iterations"] <= 80
    printed = printed_metrics(job.result.stdout)
    if spec.problem == "multiclass":
        assert printed["test:macro_f1"] > 0.45
    else:
        assert printed["test:r2"] > 0.6
    # And the same serving code scores with it
    model = inference.model_fn(str(job.model_dir))
    assert type(model.pipeline.steps[-1][1]).__module__.startswith("xgboost")
    prediction = inference.predict_fn(inference.Records(frame=table.slice(0, 3).to_pandas()), model)
    assert len(prediction.rows) == 3


def test_an_unknown_algorithm_fails_the_job_with_its_name(tmp_path: Path) -> None:
    job, _ = train(tmp_path, "store-sales", algorithm="lightgbm")
    assert job.result.returncode != 0
    assert "algorithm='lightgbm' is invalid" in job.failure.read_text()


# -- rows as a user drops them, on an endpoint --------------------------------------------
@pytest.mark.parametrize("problem", ["multiclass", "regression"])
def test_rows_in_the_datasets_own_columns_are_scored_by_name_for_each_problem(
    problem: str, request: pytest.FixtureRequest
) -> None:
    # Given the trained model and six rows of its dataset as a user drops them for
    # scoring: every declared column (the label, the time column and excluded columns
    # too) in reversed order, with a header line, and the same rows as JSON Lines
    job, table = request.getfixturevalue(problem)
    model = inference.model_fn(str(job.model_dir))
    rows = table.slice(0, 6)
    dropped = rows.select(list(reversed(rows.column_names)))
    sink = io.BytesIO()
    pa_csv.write_csv(dropped, sink)
    as_json_lines = "\n".join(json.dumps(row, default=str) for row in dropped.to_pylist())
    expected = inference.predict_fn(inference.Records(frame=rows.to_pandas()), model)

    # When both are sent as an endpoint receives them
    by_csv = inference.predict_fn(inference.input_fn(sink.getvalue(), "text/csv"), model)
    by_lines = inference.predict_fn(
        inference.input_fn(as_json_lines.encode(), "application/jsonlines"), model
    )
    answer = json.loads(inference.output_fn(by_csv, "application/json")[0])

    # Then each row gets one prediction, keyed by the dataset's id column, as in batch
    ids = [str(value) for value in rows.column(model.id_column).to_pylist()]
    for prediction in (by_csv, by_lines):
        assert prediction.ids == ids
        assert prediction.columns == expected.columns
        assert [row[0] for row in prediction.rows] == [row[0] for row in expected.rows]
        floats = [value for row in prediction.rows for value in row if isinstance(value, float)]
        assert floats == pytest.approx(
            [value for row in expected.rows for value in row if isinstance(value, float)]
        )
    assert [p[model.id_column] for p in answer["predictions"]] == ids
