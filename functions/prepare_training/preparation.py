"""Preparing a training run: a window of validated versions -> channels and a job request.

The run learns from a window of versions (``window.py``), not only the one that started
it; its manifest (``training/<dataset>/<job>/manifest.json``) lists them, with the
holdout's identity and the champion the job scores on that holdout (``champion``
channel), so the evaluation gate compares two numbers measured on the same rows.

The whole CreateTrainingJob request is built here and passed on by the state machine as
it is, so job settings live in one typed place (the ``TRAINING_JOB`` setting CDK writes)
rather than in the ASL, and optional parts (a VPC) are simply left out when not
configured.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from channels import split
from driftline_contracts import contract
from driftline_runtime import layout, names
from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.objects import split_uri
from driftline_runtime.observability import Observability
from driftline_runtime.registry import ModelRegistry
from driftline_runtime.settings import FunctionSettings
from driftline_runtime.steps import JobNetwork
from driftline_runtime.steps.training import (
    ChampionCandidate,
    CreateTrainingJobRequest,
    PreparedTraining,
    TrainingRequest,
)
from pydantic import BaseModel, Json
from window import ValidatedVersion, choose, combine, explicit


class DatasetCodeSettings(BaseModel):
    """A dataset's own training code (``TrainingSpec.source_dir``) as CDK packaged it."""

    source_dir: str  # the S3 URL of its sourcedir.tar.gz
    program: str  # its entry script (TrainingSpec.entry_point)


class TrainingJobSettings(BaseModel):
    """What every training job of the stage shares (CDK writes it as JSON)."""

    role_arn: str
    image: str
    # The image per training algorithm (TrainingSpec.algorithm); absent: ``image``.
    images: dict[str, str] = {}
    instance_type: str
    max_runtime_seconds: int
    volume_kms_key: str
    source_dir: str
    program: str
    hyperparameters: dict[str, str]
    # Per training dataset that brings its own training code; the others run ``program``.
    dataset_code: dict[str, DatasetCodeSettings] = {}
    # SageMaker places the job's network interfaces here; None: SageMaker's own network.
    vpc_config: JobNetwork | None = None


class Settings(FunctionSettings):
    driftline_stage: str
    curated_bucket: str
    artifacts_bucket: str
    model_package_group_prefix: str
    training_job: Json[TrainingJobSettings]


@dataclass(frozen=True)
class Services:
    s3: Any
    registry: ModelRegistry
    obs: Observability


class UnknownDatasetVersion(ValueError):
    pass


def spec_of(dataset: str) -> DatasetSpec:
    """The dataset's contract; its module is imported here, and if it does not load the
    step fails with ContractUnavailable (the state machine's TrainingFailed says so)."""
    spec = contract(dataset)
    if spec is None:
        raise UnknownDatasetVersion(f"{dataset!r} is not a declared dataset")
    return spec


def model_column_names(table: pa.Table, spec: DatasetSpec) -> list[str]:
    """The id, the features and the target, in that order: what the model may see.

    Columns the contract does not declare (another model's score, a copy of the label),
    PII, the time column and excluded columns stay in the curated bucket.
    """
    wanted = [spec.id_column, *spec.feature_columns, *([spec.target] if spec.target else [])]
    missing = [column for column in wanted if column not in table.column_names]
    if missing:
        raise UnknownDatasetVersion(
            f"the curated {spec.name} data lacks the model's column(s) {', '.join(missing)}; "
            "was it validated against another contract version?"
        )
    return wanted


def model_columns(table: pa.Table, spec: DatasetSpec) -> pa.Table:
    """``table`` with only the model's columns (``model_column_names``)."""
    return table.select(model_column_names(table, spec))


def job_name(stage: str, dataset: str, version: str, now: datetime, execution: str) -> str:
    """``dl-<stage>-<dataset>-<layout.run_id>``: unique per execution."""
    return names.sagemaker_name(stage, dataset, layout.run_id(version, now, execution))


class TrainingPreparation:
    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.services = services

    def prepare(self, request: TrainingRequest, now: datetime, execution: str) -> PreparedTraining:
        dataset, version = request.dataset, request.version
        manifest = self._manifest(dataset, version)
        if manifest.get("kind") != "training":
            raise UnknownDatasetVersion(
                f"{dataset} is a {manifest.get('kind')} dataset, not training"
            )
        spec = spec_of(dataset)
        champion, champion_versions = self._champion(dataset)
        versions = self._validated_versions(dataset)
        if request.versions is None:
            chosen = choose(versions, version, spec.training_window, champion_versions, now)
        else:
            chosen = explicit(versions, version, request.versions)
        table, replaced = combine([self._read(v.data_uri) for v in chosen], spec.id_column)
        name = job_name(self.settings.driftline_stage, dataset, version, now, execution)
        # The time column orders the holdout, then only the model's columns reach the job.
        channels, holdout = split(
            table, spec.id_column, spec.time_column, columns=model_column_names(table, spec)
        )
        for channel in channels:
            self.services.s3.put_object(
                Bucket=self.settings.artifacts_bucket,
                Key=f"{layout.training_channel_prefix(dataset, name, channel.name)}part-0.csv",
                Body=channel.csv,
                ContentType="text/csv",
            )
        rows = {channel.name: channel.rows for channel in channels}
        training_manifest = {
            "dataset": dataset,
            "training_job": name,
            "requested_version": version,
            "versions": [
                {"version": v.version, "ingested_at": v.ingested_at.isoformat(), "rows": v.rows}
                for v in chosen
            ],
            "rows": table.num_rows,
            "rows_replaced_by_newer_versions": replaced,
            "channels": rows,
            "holdout": holdout.model_dump(mode="json"),
            "champion": champion.model_dump(mode="json") if champion else None,
        }
        manifest_key = layout.training_manifest_key(dataset, name)
        self.services.s3.put_object(
            Bucket=self.settings.artifacts_bucket,
            Key=manifest_key,
            Body=json.dumps(training_manifest, indent=2).encode(),
            ContentType="application/json",
        )
        self.services.obs.logger.info(
            "Channels written",
            extra={**rows, "versions": [v.version for v in chosen], "replaced": replaced},
        )
        names_ = [c.name for c in channels]
        return PreparedTraining(
            dataset=dataset,
            version=version,
            manifest_uri=self._manifest_uri(dataset, version),
            rows=rows,
            request=self.training_request(dataset, name, names_, champion),
            training_versions=[v.version for v in chosen],
            training_manifest_uri=f"s3://{self.settings.artifacts_bucket}/{manifest_key}",
            holdout=holdout,
            champion=champion,
        )

    def _champion(self, dataset: str) -> tuple[ChampionCandidate | None, list[str] | None]:
        """The approved champion the job scores on its holdout, and its training versions
        (from its run's manifest; an older champion without one: its dataset version)."""
        group = layout.model_group(self.settings.model_package_group_prefix, dataset)
        package = self.services.registry.newest_approved_package(group)
        if package is None:
            return None, None
        arn = str(package["ModelPackageArn"])
        metadata = package.get("CustomerMetadataProperties", {})
        container = package["InferenceSpecification"]["Containers"][0]
        candidate = ChampionCandidate(
            model_package_arn=arn,
            model_version=arn.rsplit("/", 1)[-1],
            model_data_url=container["ModelDataUrl"],
        )
        manifest_uri = metadata.get(names.TRAINING_MANIFEST_METADATA_KEY)
        if manifest_uri:
            bucket, key = split_uri(manifest_uri)
            body = self.services.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            return candidate, [v["version"] for v in json.loads(body)["versions"]]
        own = metadata.get("dataset_version")
        return candidate, [own] if own else []

    def _validated_versions(self, dataset: str) -> list[ValidatedVersion]:
        """Every validated version of ``dataset``, from its manifests."""
        s3, bucket = self.services.s3, self.settings.curated_bucket
        found = []
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=layout.manifest_prefix(dataset)):
            for item in page.get("Contents", []):
                manifest = json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
                found.append(
                    ValidatedVersion(
                        version=manifest["version"],
                        ingested_at=datetime.fromisoformat(manifest["ingested_at"]),
                        data_uri=manifest["data_uri"],
                        rows=int(manifest["rows"]),
                    )
                )
        return found

    def _read(self, data_uri: str) -> pa.Table:
        bucket, key = split_uri(data_uri)
        body = self.services.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return pq.read_table(io.BytesIO(body))

    def training_request(
        self,
        dataset: str,
        name: str,
        channels: list[str],
        champion: ChampionCandidate | None = None,
    ) -> CreateTrainingJobRequest:
        job = self.settings.training_job
        spec = spec_of(dataset)
        bucket = self.settings.artifacts_bucket
        hyperparameters = {
            **self.code_hyperparameters(spec),
            "problem": spec.problem or "binary",
            "target_column": spec.target or "",
            "id_column": spec.id_column,
            # The contract's features, in order: the channels hold nothing else.
            "features": json.dumps(spec.feature_columns),
        }
        return CreateTrainingJobRequest.model_validate(
            {
                "TrainingJobName": name,
                "RoleArn": job.role_arn,
                "AlgorithmSpecification": {
                    "TrainingImage": job.images.get(spec.training.algorithm, job.image),
                    "TrainingInputMode": "File",
                    "MetricDefinitions": names.metric_definitions(spec.problem or "binary"),
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
                ]
                + (
                    # The champion's model artefact, scored by the job on its own holdout.
                    [
                        {
                            "ChannelName": names.CHAMPION_CHANNEL,
                            "ContentType": "application/x-gzip",
                            "DataSource": {
                                "S3DataSource": {
                                    "S3DataType": "S3Prefix",
                                    "S3Uri": champion.model_data_url,
                                    "S3DataDistributionType": "FullyReplicated",
                                }
                            },
                        }
                    ]
                    if champion
                    else []
                ),
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
                "VpcConfig": job.vpc_config,
            }
        )

    def code_hyperparameters(self, spec: DatasetSpec) -> dict[str, str]:
        """The script and its settings: driftline's trainer with the stage's
        hyperparameters under the dataset's, or the dataset's own code with its own."""
        job = self.settings.training_job
        if spec.training.source_dir is None:
            return {
                **job.hyperparameters,
                **spec.training.as_strings(),
                "algorithm": spec.training.algorithm,
                "sagemaker_program": job.program,
                "sagemaker_submit_directory": job.source_dir,
            }
        code = job.dataset_code.get(spec.name)
        if code is None:
            raise UnknownDatasetVersion(
                f"{spec.name}'s own training code ({spec.training.source_dir}) was not "
                "packaged with this deployment; deploy again (cdk deploy, driftline local up)"
            )
        return {
            **spec.training.as_strings(),
            "sagemaker_program": code.program,
            "sagemaker_submit_directory": code.source_dir,
        }

    def _manifest_uri(self, dataset: str, version: str) -> str:
        return f"s3://{self.settings.curated_bucket}/{layout.manifest_key(dataset, version)}"

    def _manifest(self, dataset: str, version: str) -> dict[str, Any]:
        s3 = self.services.s3
        key = layout.manifest_key(dataset, version)
        try:
            body = s3.get_object(Bucket=self.settings.curated_bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey as error:
            raise UnknownDatasetVersion(f"No validated version {version} of {dataset}") from error
        manifest: dict[str, Any] = json.loads(body)
        return manifest
