"""Prepare inference: a validated inference dataset version -> transform input and a model.

Started by the batch inference state machine with ``{"dataset": ..., "version": ...}``
(the rule on DatasetValidated passes those two fields; a scheduled run passes only the
dataset and scores its newest validated version). It resolves the newest *approved*
package of the model dataset's group (``NoApprovedModel`` otherwise: the state machine
turns it into an InferenceFailed event), and writes the version's rows as transform
input: CSV parts of at most ``ROWS_PER_PART`` lines ``<id>,<features...>`` in the model's
feature order (from the package's training baseline), no header, which the state
machine's Distributed Map scores with one transform job per part.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_contracts import contract
from driftline_runtime import layout, names
from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.lineage import LineageStore
from driftline_runtime.objects import read_object
from driftline_runtime.observability import observability
from driftline_runtime.registry import ModelRegistry
from driftline_runtime.settings import FunctionSettings
from pydantic import BaseModel, Field, Json


class TransformSettings(BaseModel):
    instance_type: str
    volume_kms_key: str
    max_payload_mb: int = Field(ge=1, le=100)
    max_concurrency: int = Field(ge=1, le=1000)
    rows_per_part: int = Field(ge=1)


class Settings(FunctionSettings):
    curated_bucket: str
    artifacts_bucket: str
    lineage_table: str
    model_package_group_prefix: str
    transform: Json[TransformSettings]


SETTINGS = Settings.from_environ()
OBS = observability("prepare_inference")
S3 = boto3.client("s3")
REGISTRY = ModelRegistry(boto3.client("sagemaker"))
LINEAGE = LineageStore(boto3.resource("dynamodb").Table(SETTINGS.lineage_table))


class InferenceRequestError(ValueError):
    """The run was started for something that cannot be scored."""


def requested(event: dict[str, Any]) -> tuple[str, str | None]:
    """Dataset and (optional) version from the state machine's input."""
    request = event.get("request", event)
    source = request.get("detail") or request
    dataset = source.get("dataset")
    if not dataset:
        raise InferenceRequestError(
            'Start batch inference with {"dataset": ..., "version": ...} (version optional: '
            "the newest validated one) or a DatasetValidated event; got keys "
            + ", ".join(sorted(request))
        )
    version = source.get("version")
    return str(dataset), str(version) if version else None


def resolve_version(dataset: str, version: str | None) -> tuple[DatasetSpec, str, dict[str, Any]]:
    # Imports only the module that declares the dataset: ContractUnavailable if it does
    # not load, and the state machine's InferenceFailed says so.
    spec = contract(dataset)
    if spec is None or spec.kind != "inference":
        kind = "undeclared" if spec is None else f"a {spec.kind}"
        raise InferenceRequestError(f"{dataset!r} is {kind} dataset, not an inference dataset")
    if version is None:
        latest = LINEAGE.latest_validated(dataset)
        if latest is None:
            raise InferenceRequestError(f"{dataset!r} has no validated version to score yet")
        version = latest.version
    try:
        manifest: dict[str, Any] = json.loads(
            read_object(
                S3, f"s3://{SETTINGS.curated_bucket}/{layout.manifest_key(dataset, version)}"
            )
        )
    except S3.exceptions.NoSuchKey as error:
        raise InferenceRequestError(f"No validated version {version} of {dataset}") from error
    return spec, version, manifest


def transform_input(table: pa.Table, id_column: str, features: list[str]) -> pa.Table:
    missing = [c for c in [id_column, *features] if c not in table.column_names]
    if missing:
        raise InferenceRequestError(
            f"the dataset lacks column(s) the model needs: {', '.join(missing)}"
        )
    return table.select([id_column, *features])


def write_parts(table: pa.Table, dataset: str, run: str, rows_per_part: int) -> int:
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    parts = 0
    for offset in range(0, table.num_rows, rows_per_part):
        sink = io.BytesIO()
        pacsv.write_csv(table.slice(offset, rows_per_part), sink, options)
        S3.put_object(
            Bucket=SETTINGS.artifacts_bucket,
            Key=layout.inference_part_key(dataset, run, parts),
            Body=sink.getvalue(),
            ContentType="text/csv",
        )
        parts += 1
    return parts


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="execution")
@OBS.tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    dataset, asked = requested(event)
    spec, version, manifest = resolve_version(dataset, asked)
    training_dataset = str(spec.model_dataset)
    package = REGISTRY.latest_approved(
        layout.model_group(SETTINGS.model_package_group_prefix, training_dataset)
    )
    baseline_uri = package.get("CustomerMetadataProperties", {}).get(names.BASELINE_METADATA_KEY)
    if not baseline_uri:
        raise InferenceRequestError(
            f"{package['ModelPackageArn']} records no training baseline; re-register it "
            "with the current register function"
        )
    baseline = json.loads(read_object(S3, baseline_uri))
    table = pq.read_table(io.BytesIO(read_object(S3, manifest["data_uri"])))
    if table.num_rows == 0:
        raise InferenceRequestError(f"version {version} of {dataset} has no rows to score")
    scored = transform_input(table, baseline["id_column"], list(baseline["feature_columns"]))
    transform = SETTINGS.transform
    run = layout.inference_run_id(version, datetime.now(UTC))
    parts = write_parts(scored, dataset, run, transform.rows_per_part)
    (container,) = package["InferenceSpecification"]["Containers"]
    OBS.logger.info("Transform input written", extra={"rows": table.num_rows, "parts": parts})
    return {
        "dataset": dataset,
        "version": version,
        "training_dataset": training_dataset,
        "run": run,
        "rows": table.num_rows,
        "parts": parts,
        "id_column": baseline["id_column"],
        "data_uri": manifest["data_uri"],
        "manifest_uri": f"s3://{SETTINGS.curated_bucket}/{layout.manifest_key(dataset, version)}",
        "model_package_arn": package["ModelPackageArn"],
        "baseline_uri": baseline_uri,
        "model": {
            "ModelName": f"{names.JOB_PREFIX}{dataset[:20]}-{run}",
            "PrimaryContainer": {
                "Image": container["Image"],
                "ModelDataUrl": container["ModelDataUrl"],
                "Environment": container.get("Environment", {}),
            },
        },
        "input": {
            "bucket": SETTINGS.artifacts_bucket,
            "prefix": layout.inference_input_prefix(dataset, run),
        },
        "transform": {
            "job_prefix": f"{names.JOB_PREFIX}{dataset[:20]}-{run}",
            "output_path": (
                f"s3://{SETTINGS.artifacts_bucket}/{layout.inference_output_prefix(dataset, run)}"
            ),
            "instance_type": transform.instance_type,
            "kms_key": transform.volume_kms_key,
            "max_payload_mb": transform.max_payload_mb,
            "max_concurrency": transform.max_concurrency,
        },
    }
