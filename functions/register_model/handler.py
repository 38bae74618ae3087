"""Register: the trained model as a package of its dataset's group, approved by policy.

Rejected challengers are registered too (as Rejected): the registry then keeps the
full history of what was trained, on which data, and why it did not ship.

The training baseline (``baseline.json`` inside ``model.tar.gz``) is copied next to the
model artefact and its URI recorded in the package's metadata, so batch inference and
the drift monitor read one small JSON object instead of unpacking the model.
"""

from __future__ import annotations

import tarfile
from typing import IO, Any

import boto3
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_runtime import names
from driftline_runtime.objects import split_uri
from driftline_runtime.observability import observability
from driftline_runtime.registry import ModelRegistry
from driftline_runtime.settings import FunctionSettings

OBS = observability("register_model")
REGISTRY = ModelRegistry(boto3.client("sagemaker"))
S3 = boto3.client("s3")
BASELINE_FILE = names.BASELINE_FILE
# The baseline is a few hundred kilobytes; anything much larger is not one.
MAX_BASELINE_BYTES = 16 * 1024 * 1024


class Settings(FunctionSettings):
    inference_program: str
    source_dir: str


SETTINGS = Settings.from_environ()


class MissingBaseline(ValueError):
    pass


def baseline_from_archive(archive: IO[bytes], model_data_url: str) -> bytes:
    """``baseline.json`` out of a ``model.tar.gz`` stream, read once from the front."""
    with tarfile.open(fileobj=archive, mode="r|gz") as tar:
        for member in tar:
            if member.isfile() and member.name.lstrip("./") == BASELINE_FILE:
                if member.size > MAX_BASELINE_BYTES:
                    raise MissingBaseline(f"{BASELINE_FILE} in {model_data_url} is too large")
                extracted = tar.extractfile(member)
                if extracted is not None:
                    return extracted.read()
    raise MissingBaseline(
        f"{model_data_url} holds no {BASELINE_FILE}: the drift monitor needs the training "
        "baseline that training/train.py writes to the model folder"
    )


def copy_baseline(model_data_url: str) -> str:
    """Copy the baseline next to ``.../output/model.tar.gz``; returns its S3 URI."""
    bucket, key = split_uri(model_data_url)
    body = S3.get_object(Bucket=bucket, Key=key)["Body"]
    baseline = baseline_from_archive(body, model_data_url)
    target = f"{key.removesuffix('output/model.tar.gz').rstrip('/')}/{BASELINE_FILE}"
    S3.put_object(Bucket=bucket, Key=target, Body=baseline, ContentType="application/json")
    return f"s3://{bucket}/{target}"


def training_seconds(training: dict[str, Any]) -> float | None:
    """How long the job trained: SageMaker's own figure, else its end minus its start.

    Step Functions' SageMaker integration passes timestamps as epoch milliseconds.
    """
    if "TrainingTimeInSeconds" in training:
        return float(training["TrainingTimeInSeconds"])
    start, end = training.get("TrainingStartTime"), training.get("TrainingEndTime")
    if isinstance(start, int | float) and isinstance(end, int | float):
        return (end - start) / 1000
    return None


def record_model(event: dict[str, Any], model_package_arn: str) -> None:
    """Model metrics and training time per dataset; the model version rides along."""
    training, evaluation = event["training"], event["evaluation"]
    values = {
        name: (float(evaluation["metrics"][metric]), MetricUnit.NoUnit)
        for metric, name in names.MODEL_METRICS.items()
        if metric in evaluation["metrics"]
    }
    seconds = training_seconds(training)
    if seconds is not None:
        values[names.TRAINING_DURATION_METRIC] = (seconds, MetricUnit.Seconds)
    if not values:
        OBS.logger.warning("The training job reported none of the dashboard's metrics")
        return
    OBS.record(
        values,
        {names.DATASET_DIMENSION: event["dataset"]},
        {
            # ".../model-package/<group>/<version>"
            names.MODEL_VERSION_PROPERTY: model_package_arn.rsplit("/", 1)[-1],
            names.APPROVAL_PROPERTY: evaluation["status"],
            "dataset_version": event["version"],
            names.TRAINING_JOB_PROPERTY: training["TrainingJobName"],
        },
    )


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="execution")
@OBS.tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    training = event["training"]
    evaluation = event["evaluation"]
    model_data_url = training["ModelArtifacts"]["S3ModelArtifacts"]
    baseline_uri = copy_baseline(model_data_url)
    response = REGISTRY.register(
        group=evaluation["group"],
        status=evaluation["status"],
        description=evaluation["reason"],
        image=training["AlgorithmSpecification"]["TrainingImage"],
        model_data_url=model_data_url,
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
            names.BASELINE_METADATA_KEY: baseline_uri,
        },
    )
    record_model(event, response["ModelPackageArn"])
    return {
        "model_package_arn": response["ModelPackageArn"],
        "status": evaluation["status"],
        "baseline_uri": baseline_uri,
    }
