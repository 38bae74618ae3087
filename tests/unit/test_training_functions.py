"""The training functions' request and metrics: the VPC setting, model metrics per version."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from tests.unit.test_ingest_handler import emf_records

TRAINING_JOB: dict[str, Any] = {
    "role_arn": "arn:aws:iam::123456789012:role/sagemaker",
    "image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0",
    "instance_type": "ml.m5.large",
    "max_runtime_seconds": 900,
    "volume_kms_key": "arn:aws:kms:us-east-1:123456789012:key/k",
    "source_dir": "s3://assets/source.tar.gz",
    "program": "train.py",
    "hyperparameters": {"max_iter": "200"},
    "metric_definitions": [{"Name": "test:auc", "Regex": "test:auc=(.*);"}],
}


@pytest.fixture
def prepare(
    aws_credentials: None,
    monkeypatch: pytest.MonkeyPatch,
    load_function: Callable[[str], ModuleType],
) -> Callable[[dict[str, Any]], ModuleType]:
    def load(job: dict[str, Any]) -> ModuleType:
        monkeypatch.setenv("CURATED_BUCKET", "curated")
        monkeypatch.setenv("ARTIFACTS_BUCKET", "artifacts")
        monkeypatch.setenv("TRAINING_JOB", json.dumps(job))
        return load_function("prepare_training")

    return load


def test_training_request_is_whole_and_leaves_the_vpc_out_by_default(
    prepare: Callable[[dict[str, Any]], ModuleType],
) -> None:
    # Given the stage's training settings without a VPC (vpc_config null, as CDK writes it)
    handler = prepare({**TRAINING_JOB, "vpc_config": None})
    # When the request for a job is built
    request = handler.training_request("transactions", "dl-job", ["train", "test"])
    # Then it is everything CreateTrainingJob needs, encrypted traffic included
    assert request["RoleArn"] == TRAINING_JOB["role_arn"]
    assert request["EnableInterContainerTrafficEncryption"] is True
    assert request["ResourceConfig"]["VolumeKmsKeyId"] == TRAINING_JOB["volume_kms_key"]
    assert "VpcConfig" not in request


def test_training_request_places_the_job_in_the_configured_vpc(
    prepare: Callable[[dict[str, Any]], ModuleType],
) -> None:
    vpc = {"Subnets": ["subnet-0a", "subnet-0b"], "SecurityGroupIds": ["sg-0c"]}
    handler = prepare({**TRAINING_JOB, "vpc_config": vpc})
    request = handler.training_request("transactions", "dl-job", ["train"])
    assert request["VpcConfig"] == vpc


def test_a_vpc_without_subnets_fails_the_cold_start(
    prepare: Callable[[dict[str, Any]], ModuleType],
) -> None:
    with pytest.raises(ValueError, match="Subnets"):
        prepare({**TRAINING_JOB, "vpc_config": {"Subnets": [], "SecurityGroupIds": ["sg-1"]}})


@pytest.fixture
def register(
    aws_credentials: None,
    monkeypatch: pytest.MonkeyPatch,
    load_function: Callable[[str], ModuleType],
) -> ModuleType:
    monkeypatch.setenv("INFERENCE_PROGRAM", "inference.py")
    monkeypatch.setenv("SOURCE_DIR", "s3://assets/source.tar.gz")
    return load_function("register_model")


def test_model_metrics_and_training_time_are_recorded_with_the_version(
    register: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a registered model's event, as the state machine passes it
    event = {
        "dataset": "transactions",
        "version": "a3f2d89373014dfb",
        "training": {"TrainingJobName": "dl-transactions-a3f2", "TrainingTimeInSeconds": 42},
        "evaluation": {
            "status": "Approved",
            "metrics": {"test:auc": 0.874, "test:average_precision": 0.41, "test:rows": 300},
        },
    }
    # When its metrics are recorded
    register.record_model(
        event, "arn:aws:sagemaker:us-east-1:1:model-package/driftline-dev-transactions/3"
    )
    # Then one record carries AUC, average precision and training time per dataset,
    # with the model version beside them (not as a dimension)
    (record,) = emf_records(capsys.readouterr().out)
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert {m["Name"] for m in directive["Metrics"]} == {
        "ModelAuc",
        "ModelAveragePrecision",
        "TrainingDuration",
    }
    assert sorted(directive["Dimensions"][0]) == ["dataset", "service", "stage"]
    assert record["ModelAuc"] == [0.874] and record["TrainingDuration"] == [42.0]
    assert record["model_version"] == "3" and record["approval"] == "Approved"


def test_training_time_falls_back_to_the_jobs_timestamps(register: ModuleType) -> None:
    # Step Functions passes SageMaker's timestamps as epoch milliseconds
    training = {"TrainingStartTime": 1_700_000_000_000, "TrainingEndTime": 1_700_000_095_500}
    assert register.training_seconds(training) == 95.5
    assert register.training_seconds({}) is None
