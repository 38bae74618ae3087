"""training/train.py under the SageMaker container contract, run as the container runs it.

Each test lays out a job folder like ``/opt/ml`` (channels of CSV files with a header row,
``model``, ``output``, ``output/data``), points the ``SM_*`` variables into it and runs
``python train.py`` in ``training/`` with this interpreter, as the scikit-learn container
and the local cloud do. Importing scikit-learn alone takes a few seconds on a slow
machine, so each run is one subprocess that several assertions share.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from driftline_runtime.names import PROBLEM_MEASURES, champion_metric

from driftline.samples import generate_transactions, write_table
from training.sklearn_classifier import baseline as baseline_module
from training.sklearn_classifier.metrics import METRIC_DEFINITIONS, METRIC_NAMES

ROOT = Path(__file__).resolve().parents[2]
TRAINING = ROOT / "training"
CHANNELS = ("train", "validation", "test")
ROWS = 5_000
END = datetime(2026, 11, 1, tzinfo=UTC)
PII = ("card_id", "customer_email")
# The dataset's columns, which the prepare step always passes.
COLUMNS = {"target_column": "is_fraud", "id_column": "transaction_id"}
# As the CreateTrainingJob API hands them over: every value a string.
STRING_HYPERPARAMETERS = {
    **COLUMNS,
    "exclude_columns": '["card_id", "customer_email", "event_time", "merchant_id"]',
    "learning_rate": "0.1",
    "max_iter": "120",
    "max_depth": "3",
    "random_state": "7",
    "min_rows": "500",
    "early_stopping": "true",
}


@dataclass(frozen=True)
class Job:
    """A job folder laid out like /opt/ml, and the finished run."""

    root: Path
    result: subprocess.CompletedProcess[str]

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def failure(self) -> Path:
        return self.root / "output" / "failure"

    def json(self, name: str) -> Any:
        return json.loads((self.model_dir / name).read_text())


def write_channels(
    root: Path, table: pa.Table, *, channels: tuple[str, ...] = CHANNELS
) -> dict[str, Path]:
    """Split by time, 60/20/20, into channel folders; train as two files."""
    rows = table.num_rows
    cut_validation, cut_test = int(rows * 0.6), int(rows * 0.8)
    half = cut_validation // 2
    parts = {
        "train": [table.slice(0, half), table.slice(half, cut_validation - half)],
        "validation": [table.slice(cut_validation, cut_test - cut_validation)],
        "test": [table.slice(cut_test)],
    }
    folders = {}
    for channel in channels:
        folders[channel] = root / "input" / "data" / channel
        for number, part in enumerate(parts[channel]):
            write_table(part, folders[channel] / f"part-{number:04d}.csv")
    return folders


def run_training(
    root: Path,
    *,
    hyperparameters: dict[str, Any] | None = None,
    sm_variables: bool = True,
) -> Job:
    """``python train.py`` in training/, as the container runs it.

    With ``sm_variables`` the SM_* variables name every folder and SM_HPS holds the
    hyperparameters; without, only SAGEMAKER_BASE_DIR is set and the script must find the
    toolkit's layout under it (hyperparameters in input/config/hyperparameters.json).
    """
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SM_", "SAGEMAKER_"))
    }
    environment["SAGEMAKER_BASE_DIR"] = str(root)
    hyperparameters = hyperparameters or {}
    if sm_variables:
        environment.update(
            SM_MODEL_DIR=str(root / "model"),
            SM_OUTPUT_DATA_DIR=str(root / "output" / "data"),
            SM_OUTPUT_DIR=str(root / "output"),
            SM_HPS=json.dumps(hyperparameters),
        )
        for channel in (*CHANNELS, "champion"):
            folder = root / "input" / "data" / channel
            if folder.exists():
                environment[f"SM_CHANNEL_{channel.upper()}"] = str(folder)
    else:
        config = root / "input" / "config" / "hyperparameters.json"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(json.dumps(hyperparameters))
    result = subprocess.run(
        [sys.executable, "train.py"],
        cwd=TRAINING,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return Job(root, result)


def printed_metrics(stdout: str) -> dict[str, float]:
    """Every metric the job printed, read with the regexes SageMaker is given."""
    found: dict[str, float] = {}
    for definition in METRIC_DEFINITIONS:
        values = re.findall(definition["Regex"], stdout)
        assert len(values) <= 1, f"{definition['Name']}: {values}"
        if values:
            found[definition["Name"]] = float(values[0])
    return found


@pytest.fixture(scope="module")
def transactions() -> pa.Table:
    return generate_transactions(ROWS, seed=11, end=END)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, transactions: pa.Table) -> Job:
    # Given train (two files), validation and test channels from 5,000 transactions, and
    # hyperparameters as the API passes them: strings
    root = tmp_path_factory.mktemp("job")
    write_channels(root, transactions)
    # When the container runs the script
    return run_training(root, hyperparameters=STRING_HYPERPARAMETERS)


def test_a_job_writes_the_model_evaluation_and_baseline(trained: Job) -> None:
    # Then it succeeds and leaves no failure file
    assert trained.result.returncode == 0, trained.result.stderr
    assert not trained.failure.exists()

    # And the model bundle holds the pipeline, the id column and the feature order
    bundle = joblib.load(trained.model_dir / "model.joblib")
    assert bundle["format"] == "driftline-fraud-model/1"
    assert bundle["id_column"] == "transaction_id"
    features = bundle["feature_columns"]
    assert features[:3] == ["customer_age", "customer_tenure_days", "amount"]
    for not_a_feature in (*PII, "event_time", "merchant_id", "transaction_id", "is_fraud"):
        assert not_a_feature not in features
    assert bundle["feature_kinds"]["card_present"] == "boolean"
    assert bundle["feature_kinds"]["country"] == "categorical"
    assert bundle["feature_kinds"]["device_trust_score"] == "numeric"
    assert hasattr(bundle["pipeline"], "predict_proba")

    # And evaluation.json holds every metric it printed (a binary model's), also in the
    # output data folder
    printed = printed_metrics(trained.result.stdout)
    evaluation = trained.json("evaluation.json")
    assert list(evaluation["metrics"]) == [name for name in METRIC_NAMES if name in printed]
    assert evaluation["metrics"]["train:rows"] == 3_000
    assert evaluation["metrics"]["test:rows"] == 1_000
    assert evaluation["feature_columns"] == features
    copy = trained.root / "output" / "data" / "evaluation.json"
    assert copy.read_text() == (trained.model_dir / "evaluation.json").read_text()
    test_auc = evaluation["binary_classification_metrics"]["auc"]["value"]
    assert test_auc == evaluation["metrics"]["test:auc"]


def test_hyperparameters_given_as_strings_are_parsed(trained: Job) -> None:
    # Then every string became its type, and the extra excluded column is no feature
    assert trained.json("evaluation.json")["hyperparameters"] == {
        "target_column": "is_fraud",
        "id_column": "transaction_id",
        "problem": "binary",
        "features": [],
        "exclude_columns": ["card_id", "customer_email", "event_time", "merchant_id"],
        "algorithm": "hist_gradient_boosting",
        "learning_rate": 0.1,
        "max_iter": 120,
        "max_depth": 3,
        "random_state": 7,
        "min_rows": 500,
        "early_stopping": True,
    }
    assert "merchant_id" not in trained.json("baseline.json")["features"]


def test_printed_metrics_match_the_regexes_and_the_model_ranks_fraud(trained: Job) -> None:
    # Then each metric is printed once, in the form the regexes read
    printed = printed_metrics(trained.result.stdout)
    metric_lines = [line for line in trained.result.stdout.splitlines() if "=" in line]
    binary = ("auc", "average_precision", "log_loss", "accuracy", "rows")
    assert len(metric_lines) == len(printed) == 3 * len(binary)
    assert set(printed) == {f"{split}:{measure}" for split in CHANNELS for measure in binary}
    assert set(printed) <= set(METRIC_NAMES)
    assert all(re.fullmatch(r"[a-z]+:[a-z_]+=[-+0-9.eE]+;", line) for line in metric_lines)

    # And the printed values are evaluation.json's, to six decimals
    recorded = trained.json("evaluation.json")["metrics"]
    assert printed == pytest.approx(recorded, abs=1e-6)

    # And the model separates fraud well on the held-out test split
    assert printed["test:auc"] > 0.75
    assert 0 < printed["test:log_loss"] < 0.3
    assert printed["test:rows"] == 1_000


def test_the_baseline_describes_the_training_split(trained: Job, transactions: pa.Table) -> None:
    baseline = trained.json("baseline.json")
    features = baseline["features"]
    # Then it profiles every feature, in the model's order, and no PII
    assert list(features) == baseline["feature_columns"]
    assert not set(PII) & set(features)
    assert baseline["rows"] == 3_000

    # And numeric features have increasing decile edges and one more share than edges
    for column, profile in features.items():
        if profile["kind"] == "numeric":
            edges, shares = profile["bin_edges"], profile["bin_shares"]
            assert edges == sorted(set(edges)), column
            assert len(shares) == len(edges) + 1, column
            assert sum(shares) == pytest.approx(1.0), column
            assert {"mean", "std", "min", "max", "null_share"} <= set(profile), column

    # And the bins are the train split's deciles: recounting amount gives the same shares
    amount = features["amount"]
    train_amounts = transactions.slice(0, 3_000)["amount"].to_numpy()
    recount = np.bincount(
        np.searchsorted(amount["bin_edges"], train_amounts, side="left"),
        minlength=len(amount["bin_edges"]) + 1,
    ) / len(train_amounts)
    assert recount.tolist() == pytest.approx(amount["bin_shares"])
    assert len(amount["bin_edges"]) == 9
    assert amount["mean"] == pytest.approx(float(np.mean(train_amounts)))

    # And a missing value is counted: device trust is missing for some rows
    trust = features["device_trust_score"]
    train_trust = transactions.slice(0, 3_000)["device_trust_score"]
    assert trust["null_share"] == pytest.approx(train_trust.null_count / 3_000)
    assert 0 < trust["null_share"] < 0.2

    # And categorical and boolean features carry shares that sum to 1, with the buckets
    for column in ("country", "channel", "currency", "card_present"):
        frequencies = features[column]["frequencies"]
        assert sum(frequencies.values()) == pytest.approx(1.0), column
        assert {"__other__", "__null__"} <= set(frequencies), column
    countries = pd.Series(transactions.slice(0, 3_000)["country"].to_pylist())
    assert features["country"]["frequencies"]["DE"] == pytest.approx((countries == "DE").mean())
    assert features["card_present"]["kind"] == "boolean"
    assert set(features["card_present"]["frequencies"]) >= {"true", "false"}

    # And the predicted probabilities are profiled the same way, on the test split: rows
    # the model did not learn from, as a batch will be
    prediction = baseline["prediction"]
    assert prediction["split"] == "test"
    assert prediction["rows"] == prediction["count"] == 1_000
    assert sum(prediction["bin_shares"]) == pytest.approx(1.0)
    assert 0 <= prediction["min"] <= prediction["mean"] <= prediction["max"] <= 1


def test_the_baseline_keeps_the_training_values_for_the_ks_test(
    trained: Job, transactions: pa.Table
) -> None:
    baseline = trained.json("baseline.json")
    assert baseline["schema_version"] == 2
    features = baseline["features"]
    # Then every profile says how many rows it describes, nulls included
    assert all(profile["rows"] == 3_000 for profile in features.values())
    # And a numeric feature keeps a sketch of its 3,000 non-null values: 1,000 quantiles,
    # sorted, observed values (an integer column keeps its integers)
    train = transactions.slice(0, 3_000)
    amount = features["amount"]["quantiles"]
    assert len(amount) == 1_000 and amount == sorted(amount)
    expected = np.quantile(
        train["amount"].to_numpy(), (np.arange(1_000) + 0.5) / 1_000, method="inverted_cdf"
    )
    assert amount == pytest.approx(expected.tolist())
    assert all(float(v).is_integer() for v in features["hour_of_day"]["quantiles"])
    # And the sketch leaves the nulls out: they are the profile's null share
    trust = features["device_trust_score"]
    present = 3_000 - train["device_trust_score"].null_count
    assert trust["count"] == present
    assert len(trust["quantiles"]) == min(present, 1_000)


def test_a_small_column_keeps_every_value_and_a_large_one_its_quantiles() -> None:
    values = np.array([3.0, np.nan, 1.0, 2.0])
    profile = baseline_module.numeric_profile(values)
    assert profile["quantiles"] == [1.0, 2.0, 3.0]
    assert (profile["rows"], profile["count"]) == (4, 3)
    many = np.arange(5_000, dtype=np.float64)
    sketch = baseline_module.numeric_profile(many)["quantiles"]
    assert len(sketch) == baseline_module.SKETCH_SIZE
    # Each sketch value stands for 1/1,000 of the column: value i is near quantile (i+0.5)/1000
    assert sketch[0] == 2.0 and sketch[-1] == 4_997.0


def test_shuffled_labels_give_a_clearly_worse_model(
    tmp_path: Path, transactions: pa.Table, trained: Job
) -> None:
    # Given the same transactions with the fraud labels shuffled (nothing to learn), and
    # hyperparameters as the toolkit puts them in SM_HPS: JSON-decoded where possible
    labels = transactions["is_fraud"].to_numpy()
    shuffled = np.random.default_rng(0).permutation(labels)
    index = transactions.schema.get_field_index("is_fraud")
    write_channels(tmp_path, transactions.set_column(index, "is_fraud", pa.array(shuffled)))

    # When the job runs
    excluded = [*PII, "event_time", "currency"]
    job = run_training(
        tmp_path, hyperparameters={**COLUMNS, "max_iter": 120, "exclude_columns": excluded}
    )

    # Then it succeeds, but its test AUC is near chance and far below the real model's
    assert job.result.returncode == 0, job.result.stderr
    worse = printed_metrics(job.result.stdout)["test:auc"]
    better = printed_metrics(trained.result.stdout)["test:auc"]
    assert worse < 0.65
    assert better - worse > 0.15
    # And the decoded values were taken: currency is no feature, max_iter the number
    assert "currency" not in job.json("baseline.json")["features"]
    assert job.json("evaluation.json")["hyperparameters"]["max_iter"] == 120


def test_a_missing_test_channel_fails_with_a_reason(tmp_path: Path, transactions: pa.Table) -> None:
    # Given only train and validation channels, and no SM_* variables at all: the script
    # must look where the toolkit's layout puts things (here under SAGEMAKER_BASE_DIR)
    write_channels(tmp_path, transactions, channels=("train", "validation"))

    # When the job runs
    job = run_training(tmp_path, hyperparameters=COLUMNS, sm_variables=False)

    # Then it exits non-zero, with one paragraph in output/failure naming the channel
    assert job.result.returncode != 0
    reason = job.failure.read_text()
    assert "The test channel is missing" in reason
    assert str(tmp_path / "input" / "data" / "test") in reason
    assert reason.count("\n") == 1
    assert not (tmp_path / "model" / "model.joblib").exists()


def test_labels_of_one_class_fail_with_a_reason(tmp_path: Path, transactions: pa.Table) -> None:
    # Given a train split in which no transaction is fraud
    index = transactions.schema.get_field_index("is_fraud")
    no_fraud = pa.array(np.zeros(transactions.num_rows, dtype=np.int64))
    write_channels(tmp_path, transactions.set_column(index, "is_fraud", no_fraud))

    # When the job runs
    job = run_training(tmp_path, hyperparameters=COLUMNS)

    # Then it exits non-zero and says why
    assert job.result.returncode != 0
    reason = job.failure.read_text()
    assert "The train channel has only one class in 'is_fraud'" in reason
    assert "all 3000 rows are 0" in reason


def test_an_invalid_hyperparameter_fails_with_a_reason(
    tmp_path: Path, transactions: pa.Table
) -> None:
    # Given a hyperparameter that is not a number, and one the script does not know
    write_channels(tmp_path, transactions.slice(0, 500))

    # When the job runs
    job = run_training(tmp_path, hyperparameters={"max_iter": "many", "lerning_rate": "0.1"})

    # Then it exits non-zero and names the unknown one first
    assert job.result.returncode != 0
    reason = job.failure.read_text()
    assert "Unknown hyperparameter(s): lerning_rate" in reason
    assert "learning_rate" in reason


def test_the_model_carries_the_code_that_serves_it(trained: Job, tmp_path: Path) -> None:
    # Given the model folder a job wrote (SageMaker packs it into model.tar.gz)
    code = trained.model_dir / "code"
    # Then it holds the serving entry point, its package and the names module
    assert (code / "inference.py").is_file()
    assert (code / "sklearn_classifier" / "serving.py").is_file()
    assert (code / "driftline_runtime" / "names.py").is_file()
    # And that code alone serves the model: run from a copy of the model folder, with
    # nothing of the repository on the path (as SAGEMAKER_SUBMIT_DIRECTORY=/opt/ml/model/code
    # in a container with no network)
    model = tmp_path / "model"
    subprocess.run(["cp", "-r", str(trained.model_dir), str(model)], check=True)
    serve = (
        "import inference\n"
        "m = inference.model_fn(sys.argv[1])\n"
        "rows = inference.input_fn(sys.stdin.read(), 'text/csv')\n"
        "print(inference.output_fn(inference.predict_fn(rows, m), 'text/csv')[0])\n"
        "for name in ('inference', 'sklearn_classifier.serving', 'driftline_runtime.names'):\n"
        "    print(sys.modules[name].__file__)\n"
    )
    header = ",".join(["transaction_id", *joblib.load(model / "model.joblib")["feature_columns"]])
    first = (trained.root / "input" / "data" / "test").glob("*.csv")
    row = pd.read_csv(next(iter(first)), nrows=1)
    line = row[header.split(",")].to_csv(index=False, header=False).strip()
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            f"import sys; sys.path.insert(0, {str(model / 'code')!r})\n" + serve,
            str(model),
        ],
        input=line,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    prediction, *modules = result.stdout.splitlines()
    assert prediction.startswith(str(row["transaction_id"].iloc[0]) + ",")
    assert all(module.startswith(str(model / "code")) for module in modules), modules


def pack_model(model_dir: Path, archive: Path) -> None:
    """``model.tar.gz`` as SageMaker packs a job's model folder."""
    import tarfile

    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(model_dir.iterdir()):
            tar.add(path, arcname=path.name)


def test_the_champion_is_scored_on_the_challengers_own_test_split(
    tmp_path: Path, transactions: pa.Table, trained: Job
) -> None:
    # Given a second job on the same channels, with the first job's model as its champion
    write_channels(tmp_path, transactions)
    pack_model(trained.model_dir, tmp_path / "input" / "data" / "champion" / "model.tar.gz")
    hyperparameters = {**STRING_HYPERPARAMETERS, "max_iter": "30"}
    # When it runs
    job = run_training(tmp_path, hyperparameters=hyperparameters)
    # Then it also reports the champion's measures, from its own test split: on the same
    # rows the champion scores exactly what the champion's own job measured there
    assert job.result.returncode == 0, job.result.stderr
    printed = printed_metrics(job.result.stdout)
    first = printed_metrics(trained.result.stdout)
    binary = (*PROBLEM_MEASURES["binary"], "rows")
    assert {champion_metric(measure) for measure in binary} <= set(printed)
    assert printed["champion:auc"] == pytest.approx(first["test:auc"], abs=1e-6)
    assert printed["champion:rows"] == printed["test:rows"] == 1_000
    # And the challenger's own number is another model's on those rows
    assert printed["test:auc"] != printed["champion:auc"]


def test_a_champion_channel_without_a_model_fails_with_a_reason(
    tmp_path: Path, transactions: pa.Table
) -> None:
    write_channels(tmp_path, transactions)
    broken = tmp_path / "input" / "data" / "champion" / "model.tar.gz"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"not a tarball")
    job = run_training(tmp_path, hyperparameters=STRING_HYPERPARAMETERS)
    assert job.result.returncode == 1
    assert "champion's model.tar.gz is not readable" in job.failure.read_text()
