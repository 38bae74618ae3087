"""Register: the trained model as a package of its dataset's group, approved by policy.

Rejected challengers are registered too (as Rejected): the registry then keeps the
full history of what was trained, on which data, and why it did not ship.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_runtime.observability import observability
from driftline_runtime.registry import ModelRegistry
from driftline_runtime.settings import FunctionSettings

OBS = observability("register_model")
REGISTRY = ModelRegistry(boto3.client("sagemaker"))


class Settings(FunctionSettings):
    inference_program: str
    source_dir: str


SETTINGS = Settings.from_environ()


@OBS.logger.inject_lambda_context(log_event=True)
@OBS.tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    training = event["training"]
    evaluation = event["evaluation"]
    response = REGISTRY.register(
        group=evaluation["group"],
        status=evaluation["status"],
        description=evaluation["reason"],
        image=training["AlgorithmSpecification"]["TrainingImage"],
        model_data_url=training["ModelArtifacts"]["S3ModelArtifacts"],
        environment={
            "SAGEMAKER_PROGRAM": SETTINGS.inference_program,
            "SAGEMAKER_SUBMIT_DIRECTORY": SETTINGS.source_dir,
        },
        metrics=evaluation["metrics"],
        lineage={
            "dataset": event["dataset"],
            "dataset_version": event["version"],
            "manifest": event.get("manifest_uri", ""),
            "training_job": training["TrainingJobName"],
            "execution": event.get("execution", ""),
        },
    )
    return {"model_package_arn": response["ModelPackageArn"], "status": evaluation["status"]}
