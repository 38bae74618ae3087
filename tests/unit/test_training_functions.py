"""The training functions' logic: the job request and its VPC setting, model metrics per version.

The logic classes are built here with settings and adapters of the test's own; nothing
is read from the environment.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from driftline_runtime import names
from driftline_runtime.observability import observability
from driftline_runtime.steps.training import RegisterModelInput

from tests.unit.test_ingest_handler import emf_records
from training.sklearn_classifier.metrics import METRIC_DEFINITIONS

# The role models run as; no VPC (driftline_runtime.steps.ModelSettings).
MODEL_SETTINGS = '{"role_arn": "arn:aws:iam::000000000000:role/sagemaker", "vpc_config": null}'

TRAINING_JOB: dict[str, Any] = {
    "role_arn": "arn:aws:iam::123456789012:role/sagemaker",
    "image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0",
    "instance_type": "ml.m5.large",
    "max_runtime_seconds": 900,
    "volume_kms_key": "arn:aws:kms:us-east-1:123456789012:key/k",
    "source_dir": "s3://assets/source.tar.gz",
    "program": "train.py",
    "hyperparameters": {"max_iter": "200"},
}

Loader = Callable[[str, str], ModuleType]


@pytest.fixture
def preparation(load_logic: Loader) -> ModuleType:
    return load_logic("prepare_training", "preparation")


def prepare(module: ModuleType, job: dict[str, Any]) -> Any:
    settings = module.Settings(
        driftline_stage="test",
        curated_bucket="curated",
        artifacts_bucket="artifacts",
        training_job=json.dumps(job),
        model_package_group_prefix="driftline-test",
    )
    services = module.Services(s3=None, registry=None, obs=observability("prepare_training"))
    return module.TrainingPreparation(settings, services)


def test_training_request_is_whole_and_leaves_the_vpc_out_by_default(
    preparation: ModuleType,
) -> None:
    # Given the stage's training settings without a VPC (vpc_config null, as CDK writes it)
    logic = prepare(preparation, {**TRAINING_JOB, "vpc_config": None})
    # When the request for a job is built
    request = logic.training_request("transactions", "dl-job", ["train", "test"])
    # Then it is everything CreateTrainingJob needs, encrypted traffic included
    assert request.RoleArn == TRAINING_JOB["role_arn"]
    assert request.EnableInterContainerTrafficEncryption is True
    assert request.ResourceConfig.VolumeKmsKeyId == TRAINING_JOB["volume_kms_key"]
    assert [c.DataSource.S3DataSource.S3Uri for c in request.InputDataConfig] == [
        "s3://artifacts/training/transactions/dl-job/train/",
        "s3://artifacts/training/transactions/dl-job/test/",
    ]
    # And what the state machine passes to SageMaker has no VpcConfig at all (not null)
    assert "VpcConfig" not in request.model_dump(mode="json", exclude_none=True)


@pytest.mark.parametrize(
    ("dataset", "measures"),
    [
        ("transactions", ("auc", "average_precision", "log_loss", "accuracy", "rows")),
        ("tickets", ("macro_f1", "log_loss", "accuracy", "rows")),
        ("store-sales", ("rmse", "mae", "r2", "rows")),
    ],
)
def test_a_job_reads_its_problems_metrics_with_the_scripts_own_regexes(
    preparation: ModuleType, dataset: str, measures: tuple[str, ...]
) -> None:
    # Given the stage's settings
    logic = prepare(preparation, {**TRAINING_JOB, "vpc_config": None})
    # When a job of the dataset's problem is requested
    request = logic.training_request(dataset, "dl-job", ["train", "test"])
    definitions = request.model_dump(mode="json")["AlgorithmSpecification"]["MetricDefinitions"]
    # Then it reads the problem's measures of every split and of the champion, with exactly
    # the regexes the training script's metrics module writes
    wanted = {
        f"{split}:{m}" for split in ("train", "validation", "test", "champion") for m in measures
    }
    assert {d["Name"] for d in definitions} == wanted
    assert definitions == [d for d in METRIC_DEFINITIONS if d["Name"] in wanted]
    assert len(definitions) <= 40  # SageMaker's limit


def test_training_request_places_the_job_in_the_configured_vpc(preparation: ModuleType) -> None:
    vpc = {"Subnets": ["subnet-0a", "subnet-0b"], "SecurityGroupIds": ["sg-0c"]}
    logic = prepare(preparation, {**TRAINING_JOB, "vpc_config": vpc})
    request = logic.training_request("transactions", "dl-job", ["train"])
    assert request.model_dump(mode="json")["VpcConfig"] == vpc


def test_a_vpc_without_subnets_fails_the_cold_start(preparation: ModuleType) -> None:
    with pytest.raises(ValueError, match="Subnets"):
        prepare(
            preparation,
            {**TRAINING_JOB, "vpc_config": {"Subnets": [], "SecurityGroupIds": ["sg-1"]}},
        )


def register_input(training: dict[str, Any]) -> RegisterModelInput:
    """What the state machine hands the register function, as it passes it."""
    return RegisterModelInput.model_validate(
        {
            "dataset": "transactions",
            "version": "a3f2d89373014dfb",
            "manifest_uri": "s3://curated/manifests/transactions/a3f2d89373014dfb.json",
            "execution": "arn:aws:states:us-east-1:1:execution:training:run",
            "training": {
                "TrainingJobName": "dl-transactions-a3f2",
                "ModelArtifacts": {
                    "S3ModelArtifacts": "s3://artifacts/models/x/output/model.tar.gz"
                },
                "AlgorithmSpecification": {"TrainingImage": TRAINING_JOB["image"]},
                **training,
            },
            "evaluation": {
                "group": "driftline-test-transactions",
                "status": "Approved",
                "reason": "first model",
                "metric": 0.874,
                "metrics": {
                    names.PRIMARY_METRIC: 0.874,
                    "test:average_precision": 0.41,
                    "test:rows": 300,
                },
            },
        }
    )


def test_model_metrics_and_training_time_are_recorded_with_the_version(
    load_logic: Loader, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the register function's logic and a registered model's step input
    module = load_logic("register_model", "registration")
    settings = module.Settings(inference_program="inference.py", model=MODEL_SETTINGS)
    services = module.Services(s3=None, registry=None, obs=observability("register_model"))
    logic = module.ModelRegistration(settings, services)
    request = register_input({"TrainingTimeInSeconds": 42})
    # When its metrics are recorded
    logic.record_model(
        request, "arn:aws:sagemaker:us-east-1:1:model-package/driftline-dev-transactions/3"
    )
    # Then one record carries AUC, average precision and training time per dataset,
    # with the model version beside them (not as a dimension)
    (record,) = emf_records(capsys.readouterr().out)
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert {m["Name"] for m in directive["Metrics"]} == {
        names.MODEL_AUC_METRIC,
        names.MODEL_AVERAGE_PRECISION_METRIC,
        names.TRAINING_DURATION_METRIC,
    }
    assert sorted(directive["Dimensions"][0]) == ["dataset", "service", "stage"]
    assert record["ModelAuc"] == [0.874] and record["TrainingDuration"] == [42.0]
    assert record["model_version"] == "3" and record["approval"] == "Approved"


def test_training_time_falls_back_to_the_jobs_timestamps() -> None:
    # Step Functions passes SageMaker's timestamps as epoch milliseconds
    timed = register_input(
        {"TrainingStartTime": 1_700_000_000_000, "TrainingEndTime": 1_700_000_095_500}
    )
    assert timed.training.seconds == 95.5
    assert register_input({}).training.seconds is None


class FakeRegistry:
    """The registry the evaluate function sees: one group, its newest approved package."""

    def __init__(self, newest_approved: str | None) -> None:
        self.newest = newest_approved

    def ensure_group(self, group: str, description: str) -> None:
        pass

    def newest_approved_arn(self, group: str) -> str | None:
        return self.newest


CHAMPION_ARN = "arn:aws:sagemaker:us-east-1:1:model-package/driftline-test-transactions/1"


def evaluate_input(metrics: dict[str, float], *, champion: bool) -> Any:
    from driftline_runtime.steps.training import EvaluateModelInput

    prepared = {
        "dataset": "transactions",
        "version": "a3f2d89373014dfb",
        "manifest_uri": "s3://curated/manifests/transactions/a3f2d89373014dfb.json",
        "rows": {"train": 70, "validation": 15, "test": 15},
        "request": {
            "TrainingJobName": "dl-job",
            "RoleArn": "arn:role",
            "AlgorithmSpecification": {
                "TrainingImage": "image",
                "TrainingInputMode": "File",
                "MetricDefinitions": [],
            },
            "HyperParameters": {},
            "InputDataConfig": [],
            "OutputDataConfig": {"S3OutputPath": "s3://a/m/", "KmsKeyId": "k"},
            "ResourceConfig": {
                "InstanceType": "ml.m5.large",
                "InstanceCount": 1,
                "VolumeSizeInGB": 10,
                "VolumeKmsKeyId": "k",
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": 60},
            "EnableInterContainerTrafficEncryption": True,
            "Tags": [],
        },
        "training_versions": ["v1", "v2"],
        "holdout": {"id": "sha256:00ff", "rows": 15, "split": "time"},
    }
    if champion:
        prepared["champion"] = {
            "model_package_arn": CHAMPION_ARN,
            "model_version": "1",
            "model_data_url": "s3://a/models/x/output/model.tar.gz",
        }
    return EvaluateModelInput.model_validate(
        {
            "dataset": "transactions",
            "execution": "arn:aws:states:us-east-1:1:execution:training:run",
            "training": {
                "TrainingJobName": "dl-job",
                "ModelArtifacts": {"S3ModelArtifacts": "s3://a/models/y/output/model.tar.gz"},
                "AlgorithmSpecification": {"TrainingImage": "image"},
                "FinalMetricDataList": [{"MetricName": k, "Value": v} for k, v in metrics.items()],
            },
            "prepared": prepared,
        }
    )


def evaluation_logic(load_logic: Loader, newest: str | None) -> Any:
    module = load_logic("evaluate_model", "evaluation")
    policy = '{"minimum": 0.6, "min_improvement": 0.01}'
    settings = module.Settings(model_package_group_prefix="driftline-test", approval_policy=policy)
    services = module.Services(registry=FakeRegistry(newest), obs=observability("evaluate_model"))
    return module.ModelEvaluation(settings, services)


def test_the_gate_compares_both_models_on_the_same_holdout(load_logic: Loader) -> None:
    # Given a job that scored the challenger 0.80 and the champion 0.70 on its holdout
    # (the champion's own training recorded a higher number on another split: not used)
    logic = evaluation_logic(load_logic, CHAMPION_ARN)
    request = evaluate_input({"test:auc": 0.80, "champion:auc": 0.70}, champion=True)
    # When it is evaluated
    evaluation = logic.evaluate(request)
    # Then the challenger is approved on the paired numbers, the holdout recorded with them
    assert evaluation.status == "Approved"
    assert "on the same holdout" in evaluation.reason
    paired = evaluation.evaluation
    assert paired.holdout.id == "sha256:00ff" and paired.challenger == 0.80
    assert paired.champion.model_version == "1" and paired.champion.metric == 0.70


def test_a_challenger_not_better_on_the_same_holdout_is_rejected(load_logic: Loader) -> None:
    logic = evaluation_logic(load_logic, CHAMPION_ARN)
    request = evaluate_input({"test:auc": 0.805, "champion:auc": 0.80}, champion=True)
    assert logic.evaluate(request).status == "Rejected"


def test_a_job_that_did_not_score_its_champion_is_an_error(load_logic: Loader) -> None:
    from driftline_runtime.approval import MissingMetric

    logic = evaluation_logic(load_logic, CHAMPION_ARN)
    with pytest.raises(MissingMetric, match="champion:auc"):
        logic.evaluate(evaluate_input({"test:auc": 0.9}, champion=True))


def test_a_champion_approved_while_the_job_ran_is_not_replaced_unseen(load_logic: Loader) -> None:
    # Given a job that beat champion 1, while package 2 was approved in the meantime
    logic = evaluation_logic(load_logic, CHAMPION_ARN.replace("/1", "/2"))
    request = evaluate_input({"test:auc": 0.9, "champion:auc": 0.7}, champion=True)
    # Then it is rejected, saying why
    evaluation = logic.evaluate(request)
    assert evaluation.status == "Rejected" and "approved while this model trained" in (
        evaluation.reason
    )


def test_the_package_metadata_records_the_holdout_champion_and_window(load_logic: Loader) -> None:
    # Given an evaluated challenger with its prepared window
    module = load_logic("register_model", "registration")
    evaluation = evaluation_logic(load_logic, CHAMPION_ARN).evaluate(
        evaluate_input({"test:auc": 0.80, "champion:auc": 0.70}, champion=True)
    )
    request = register_input({}).model_copy(
        update={
            "evaluation": evaluation,
            "prepared": evaluate_input({}, champion=True).prepared,
        }
    )
    # When its metadata is built
    metadata = module.evaluation_metadata(request)
    # Then the holdout, the champion's number on it and the versions are all there
    assert metadata == {
        "holdout": "sha256:00ff",
        "holdout_rows": "15",
        "holdout_split": "time",
        "champion_version": "1",
        "champion_metric": "0.7",
        "training_versions": "v1,v2",
    }


def test_a_first_models_evaluation_passes_between_steps(load_logic: Loader) -> None:
    # Given the evaluation of a first model (no champion), as the step hands it on: its
    # None fields left out
    from driftline_runtime.steps.training import Evaluation

    logic = evaluation_logic(load_logic, None)
    evaluation = logic.evaluate(evaluate_input({"test:auc": 0.8}, champion=False))
    passed = evaluation.model_dump(mode="json", by_alias=True, exclude_none=True)
    # Then the register step reads it back whole
    again = Evaluation.model_validate(passed)
    assert again.status == "Approved" and again.evaluation is not None
    assert again.evaluation.champion is None and again.evaluation.holdout is not None
