"""The model registry on moto's SageMaker: groups, champions, packages with lineage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from driftline_runtime.registry import MissingChampionMetric, ModelRegistry
from moto import mock_aws

GROUP = "driftline-test-transactions"


@pytest.fixture
def registry(aws_credentials: None) -> Iterator[ModelRegistry]:
    with mock_aws():
        yield ModelRegistry(boto3.client("sagemaker"))


def register(registry: ModelRegistry, status: Any, auc: float, job: str) -> dict[str, Any]:
    return registry.register(
        group=GROUP,
        status=status,
        description=f"auc {auc}",
        image="123.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.9-0-cpu-py3",
        model_data_url=f"s3://artifacts/models/{job}/output/model.tar.gz",
        environment={"SAGEMAKER_PROGRAM": "inference.py"},
        metrics={"test:auc": auc, "test:rows": 300.0},
        lineage={"dataset": "transactions", "dataset_version": "abc", "training_job": job},
    )


def test_group_is_created_once(registry: ModelRegistry) -> None:
    registry.ensure_group(GROUP, "models")
    registry.ensure_group(GROUP, "models")
    groups = boto3.client("sagemaker").list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in groups] == [GROUP]
    assert registry.champion(GROUP, "test:auc") is None


def test_a_champion_without_the_metric_is_an_error_not_an_empty_seat(
    registry: ModelRegistry,
) -> None:
    registry.ensure_group(GROUP, "models")
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "image", "ModelDataUrl": "s3://b/m.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )
    with pytest.raises(MissingChampionMetric, match="has no 'test:auc'"):
        registry.champion(GROUP, "test:auc")


def test_champion_is_the_newest_approved_package_with_its_metric(registry: ModelRegistry) -> None:
    registry.ensure_group(GROUP, "models")
    first = register(registry, "Approved", 0.81, "job-1")
    register(registry, "Rejected", 0.90, "job-2")
    champion = registry.champion(GROUP, "test:auc")
    assert champion is not None
    assert champion.model_package_arn == first["ModelPackageArn"]
    assert champion.metric == pytest.approx(0.81)


def test_packages_carry_metrics_and_lineage(registry: ModelRegistry) -> None:
    registry.ensure_group(GROUP, "models")
    arn = register(registry, "Approved", 0.81, "job-1")["ModelPackageArn"]
    described = boto3.client("sagemaker").describe_model_package(ModelPackageName=arn)
    metadata = described["CustomerMetadataProperties"]
    assert metadata["metric:test:auc"] == "0.81"
    assert metadata["dataset_version"] == "abc"
    assert metadata["training_job"] == "job-1"
    assert len(registry.packages(GROUP)) == 1
