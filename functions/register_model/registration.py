"""Registering a trained model as a package of its dataset's group, approved by policy.

Rejected challengers are registered too (as Rejected): the registry then keeps the
full history of what was trained, on which data, and why it did not ship.

The training baseline (``baseline.json`` inside ``model.tar.gz``) is checked against
``driftline_runtime.baseline.Baseline``, copied next to the model artefact and its URI
recorded in the package's metadata, so batch inference and the drift monitor read one
small JSON object instead of unpacking the model.
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass
from typing import IO, Any

from aws_lambda_powertools.metrics import MetricUnit
from driftline_contracts import contract
from driftline_runtime import names
from driftline_runtime.baseline import Baseline
from driftline_runtime.objects import split_uri
from driftline_runtime.observability import Observability
from driftline_runtime.registry import ModelRegistry
from driftline_runtime.settings import FunctionSettings
from driftline_runtime.steps import Container, CreateModelRequest, ModelSettings, Tag
from driftline_runtime.steps.training import RegisterModelInput, Registration
from pydantic import Json, ValidationError

# The baseline is a few hundred kilobytes; anything much larger is not one.
MAX_BASELINE_BYTES = 16 * 1024 * 1024
MODEL_ARCHIVE = "output/model.tar.gz"
# Where model.tar.gz holds the serving code (names.MODEL_CODE_DIRECTORY once extracted).
MODEL_CODE_FOLDER = names.MODEL_CODE_DIRECTORY.removeprefix("/opt/ml/model/")


class Settings(FunctionSettings):
    inference_program: str
    # The role models run as, and the stage's VPC for them (None: SageMaker's network).
    model: Json[ModelSettings]


@dataclass(frozen=True)
class Services:
    s3: Any
    registry: ModelRegistry
    obs: Observability


class MissingBaseline(ValueError):
    pass


class MissingServingCode(ValueError):
    pass


def baseline_from_archive(
    archive: IO[bytes], model_data_url: str, serving_program: str | None = None
) -> bytes:
    """``baseline.json`` out of a ``model.tar.gz`` stream, read once from the front; with
    ``serving_program``, the archive must also hold ``code/<serving_program>``, the serving
    code the model carries (a dataset's own training code must copy it there), or
    MissingServingCode says so before the model is registered."""
    baseline: bytes | None = None
    serving = f"{MODEL_CODE_FOLDER}/{serving_program}" if serving_program else None
    with tarfile.open(fileobj=archive, mode="r|gz") as tar:
        for member in tar:
            name = member.name.lstrip("./")
            if serving is not None and member.isfile() and name == serving:
                serving = None
            if baseline is None and member.isfile() and name == names.BASELINE_FILE:
                if member.size > MAX_BASELINE_BYTES:
                    raise MissingBaseline(f"{names.BASELINE_FILE} in {model_data_url} is too large")
                extracted = tar.extractfile(member)
                baseline = extracted.read() if extracted is not None else None
            if baseline is not None and serving is None:
                return baseline
    if baseline is None:
        raise MissingBaseline(
            f"{model_data_url} holds no {names.BASELINE_FILE}: the drift monitor needs the "
            "training baseline that training/train.py writes to the model folder"
        )
    raise MissingServingCode(
        f"{model_data_url} holds no {serving}: the model serves with the code it carries, "
        "which the training script copies to code/ in its model folder"
    )


def problem_metadata(dataset: str) -> dict[str, str]:
    """The problem the model solves and the metric that judged it, from the dataset's spec
    when it was trained (status and reports show them beside the metrics)."""
    spec = contract(dataset)
    if spec is None or spec.kind != "training":
        raise ValueError(f"{dataset!r} is not a declared training dataset")
    return {
        names.PROBLEM_METADATA_KEY: spec.problem or "binary",
        names.PRIMARY_METRIC_METADATA_KEY: spec.primary_metric_name,
    }


# SageMaker's limit on a customer metadata value.
METADATA_VALUE_LIMIT = 256


def evaluation_metadata(request: RegisterModelInput) -> dict[str, str]:
    """The paired evaluation and the training window, as package metadata: the holdout's
    identity, the champion and its metric on that holdout, the versions learned from."""
    metadata: dict[str, str] = {}
    paired = request.evaluation.evaluation
    if paired is not None and paired.holdout is not None:
        metadata[names.HOLDOUT_METADATA_KEY] = paired.holdout.id
        metadata[names.HOLDOUT_ROWS_METADATA_KEY] = str(paired.holdout.rows)
        metadata[names.HOLDOUT_SPLIT_METADATA_KEY] = paired.holdout.split
    if paired is not None and paired.champion is not None:
        metadata[names.CHAMPION_VERSION_METADATA_KEY] = paired.champion.model_version
        metadata[names.CHAMPION_METRIC_METADATA_KEY] = f"{paired.champion.metric:.6g}"
    versions = ",".join(request.training_versions)
    if versions:
        # A long window is listed in full in the run's manifest only.
        metadata[names.TRAINING_VERSIONS_METADATA_KEY] = (
            versions
            if len(versions) <= METADATA_VALUE_LIMIT
            else f"{len(request.training_versions)} versions"
        )
    if request.training_manifest_uri:
        metadata[names.TRAINING_MANIFEST_METADATA_KEY] = request.training_manifest_uri
    return metadata


class ModelRegistration:
    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.services = services

    def register(self, request: RegisterModelInput) -> Registration:
        training, evaluation = request.training, request.evaluation
        model_data_url = training.ModelArtifacts.S3ModelArtifacts
        baseline_uri = self.copy_baseline(model_data_url)
        response = self.services.registry.register(
            group=evaluation.group,
            status=evaluation.status,
            description=evaluation.reason,
            image=training.AlgorithmSpecification.TrainingImage,
            model_data_url=model_data_url,
            environment=self.serving_environment(),
            metrics=evaluation.metrics,
            lineage={
                "dataset": request.dataset,
                "dataset_version": request.version,
                "manifest": request.manifest_uri,
                names.TRAINING_JOB_METADATA_KEY: training.TrainingJobName,
                names.GATE_DECISION_METADATA_KEY: evaluation.status,
                "execution": request.execution,
                names.BASELINE_METADATA_KEY: baseline_uri,
                **problem_metadata(request.dataset),
                **evaluation_metadata(request),
            },
        )
        arn = str(response["ModelPackageArn"])
        self.record_model(request, arn)
        return Registration(
            model_package_arn=arn,
            status=evaluation.status,
            baseline_uri=baseline_uri,
            model=CreateModelRequest(
                ModelName=training.TrainingJobName,
                ExecutionRoleArn=self.settings.model.role_arn,
                PrimaryContainer=Container(
                    Image=training.AlgorithmSpecification.TrainingImage,
                    ModelDataUrl=model_data_url,
                    Environment=self.serving_environment(),
                ),
                EnableNetworkIsolation=True,
                Tags=[Tag(Key=names.PROJECT_TAG, Value=names.PROJECT)],
                VpcConfig=self.settings.model.vpc_config,
            ),
        )

    def serving_environment(self) -> dict[str, str]:
        """The serving code is the one packed into the model by its training job
        (``code/``), never the deployment's current source: an older champion keeps
        serving with the code it was trained with, and needs no network to fetch it."""
        return {
            "SAGEMAKER_PROGRAM": self.settings.inference_program,
            "SAGEMAKER_SUBMIT_DIRECTORY": names.MODEL_CODE_DIRECTORY,
        }

    def copy_baseline(self, model_data_url: str) -> str:
        """Check the baseline and copy it next to ``.../output/model.tar.gz``; its S3 URI."""
        s3 = self.services.s3
        bucket, key = split_uri(model_data_url)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        baseline = baseline_from_archive(body, model_data_url, self.settings.inference_program)
        try:
            Baseline.model_validate_json(baseline)
        except ValidationError as error:
            raise MissingBaseline(
                f"{names.BASELINE_FILE} in {model_data_url} is not a training baseline: {error}"
            ) from error
        target = f"{key.removesuffix(MODEL_ARCHIVE).rstrip('/')}/{names.BASELINE_FILE}"
        s3.put_object(Bucket=bucket, Key=target, Body=baseline, ContentType="application/json")
        return f"s3://{bucket}/{target}"

    def record_model(self, request: RegisterModelInput, model_package_arn: str) -> None:
        """Model metrics and training time per dataset; the model version rides along."""
        evaluation = request.evaluation
        values = {
            name: (float(evaluation.metrics[metric]), MetricUnit.NoUnit)
            for metric, name in names.MODEL_METRICS.items()
            if metric in evaluation.metrics
        }
        seconds = request.training.seconds
        if seconds is not None:
            values[names.TRAINING_DURATION_METRIC] = (seconds, MetricUnit.Seconds)
        obs = self.services.obs
        if not values:
            obs.logger.warning("The training job reported none of the dashboard's metrics")
            return
        obs.record(
            values,
            {names.DATASET_DIMENSION: request.dataset},
            {
                # ".../model-package/<group>/<version>"
                names.MODEL_VERSION_PROPERTY: model_package_arn.rsplit("/", 1)[-1],
                names.APPROVAL_PROPERTY: evaluation.status,
                "dataset_version": request.version,
                names.TRAINING_JOB_PROPERTY: request.training.TrainingJobName,
            },
        )
