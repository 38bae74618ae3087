"""Resolving a batch inference run: an inference dataset version -> model and transform input.

The run scores a validated version (``{"dataset": ..., "version": ...}`` from the rule
on DatasetValidated or by hand; a scheduled run names only the dataset and scores its
newest validated version). The model is the newest *approved* package of the model
dataset's group (``NoApprovedModel`` otherwise: the state machine turns it into an
InferenceFailed event), and the version's rows are written as transform input: CSV
parts of at most ``part_size_bytes`` (``transform_parts.write_parts``), each a header line and then
lines ``<id>,<features...>`` in the model's feature order (from the package's training
baseline), which the state machine's Distributed Map scores with one transform job per
part.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from driftline_contracts import contract
from driftline_runtime import layout, names
from driftline_runtime.baseline import Baseline
from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.lineage import LineageStore
from driftline_runtime.objects import read_object
from driftline_runtime.registry import ModelRegistry
from driftline_runtime.settings import FunctionSettings
from driftline_runtime.steps import ModelSettings
from driftline_runtime.steps.batch_inference import InferenceRequest, ResolvedInference
from pydantic import BaseModel, Field, Json
from transform_parts import PartSizeError, write_parts

MIB = 1024 * 1024


class TransformJobSettings(BaseModel):
    """What every transform job of the stage shares (CDK writes it as JSON)."""

    instance_type: str
    volume_kms_key: str
    max_payload_mb: int = Field(ge=1, le=100)
    max_concurrency: int = Field(ge=1, le=1000)
    # A part's size bounds one job's input (the stage's inference_part_size_mib); with
    # SplitType=Line it may exceed max_payload_mb, which bounds one request.
    part_size_bytes: int = Field(ge=1)


class Settings(FunctionSettings):
    driftline_stage: str
    # The role models run as, and the stage's VPC for them (None: SageMaker's network).
    model: Json[ModelSettings]
    curated_bucket: str
    artifacts_bucket: str
    lineage_table: str
    model_package_group_prefix: str
    transform: Json[TransformJobSettings]


@dataclass(frozen=True)
class Services:
    s3: Any
    registry: ModelRegistry
    lineage: LineageStore


class InferenceRequestError(ValueError):
    """The run was started for something that cannot be scored."""


def transform_input(table: pa.Table, id_column: str, features: list[str]) -> pa.Table:
    missing = [c for c in [id_column, *features] if c not in table.column_names]
    if missing:
        raise InferenceRequestError(
            f"the dataset lacks column(s) the model needs: {', '.join(missing)}"
        )
    return table.select([id_column, *features])


class InferenceResolution:
    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.services = services

    def resolve(
        self, request: InferenceRequest, now: datetime, execution: str
    ) -> ResolvedInference:
        dataset = request.dataset
        spec, version, manifest = self._version(dataset, request.version)
        training_dataset = str(spec.model_dataset)
        package = self.services.registry.latest_approved(
            layout.model_group(self.settings.model_package_group_prefix, training_dataset)
        )
        baseline_uri = package.get("CustomerMetadataProperties", {}).get(
            names.BASELINE_METADATA_KEY
        )
        if not baseline_uri:
            raise InferenceRequestError(
                f"{package['ModelPackageArn']} records no training baseline; re-register it "
                "with the current register function"
            )
        s3 = self.services.s3
        baseline = Baseline.model_validate_json(read_object(s3, baseline_uri))
        table = pq.read_table(io.BytesIO(read_object(s3, manifest["data_uri"])))
        if table.num_rows == 0:
            raise InferenceRequestError(f"version {version} of {dataset} has no rows to score")
        scored = transform_input(table, baseline.id_column, baseline.feature_columns)
        transform = self.settings.transform
        run = layout.run_id(version, now, execution)
        parts = self._write_parts(scored, dataset, run, transform)
        (container,) = package["InferenceSpecification"]["Containers"]
        artifacts = self.settings.artifacts_bucket
        # Transform jobs append "-<part index>" (the Distributed Map's index, 5 digits).
        job_prefix = names.sagemaker_name(
            self.settings.driftline_stage, dataset, run, reserve=len("-99999")
        )
        return ResolvedInference.model_validate(
            {
                "dataset": dataset,
                "version": version,
                "training_dataset": training_dataset,
                "run": run,
                "rows": table.num_rows,
                "parts": parts,
                "id_column": baseline.id_column,
                "data_uri": manifest["data_uri"],
                "manifest_uri": self._manifest_uri(dataset, version),
                "model_package_arn": package["ModelPackageArn"],
                "baseline_uri": baseline_uri,
                "prediction_columns": names.prediction_columns(
                    baseline.problem, baseline.classes or ()
                ),
                "model": {
                    "ModelName": job_prefix,
                    "ExecutionRoleArn": self.settings.model.role_arn,
                    "PrimaryContainer": {
                        "Image": container["Image"],
                        "ModelDataUrl": container["ModelDataUrl"],
                        "Environment": container.get("Environment", {}),
                    },
                    "EnableNetworkIsolation": True,
                    "Tags": [{"Key": names.PROJECT_TAG, "Value": names.PROJECT}],
                    "VpcConfig": self.settings.model.vpc_config,
                },
                "input": {
                    "bucket": artifacts,
                    "prefix": layout.inference_input_prefix(dataset, run),
                    "results_prefix": layout.inference_results_prefix(dataset, run),
                },
                "transform": {
                    "job_prefix": job_prefix,
                    "output_path": f"s3://{artifacts}/"
                    + layout.inference_output_prefix(dataset, run),
                    "instance_type": transform.instance_type,
                    "kms_key": transform.volume_kms_key,
                    "max_payload_mb": transform.max_payload_mb,
                    "max_concurrency": transform.max_concurrency,
                },
            }
        )

    def _manifest_uri(self, dataset: str, version: str) -> str:
        return f"s3://{self.settings.curated_bucket}/{layout.manifest_key(dataset, version)}"

    def _version(
        self, dataset: str, version: str | None
    ) -> tuple[DatasetSpec, str, dict[str, Any]]:
        # Imports only the module that declares the dataset: ContractUnavailable if it does
        # not load, and the state machine's InferenceFailed says so.
        spec = contract(dataset)
        if spec is None or spec.kind != "inference":
            kind = "undeclared" if spec is None else f"a {spec.kind}"
            raise InferenceRequestError(f"{dataset!r} is {kind} dataset, not an inference dataset")
        if version is None:
            latest = self.services.lineage.latest_validated(dataset)
            if latest is None:
                raise InferenceRequestError(f"{dataset!r} has no validated version to score yet")
            version = latest.version
        s3 = self.services.s3
        try:
            manifest: dict[str, Any] = json.loads(
                read_object(s3, self._manifest_uri(dataset, version))
            )
        except s3.exceptions.NoSuchKey as error:
            raise InferenceRequestError(f"No validated version {version} of {dataset}") from error
        return spec, version, manifest

    def _write_parts(
        self, table: pa.Table, dataset: str, run: str, transform: TransformJobSettings
    ) -> int:
        def put(index: int, body: bytes) -> None:
            self.services.s3.put_object(
                Bucket=self.settings.artifacts_bucket,
                Key=layout.inference_part_key(dataset, run, index),
                Body=body,
                ContentType="text/csv",
            )

        try:
            parts: int = write_parts(
                table, transform.part_size_bytes, transform.max_payload_mb * MIB, put
            )
        except PartSizeError as error:
            raise InferenceRequestError(str(error)) from error
        return parts
