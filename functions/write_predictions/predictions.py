"""Writing a run's predictions: the transform jobs' ``.out`` files -> one table with lineage.

Every output line is ``<id>,<prediction columns>`` (``<id>,<probability>`` for a binary
model; ``ResolvedInference.prediction_columns`` names them; ``training/inference.py`` writes
the input's id first, so each prediction is joined to its input row by id, not by position). The
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
    MapRunResults,
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


# Failed jobs named one by one in the error; the rest are counted. The error becomes the
# InferenceFailed event's cause, which must stay small (Step Functions caps state data).
NAMED_FAILURES = 10


def check_jobs(jobs: list[TransformJobResult | None], expected: int, results_uri: str) -> None:
    """Every part's job completed: else name the failed ones with their reasons."""
    failed = [job for job in jobs if job is None or not job.completed]
    if len(jobs) != expected and not failed:
        missing = TransformJobResult(
            job=f"{expected - len(jobs)} missing", status="Failed", error="no result"
        )
        failed = [missing]
    if failed:
        named = "; ".join(
            f"{job.job}: {job.failure_reason[:500]}" if job else "?: no result"
            for job in failed[:NAMED_FAILURES]
        )
        more = len(failed) - NAMED_FAILURES
        raise TransformJobsFailed(
            f"{len(failed)} of {expected} transform jobs failed: {named}"
            + (f"; and {more} more (every part's result: {results_uri})" if more > 0 else "")
        )


def iteration_result(status: str, execution: dict[str, Any]) -> TransformJobResult | None:
    """One child execution of the map run, as its results file records it."""
    if status == "SUCCEEDED":
        output = execution.get("Output")
        return TransformJobResult.model_validate_json(output) if output else None
    name = str(execution.get("Name") or execution.get("ExecutionArn") or "?")
    return TransformJobResult(
        job=f"iteration {name}",
        status="Failed" if status == "FAILED" else status.title(),
        error=execution.get("Error") or status,
        cause=execution.get("Cause"),
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
    for column in predictions.column_names[1:]:
        values = predictions.column(column)
        if pa.types.is_floating(values.type):
            bad = pc.sum(pc.invert(pc.fill_null(pc.is_finite(values), False))).as_py()
            if bad:
                problems.append(f"{bad} {column} value(s) that are not finite numbers")
        elif values.null_count:
            problems.append(f"{values.null_count} missing {column} value(s)")
    if problems:
        raise IncompletePredictions(
            f"{len(inputs)} input rows, {predictions.num_rows} predictions: " + "; ".join(problems)
        )


class PredictionWriter:
    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.services = services

    def read_map_results(self, results: MapRunResults) -> list[TransformJobResult | None]:
        """Every part's result as the Distributed Map's ResultWriter wrote it: the map run's
        manifest names its result files; a succeeded iteration's ``Output`` is the part's
        TransformJobResult, a failed one (which the iteration's own Catch should prevent)
        becomes a failed part with the iteration's error and cause."""
        s3 = self.services.s3
        details = results.ResultWriterDetails
        manifest = json.loads(read_object(s3, f"s3://{details.Bucket}/{details.Key}"))
        bucket = manifest.get("DestinationBucket", details.Bucket)
        found: list[TransformJobResult | None] = []
        for status, files in sorted(manifest.get("ResultFiles", {}).items()):
            for entry in files:
                for execution in json.loads(read_object(s3, f"s3://{bucket}/{entry['Key']}")):
                    found.append(iteration_result(status, execution))
        return found

    def write(self, request: WritePredictionsInput, now: datetime) -> WrittenPredictions:
        resolved = request.resolved
        dataset, version, run = resolved.dataset, resolved.version, resolved.run
        id_column = resolved.id_column
        s3 = self.services.s3
        inputs = pq.read_table(
            io.BytesIO(read_object(s3, resolved.data_uri)), columns=[id_column]
        ).column(id_column)
        inputs = pc.cast(inputs, pa.string()).combine_chunks()
        jobs_results = self.read_map_results(request.results)
        details = request.results.ResultWriterDetails
        check_jobs(jobs_results, resolved.parts, f"s3://{details.Bucket}/{details.Key}")
        predictions = self.read_outputs(
            resolved.transform.output_path, id_column, resolved.prediction_columns
        )
        check_coverage(inputs, predictions, id_column)
        jobs = sorted(job.job for job in jobs_results if job is not None)
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

    def read_outputs(
        self, output_path: str, id_column: str, columns: list[str] | None = None
    ) -> pa.Table:
        bucket, _ = split_uri(output_path)
        columns = columns or [PROBABILITY]
        options = pacsv.ReadOptions(column_names=[id_column, *columns])
        # The predicted class (multiclass) is a label, everything else a number.
        types = {
            column: pa.string()
            if column == names.PREDICTION_COLUMN and len(columns) > 1
            else (pa.float64())
            for column in columns
        }
        convert = pacsv.ConvertOptions(column_types={id_column: pa.string(), **types})
        tables = []
        for key in self.output_objects(output_path):
            body = self.services.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            if body.strip():
                tables.append(pacsv.read_csv(io.BytesIO(body), options, convert_options=convert))
        if not tables:
            raise IncompletePredictions(f"the transform jobs wrote no output under {output_path}")
        return pa.concat_tables(tables)
