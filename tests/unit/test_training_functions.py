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
    "metric_definitions": [{"Name": names.PRIMARY_METRIC, "Regex": "test:auc=(.*);"}],
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
    )
    services = module.Services(s3=None, obs=observability("prepare_training"))
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
