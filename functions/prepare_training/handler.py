"""Prepare training: a validated dataset version -> channels and a training job request.

Started by the training state machine with a ``DatasetValidated`` event (or by hand
with ``{"dataset": ..., "version": ...}``, or a drift event's context). Returns the
whole CreateTrainingJob request, which the state machine passes on as it is, so job
settings live in one typed place (the ``TRAINING_JOB`` setting CDK writes) rather than
in the ASL, and optional parts (a VPC) are simply left out when not configured.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pyarrow.parquet as pq
from aws_lambda_powertools.utilities.typing import LambdaContext
from channels import split
from driftline_contracts import contract
from driftline_runtime import layout, names
from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.observability import observability
from driftline_runtime.settings import FunctionSettings
from pydantic import BaseModel, Field, Json


class VpcConfig(BaseModel):
    Subnets: list[str] = Field(min_length=1)
    SecurityGroupIds: list[str] = Field(min_length=1)


class TrainingJobSettings(BaseModel):
    role_arn: str
    image: str
    instance_type: str
    max_runtime_seconds: int
    volume_kms_key: str
    source_dir: str
    program: str
    hyperparameters: dict[str, str]
    metric_definitions: list[dict[str, str]]
    # SageMaker places the job's network interfaces here; None: SageMaker's own network.
    vpc_config: VpcConfig | None = None


class Settings(FunctionSettings):
    curated_bucket: str
    artifacts_bucket: str
    training_job: Json[TrainingJobSettings]


SETTINGS = Settings.from_environ()
OBS = observability("prepare_training")
S3 = boto3.client("s3")


class UnknownDatasetVersion(ValueError):
    pass


def requested_version(event: dict[str, Any]) -> tuple[str, str]:
    trigger = event.get("trigger", event)
    source = trigger.get("detail") or trigger
    dataset, version = source.get("dataset"), source.get("version")
    if not dataset or not version:
        raise UnknownDatasetVersion(
            "Start the training state machine with a DatasetValidated event or "
            '{"dataset": ..., "version": ...}; got keys ' + ", ".join(sorted(event))
        )
    return str(dataset), str(version)


def spec_of(dataset: str) -> DatasetSpec:
    """The dataset's contract; its module is imported here, and if it does not load the
    step fails with ContractUnavailable (the state machine's TrainingFailed says so)."""
    spec = contract(dataset)
    if spec is None:
        raise UnknownDatasetVersion(f"{dataset!r} is not a declared dataset")
    return spec


def load_manifest(dataset: str, version: str) -> dict[str, Any]:
    key = layout.manifest_key(dataset, version)
    try:
        body = S3.get_object(Bucket=SETTINGS.curated_bucket, Key=key)["Body"].read()
    except S3.exceptions.NoSuchKey as error:
        raise UnknownDatasetVersion(f"No validated version {version} of {dataset}") from error
    manifest: dict[str, Any] = json.loads(body)
    return manifest


def job_name(dataset: str, version: str, now: datetime) -> str:
    return f"{names.JOB_PREFIX}{dataset[:30]}-{version[:8]}-{now:%Y%m%d%H%M%S}"


def training_request(dataset: str, name: str, channels: list[str]) -> dict[str, Any]:
    job = SETTINGS.training_job
    spec = spec_of(dataset)
    bucket = SETTINGS.artifacts_bucket
    hyperparameters = {
        **job.hyperparameters,
        "target_column": spec.target or "",
        "id_column": spec.id_column,
        # The event time orders rows but is not a feature; PII columns are dropped earlier.
        "exclude_columns": json.dumps(["event_time"]),
        "sagemaker_program": job.program,
        "sagemaker_submit_directory": job.source_dir,
    }
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "RoleArn": job.role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": job.image,
            "TrainingInputMode": "File",
            "MetricDefinitions": job.metric_definitions,
        },
        "HyperParameters": hyperparameters,
        "InputDataConfig": [
            {
                "ChannelName": channel,
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{bucket}/"
                        + layout.training_channel_prefix(dataset, name, channel),
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
            for channel in channels
        ],
        "OutputDataConfig": {
            "S3OutputPath": f"s3://{bucket}/{layout.model_output_prefix(dataset)}",
            "KmsKeyId": job.volume_kms_key,
        },
        "ResourceConfig": {
            "InstanceType": job.instance_type,
            "InstanceCount": 1,
            "VolumeSizeInGB": 10,
            "VolumeKmsKeyId": job.volume_kms_key,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": job.max_runtime_seconds},
        "EnableInterContainerTrafficEncryption": True,
        "Tags": [{"Key": names.PROJECT_TAG, "Value": names.PROJECT}],
    }
    if job.vpc_config is not None:
        request["VpcConfig"] = job.vpc_config.model_dump()
    return request


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="execution")
@OBS.tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    dataset, version = requested_version(event)
    manifest = load_manifest(dataset, version)
    if manifest.get("kind") != "training":
        raise UnknownDatasetVersion(f"{dataset} is a {manifest.get('kind')} dataset, not training")
    bucket, _, key = manifest["data_uri"].removeprefix("s3://").partition("/")
    table = pq.read_table(io.BytesIO(S3.get_object(Bucket=bucket, Key=key)["Body"].read()))
    name = job_name(dataset, version, datetime.now(UTC))
    spec = spec_of(dataset)
    # Personal data is not a feature: it stays in the curated bucket.
    table = table.drop_columns([c for c in spec.pii_columns if c in table.column_names])
    channels = split(table, spec.id_column)
    for channel in channels:
        S3.put_object(
            Bucket=SETTINGS.artifacts_bucket,
            Key=f"{layout.training_channel_prefix(dataset, name, channel.name)}part-0.csv",
            Body=channel.csv,
            ContentType="text/csv",
        )
    OBS.logger.info("Channels written", extra={c.name: c.rows for c in channels})
    return {
        "dataset": dataset,
        "version": version,
        "manifest_uri": f"s3://{SETTINGS.curated_bucket}/{layout.manifest_key(dataset, version)}",
        "rows": {c.name: c.rows for c in channels},
        "request": training_request(dataset, name, [c.name for c in channels]),
    }
