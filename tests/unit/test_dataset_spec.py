"""The dataset spec's ML problem: its defaults, the features it derives from the contract,
the settings it refuses, and what the prepare and evaluate steps take from it."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import datetime
from types import ModuleType
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from driftline_runtime.approval import ApprovalPolicy
from driftline_runtime.contracts import DatasetSpec
from pydantic import BaseModel, Field, ValidationError


class Sale(BaseModel):
    sale_id: int = Field(ge=0)
    sold_at: datetime
    store: str
    customer_email: str | None = None
    price: float = Field(gt=0)
    promotion: bool
    internal_note: str | None = None
    units: float = Field(ge=0)


def sales(**settings: Any) -> DatasetSpec:
    return DatasetSpec.model_validate(
        {
            "name": "sales",
            "kind": "training",
            "contract": Sale,
            "contract_version": "1.0.0",
            "id_column": "sale_id",
            "target": "units",
            "time_column": "sold_at",
            "pii_columns": ("customer_email",),
            **settings,
        }
    )


def test_features_default_to_declared_columns_but_id_target_time_pii_and_excluded() -> None:
    # Given a regression spec that excludes one more column
    spec = sales(problem="regression", exclude_columns=("internal_note",))
    # Then the features are the remaining declared columns, in contract order
    assert spec.feature_columns == ["store", "price", "promotion"]


def test_explicit_features_keep_their_order() -> None:
    spec = sales(problem="regression", features=("promotion", "price"))
    assert spec.feature_columns == ["promotion", "price"]


@pytest.mark.parametrize(
    ("problem", "metric", "minimum", "direction"),
    [
        ("binary", "auc", 0.6, "higher"),
        ("multiclass", "macro_f1", 0.3, "higher"),
        ("regression", "rmse", None, "lower"),
    ],
)
def test_each_problem_has_a_default_metric_direction_and_minimum(
    problem: str, metric: str, minimum: float | None, direction: str
) -> None:
    spec = sales(problem=problem)
    assert (spec.primary_metric, spec.approval_minimum) == (metric, minimum)
    assert spec.metric_direction == direction
    assert spec.primary_metric_name == f"test:{metric}"


def test_a_training_dataset_without_a_problem_is_binary() -> None:
    # Given a spec written before problem types existed
    spec = sales()
    assert (spec.problem, spec.primary_metric, spec.approval_minimum) == ("binary", "auc", 0.6)


def test_a_set_approval_minimum_and_metric_are_kept() -> None:
    spec = sales(problem="regression", primary_metric="mae", approval_minimum=4.0)
    assert (spec.primary_metric, spec.approval_minimum, spec.metric_direction) == (
        "mae",
        4.0,
        "lower",
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"features": ("price", "units")}, "features names the target"),
        ({"features": ("sale_id",)}, "features names the id column"),
        ({"features": ("sold_at",)}, "features names the time column"),
        ({"features": ("customer_email",)}, "features names a PII column"),
        ({"features": ("price", "score")}, "features names columns the contract lacks"),
        ({"features": ()}, "features is empty"),
        ({"features": ("price", "price")}, "names a column twice"),
        ({"time_column": "when"}, "time_column names columns the contract lacks"),
        ({"problem": "regression", "primary_metric": "auc"}, "does not measure a regression"),
        ({"problem": "ranking"}, "problem"),
    ],
)
def test_a_spec_that_cannot_work_is_refused_with_the_reason(
    settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        sales(**settings)


def test_an_inference_dataset_takes_its_problem_from_its_model() -> None:
    with pytest.raises(ValidationError, match="problem belong to the training dataset"):
        DatasetSpec(
            name="sales-batches",
            kind="inference",
            model_dataset="sales",
            contract=Sale,
            contract_version="1.0.0",
            id_column="sale_id",
            problem="regression",
        )


def test_undeclared_columns_are_listed_in_the_tables_order() -> None:
    table = pa.table({"price": [1.0], "leak": [2.0], "sale_id": [1], "score": [0.3]})
    assert sales().undeclared(table) == ["leak", "score"]


# -- what the steps take from the spec ----------------------------------------------------
Loader = Callable[[str, str], ModuleType]


def test_prepare_gives_the_model_only_the_id_the_features_and_the_target(
    load_logic: Loader,
) -> None:
    # Given a curated table that also holds the PII column, the time column and an
    # undeclared copy of the label (as an older curated version might)
    preparation = load_logic("prepare_training", "preparation")
    spec = sales(problem="regression")
    table = pa.table(
        {
            "sale_id": [1, 2],
            "sold_at": [datetime(2026, 1, 1), datetime(2026, 1, 2)],
            "store": ["a", "b"],
            "customer_email": ["x@y.de", None],
            "price": [1.0, 2.0],
            "promotion": [True, False],
            "internal_note": [None, "n"],
            "units": [3.0, 4.0],
            "units_copy": [3.0, 4.0],
        }
    )
    # When the model's columns are chosen
    chosen = preparation.model_columns(table, spec)
    # Then they are the id, the spec's features in order, and the target
    assert chosen.column_names == [
        "sale_id",
        "store",
        "price",
        "promotion",
        "internal_note",
        "units",
    ]
    out = io.BytesIO()
    pacsv.write_csv(chosen, out)
    assert b"units_copy" not in out.getvalue() and b"x@y.de" not in out.getvalue()


def test_prepare_refuses_curated_data_that_lacks_a_feature(load_logic: Loader) -> None:
    preparation = load_logic("prepare_training", "preparation")
    table = pa.table({"sale_id": [1], "store": ["a"], "units": [1.0]})
    with pytest.raises(preparation.UnknownDatasetVersion, match="price, promotion"):
        preparation.model_columns(table, sales(exclude_columns=("internal_note",)))


def test_the_gate_takes_the_datasets_metric_direction_and_minimum(load_logic: Loader) -> None:
    # Given the stage's margin and the transactions dataset's spec
    evaluation = load_logic("evaluate_model", "evaluation")
    stage = ApprovalPolicy(min_improvement=0.02, when_not_better="PendingManualApproval")
    # When the dataset's policy is built
    policy = evaluation.dataset_policy(stage, "transactions")
    # Then the metric, direction and minimum are the spec's, the margin the stage's
    assert (policy.primary_metric, policy.direction, policy.minimum) == ("test:auc", "higher", 0.7)
    assert (policy.min_improvement, policy.when_not_better) == (0.02, "PendingManualApproval")
    with pytest.raises(evaluation.UnknownDataset, match="scoring"):
        evaluation.dataset_policy(stage, "scoring")


def test_a_datasets_hyperparameters_override_the_stages_but_not_the_specs_own(
    load_logic: Loader, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a spec that sets two hyperparameters, and a stage that sets max_iter too
    preparation = load_logic("prepare_training", "preparation")
    spec = sales(
        problem="regression",
        training={"hyperparameters": {"max_iter": 50, "early_stopping": False}},
    )
    job = {
        "role_arn": "arn:aws:iam::123456789012:role/sagemaker",
        "image": "image",
        "instance_type": "ml.m5.large",
        "max_runtime_seconds": 900,
        "volume_kms_key": "arn:aws:kms:us-east-1:123456789012:key/k",
        "source_dir": "s3://assets/source.tar.gz",
        "program": "train.py",
        "hyperparameters": {"max_iter": "200", "learning_rate": "0.1"},
    }
    settings = preparation.Settings(
        driftline_stage="test",
        curated_bucket="curated",
        artifacts_bucket="artifacts",
        model_package_group_prefix="driftline-test",
        training_job=json.dumps(job),
    )
    logic = preparation.TrainingPreparation(
        settings, preparation.Services(s3=None, registry=None, obs=None)
    )
    # When the job request is built
    monkeypatch.setattr(preparation, "spec_of", lambda dataset: spec)
    request = logic.training_request("sales", "job", ["train", "validation", "test"])
    # Then the dataset's values win over the stage's, as strings, beside the spec's columns
    hyperparameters = request.HyperParameters
    assert hyperparameters["max_iter"] == "50" and hyperparameters["learning_rate"] == "0.1"
    assert hyperparameters["early_stopping"] == "false"
    assert hyperparameters["problem"] == "regression"
    assert json.loads(hyperparameters["features"]) == spec.feature_columns
    # And a spec may not set what the spec's own fields say
    with pytest.raises(ValidationError, match="come from the spec itself"):
        sales(training={"hyperparameters": {"target_column": "price"}})
