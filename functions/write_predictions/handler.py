"""Write predictions: the transform jobs' ``.out`` files -> one predictions table with lineage.

Every output line is ``<id>,<probability>`` (``training/inference.py`` writes the input's
id first, so each prediction is joined to its input row by id, not by position). The
function checks that every input row has exactly one prediction — none missing, none
extra, none twice — before it writes ``predictions.parquet`` and a manifest recording
the dataset version, the model package and the transform jobs that produced it.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_runtime import layout, names
from driftline_runtime.objects import split_uri
from driftline_runtime.observability import observability
from driftline_runtime.settings import FunctionSettings


class Settings(FunctionSettings):
    predictions_bucket: str


SETTINGS = Settings.from_environ()
OBS = observability("write_predictions")
S3 = boto3.client("s3")
PROBABILITY = names.PROBABILITY_COLUMN


class IncompletePredictions(ValueError):
    """The transform output does not cover the input exactly once."""


class TransformJobsFailed(RuntimeError):
    """One or more of the run's transform jobs did not complete."""


def failure_reason(job: dict[str, Any]) -> str:
    """SageMaker's FailureReason out of a failed ``.sync`` task's cause, else the error."""
    try:
        cause = json.loads(job.get("cause") or "{}")
    except json.JSONDecodeError:
        return str(job.get("cause") or job.get("error") or "unknown")
    reason = cause.get("FailureReason") if isinstance(cause, dict) else None
    return str(reason or job.get("error") or "unknown")


def check_jobs(jobs: list[dict[str, Any] | None], expected: int) -> None:
    """Every part's job completed: else name each failed one with its reason."""
    failed = [job or {} for job in jobs if not job or job.get("status") != "Completed"]
    if len(jobs) != expected and not failed:
        failed = [{"job": f"{expected - len(jobs)} missing", "error": "no result"}]
    if failed:
        raise TransformJobsFailed(
            f"{len(failed)} of {expected} transform jobs failed: "
            + "; ".join(f"{job.get('job', '?')}: {failure_reason(job)}" for job in failed)
        )


def output_objects(output_path: str) -> list[str]:
    bucket, prefix = split_uri(output_path)
    keys: list[str] = []
    for page in S3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [item["Key"] for item in page.get("Contents", []) if item["Key"].endswith(".out")]
    return sorted(keys)


def read_outputs(output_path: str, id_column: str) -> pa.Table:
    bucket, _ = split_uri(output_path)
    options = pacsv.ReadOptions(column_names=[id_column, PROBABILITY])
    convert = pacsv.ConvertOptions(column_types={id_column: pa.string(), PROBABILITY: pa.float64()})
    tables = []
    for key in output_objects(output_path):
        body = S3.get_object(Bucket=bucket, Key=key)["Body"].read()
        if body.strip():
            tables.append(pacsv.read_csv(io.BytesIO(body), options, convert_options=convert))
    if not tables:
        raise IncompletePredictions(f"the transform jobs wrote no output under {output_path}")
    return pa.concat_tables(tables)


def check_coverage(inputs: pa.Array, predictions: pa.Table, id_column: str) -> None:
    ids = predictions.column(id_column)
    problems = []
    if ids.null_count:
        problems.append(f"{ids.null_count} prediction(s) without an id")
    duplicated = len(ids) - len(pc.unique(ids))
    if duplicated:
        problems.append(f"{duplicated} id(s) predicted more than once")
    missing = pc.sum(pc.invert(pc.is_in(inputs, value_set=ids))).as_py() or 0
    if missing:
        problems.append(f"{missing} input row(s) without a prediction")
    extra = pc.sum(pc.invert(pc.is_in(ids, value_set=inputs))).as_py() or 0
    if extra:
        problems.append(f"{extra} prediction(s) for ids not in the input")
    bad = pc.sum(pc.invert(pc.fill_null(pc.is_finite(predictions.column(PROBABILITY)), False)))
    if bad.as_py():
        problems.append(f"{bad.as_py()} probabilities that are not finite numbers")
    if problems:
        raise IncompletePredictions(
            f"{len(inputs)} input rows, {predictions.num_rows} predictions: " + "; ".join(problems)
        )


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="execution")
@OBS.tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    resolved = event["resolved"]
    dataset, version, run = resolved["dataset"], resolved["version"], resolved["run"]
    id_column = resolved["id_column"]
    bucket, key = split_uri(resolved["data_uri"])
    inputs = pq.read_table(
        io.BytesIO(S3.get_object(Bucket=bucket, Key=key)["Body"].read()), columns=[id_column]
    ).column(id_column)
    inputs = pc.cast(inputs, pa.string()).combine_chunks()
    check_jobs(list(event.get("jobs") or []), int(resolved["parts"]))
    predictions = read_outputs(resolved["transform"]["output_path"], id_column)
    check_coverage(inputs, predictions, id_column)
    jobs = sorted(job["job"] for job in event["jobs"])
    lineage = {
        "dataset": dataset,
        "version": version,
        "run": run,
        "rows": predictions.num_rows,
        "model_package_arn": resolved["model_package_arn"],
        "model_name": resolved["model"]["ModelName"],
        "transform_jobs": jobs,
        "data_uri": resolved["data_uri"],
        "manifest_uri": resolved["manifest_uri"],
        "execution": event.get("execution"),
        "created_at": datetime.now(UTC).isoformat(),
    }
    table = predictions.replace_schema_metadata({"driftline.lineage": json.dumps(lineage)})
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    data_key = layout.predictions_key(dataset, version, run)
    S3.put_object(Bucket=SETTINGS.predictions_bucket, Key=data_key, Body=sink.getvalue())
    predictions_uri = f"s3://{SETTINGS.predictions_bucket}/{data_key}"
    manifest = {**lineage, "predictions_uri": predictions_uri}
    S3.put_object(
        Bucket=SETTINGS.predictions_bucket,
        Key=layout.predictions_manifest_key(dataset, version, run),
        Body=json.dumps(manifest, indent=2).encode(),
        ContentType="application/json",
    )
    OBS.logger.info("Predictions written", extra={"rows": predictions.num_rows, "jobs": len(jobs)})
    return {
        "predictions_uri": predictions_uri,
        "rows": predictions.num_rows,
        "transform_jobs": jobs,
    }
