"""Writing a run's predictions: the transform jobs' ``.out`` files -> one table with lineage.

Every output line is ``<id>,<probability>`` (``training/inference.py`` writes the input's
id first, so each prediction is joined to its input row by id, not by position). The
writer checks that every input row has exactly one prediction — none missing, none
extra, none twice — before it writes ``predictions.parquet`` and a manifest recording
the dataset version, the model package and the transform jobs that produced it.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from driftline_runtime import layout, names
from driftline_runtime.objects import read_object, split_uri
from driftline_runtime.settings import FunctionSettings
from driftline_runtime.steps.batch_inference import (
    TransformJobResult,
    WritePredictionsInput,
    WrittenPredictions,
)

PROBABILITY = names.PROBABILITY_COLUMN
LINEAGE_METADATA = b"driftline.lineage"


class Settings(FunctionSettings):
    predictions_bucket: str


@dataclass(frozen=True)
class Services:
    s3: Any


class IncompletePredictions(ValueError):
    """The transform output does not cover the input exactly once."""


class TransformJobsFailed(RuntimeError):
    """One or more of the run's transform jobs did not complete."""


def check_jobs(jobs: list[TransformJobResult | None], expected: int) -> None:
    """Every part's job completed: else name each failed one with its reason."""
    failed = [job for job in jobs if job is None or not job.completed]
    if len(jobs) != expected and not failed:
        missing = TransformJobResult(
            job=f"{expected - len(jobs)} missing", status="Failed", error="no result"
        )
        failed = [missing]
    if failed:
        raise TransformJobsFailed(
            f"{len(failed)} of {expected} transform jobs failed: "
            + "; ".join(
                f"{job.job}: {job.failure_reason}" if job else "?: no result" for job in failed
            )
        )


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


class PredictionWriter:
    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.services = services

    def write(self, request: WritePredictionsInput, now: datetime) -> WrittenPredictions:
        resolved = request.resolved
        dataset, version, run = resolved.dataset, resolved.version, resolved.run
        id_column = resolved.id_column
        s3 = self.services.s3
        inputs = pq.read_table(
            io.BytesIO(read_object(s3, resolved.data_uri)), columns=[id_column]
        ).column(id_column)
        inputs = pc.cast(inputs, pa.string()).combine_chunks()
        check_jobs(list(request.jobs), resolved.parts)
        predictions = self.read_outputs(resolved.transform.output_path, id_column)
        check_coverage(inputs, predictions, id_column)
        jobs = sorted(job.job for job in request.jobs if job is not None)
        lineage = {
            "dataset": dataset,
            "version": version,
            "run": run,
            "rows": predictions.num_rows,
            "model_package_arn": resolved.model_package_arn,
            "model_name": resolved.model.ModelName,
            "transform_jobs": jobs,
            "data_uri": resolved.data_uri,
            "manifest_uri": resolved.manifest_uri,
            "execution": request.execution,
            "created_at": now.isoformat(),
        }
        table = predictions.replace_schema_metadata({LINEAGE_METADATA: json.dumps(lineage)})
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="zstd")
        bucket = self.settings.predictions_bucket
        data_key = layout.predictions_key(dataset, version, run)
        s3.put_object(Bucket=bucket, Key=data_key, Body=sink.getvalue())
        predictions_uri = f"s3://{bucket}/{data_key}"
        manifest = {**lineage, "predictions_uri": predictions_uri}
        s3.put_object(
            Bucket=bucket,
            Key=layout.predictions_manifest_key(dataset, version, run),
            Body=json.dumps(manifest, indent=2).encode(),
            ContentType="application/json",
        )
        return WrittenPredictions(
            predictions_uri=predictions_uri, rows=predictions.num_rows, transform_jobs=jobs
        )

    def output_objects(self, output_path: str) -> list[str]:
        bucket, prefix = split_uri(output_path)
        keys: list[str] = []
        paginator = self.services.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            contents = page.get("Contents", [])
            keys += [item["Key"] for item in contents if item["Key"].endswith(".out")]
        return sorted(keys)

    def read_outputs(self, output_path: str, id_column: str) -> pa.Table:
        bucket, _ = split_uri(output_path)
        options = pacsv.ReadOptions(column_names=[id_column, PROBABILITY])
        convert = pacsv.ConvertOptions(
            column_types={id_column: pa.string(), PROBABILITY: pa.float64()}
        )
        tables = []
        for key in self.output_objects(output_path):
            body = self.services.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            if body.strip():
                tables.append(pacsv.read_csv(io.BytesIO(body), options, convert_options=convert))
        if not tables:
            raise IncompletePredictions(f"the transform jobs wrote no output under {output_path}")
        return pa.concat_tables(tables)
