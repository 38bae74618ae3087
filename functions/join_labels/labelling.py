"""A validated labels file -> its join with the predictions, model quality, feedback.

For a labels version of dataset L (``labels_for`` an inference dataset I, scored by the
models of training dataset T):

1. the file's new labels (``joining.join``): ids repeated in the file, ids an earlier
   labels file labelled and ids no batch scored are reported in
   ``labels/<I>/<version>/report.json`` (predictions bucket); the accepted labels are the
   ledger's new page, ``labels/<I>/<version>/accepted.parquet``;
2. for every run of I that scored one of them, the model's quality on all of that run's
   labelled rows so far (late labels add up, none counts twice), written to
   ``quality/<I>/<batch version>/<run>.json``, recorded as CloudWatch metrics, and
   ``ModelQualityDegraded`` when the primary metric fell below the model's test metric
   by more than L's ``quality.max_drop`` with at least ``quality.min_labelled_rows``;
3. the labelled scored rows (the batch's features and the labels) dropped in the raw
   bucket as a training file of T (``T/feedback-<labels version>.parquet``), which
   ingestion validates like any other; its manifest beside the report names the batches
   and the labels file it came from.

Every step is idempotent: a redelivered event rewrites the same objects, and the
feedback file's content (hence its dataset version) is the same.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from aws_lambda_powertools.metrics import MetricUnit
from driftline_contracts import contract
from driftline_runtime import layout, names
from driftline_runtime.contracts import DatasetSpec
from driftline_runtime.events import DatasetValidated, ModelQualityDegraded, put_event
from driftline_runtime.objects import read_object
from driftline_runtime.observability import Observability
from driftline_runtime.quality import ModelQuality, allowed_worsening, is_degraded
from driftline_runtime.settings import FunctionSettings
from joining import ID, LABEL, Joined, ScoredRun, join, labelled_predictions, labels_table
from measuring import ModelFacts, measure_rows, prediction_columns


class Settings(FunctionSettings):
    curated_bucket: str
    predictions_bucket: str
    raw_bucket: str
    event_bus_name: str


@dataclass(frozen=True)
class Services:
    s3: Any
    sagemaker: Any
    events: Any
    obs: Observability


class NotALabelsDataset(ValueError):
    pass


def specs(dataset: str) -> tuple[DatasetSpec, DatasetSpec, DatasetSpec]:
    """The labels spec, the inference dataset it labels, the training dataset behind it."""
    labels = contract(dataset)
    if labels is None or labels.kind != "labels" or not labels.labels_for:
        raise NotALabelsDataset(f"{dataset!r} is not a declared labels dataset")
    scored = contract(labels.labels_for)
    if scored is None or not scored.model_dataset:
        raise NotALabelsDataset(f"{labels.labels_for!r} is not a declared inference dataset")
    training = contract(scored.model_dataset)
    if training is None or not training.target:
        raise NotALabelsDataset(f"{scored.model_dataset!r} is not a declared training dataset")
    return labels, scored, training


class LabelJoining:
    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.services = services

    # -- the whole step ------------------------------------------------------------------
    def process(self, event: DatasetValidated, now: datetime) -> dict[str, Any]:
        labels_spec, scored, training = specs(event.dataset)
        table = pq.read_table(io.BytesIO(read_object(self.services.s3, event.data_uri)))
        assert labels_spec.target is not None  # the spec's validator requires it
        labels = labels_table(table, labels_spec.id_column, labels_spec.target)
        runs = self.scored_runs(scored.name, scored.id_column)
        ledger = self.ledger(scored.name, exclude=event.version, label=labels.schema.field(LABEL))
        joined = join(
            dataset=scored.name,
            labels_dataset=event.dataset,
            labels_version=event.version,
            labels=labels,
            earlier_ids=set(ledger.column(ID).to_pylist()),
            runs=runs,
        )
        self.put_parquet(layout.labels_accepted_key(scored.name, event.version), joined.accepted)
        every_label = pa.concat_tables([ledger, joined.accepted])
        qualities = [
            self.quality(labels_spec, scored.name, training.name, run, every_label, now)
            for run in joined.touched
        ]
        feedback = self.feedback(event, scored, training, joined)
        report = {
            **joined.report.model_dump(mode="json"),
            "model_quality": [q.model_dump(mode="json") for q in qualities],
            "feedback": feedback,
            "time": now.isoformat(),
        }
        self.put_json(layout.labels_report_key(scored.name, event.version), report)
        self.services.obs.logger.info("Labels joined", extra={"report": joined.report.model_dump()})
        return report

    # -- reading -------------------------------------------------------------------------
    def scored_runs(self, dataset: str, id_column: str) -> list[ScoredRun]:
        """Every batch inference run of ``dataset``, from its predictions manifests."""
        s3, bucket = self.services.s3, self.settings.predictions_bucket
        runs = []
        for key in self.keys(bucket, f"{layout.PREDICTIONS_PREFIX}/{dataset}/", "manifest.json"):
            manifest = json.loads(read_object(s3, f"s3://{bucket}/{key}"))
            predictions = pq.read_table(io.BytesIO(read_object(s3, manifest["predictions_uri"])))
            runs.append(
                ScoredRun(
                    version=manifest["version"],
                    run=manifest["run"],
                    model_package_arn=manifest["model_package_arn"],
                    data_uri=manifest["data_uri"],
                    predictions=pa.table(
                        {
                            ID: pc.cast(predictions.column(id_column), pa.string()),
                            **{
                                column: predictions.column(column)
                                for column in prediction_columns(predictions, id_column)
                            },
                        }
                    ),
                )
            )
        return runs

    def ledger(self, dataset: str, *, exclude: str, label: pa.Field) -> pa.Table:
        """Every label accepted before, from other labels versions' pages (typed as
        ``label``, the labels contract's type)."""
        s3, bucket = self.services.s3, self.settings.predictions_bucket
        pages = [
            pq.read_table(io.BytesIO(read_object(s3, f"s3://{bucket}/{key}")))
            for key in self.keys(bucket, layout.labels_prefix(dataset), "accepted.parquet")
            if key != layout.labels_accepted_key(dataset, exclude)
        ]
        empty = pa.table({ID: pa.array([], pa.string()), LABEL: pa.array([], label.type)})
        return pa.concat_tables(
            [empty, *(p.select([ID, LABEL]) for p in pages)], promote_options="permissive"
        )

    def keys(self, bucket: str, prefix: str, name: str) -> list[str]:
        paginator = self.services.s3.get_paginator("list_objects_v2")
        return sorted(
            item["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
            for item in page.get("Contents", [])
            if item["Key"].endswith(f"/{name}")
        )

    # -- model quality -------------------------------------------------------------------
    def model_facts(self, model_package_arn: str) -> ModelFacts:
        """The model's problem, primary metric and its own test value of it."""
        described = self.services.sagemaker.describe_model_package(
            ModelPackageName=model_package_arn
        )
        return ModelFacts.of_package(described)

    def quality(
        self,
        spec: DatasetSpec,
        dataset: str,
        training_dataset: str,
        run: ScoredRun,
        labels: pa.Table,
        now: datetime,
    ) -> ModelQuality:
        rows = labelled_predictions(run, labels)
        facts = self.model_facts(run.model_package_arn)
        metrics, calibrated = measure_rows(
            facts.problem, rows, [c for c in run.predictions.column_names if c != ID]
        )
        reference, primary, direction = (
            facts.reference_metric,
            facts.primary_metric,
            facts.direction,
        )
        settings = spec.quality
        degraded = is_degraded(direction, metrics.get(primary), reference, rows.num_rows, settings)
        quality = ModelQuality(
            dataset=dataset,
            version=run.version,
            run=run.run,
            model_group=run.model_package_arn.rsplit("/", 2)[-2],
            model_version=run.model_version,
            model_package_arn=run.model_package_arn,
            labelled_rows=rows.num_rows,
            metrics=metrics,
            primary_metric=primary,
            reference_metric=reference,
            max_drop=allowed_worsening(direction, reference or 0.0, settings),
            direction=direction,
            problem=facts.problem,
            min_labelled_rows=settings.min_labelled_rows,
            degraded=degraded,
            calibration=calibrated,
            time=now.isoformat(),
        )
        self.put_json(
            layout.quality_key(quality.dataset, run.version, run.run),
            quality.model_dump(mode="json"),
        )
        self.record(quality)
        if degraded:
            put_event(
                self.services.events,
                self.settings.event_bus_name,
                ModelQualityDegraded(
                    dataset=quality.dataset,
                    version=quality.version,
                    training_dataset=training_dataset,
                    model_package_arn=run.model_package_arn,
                    labelled_rows=quality.labelled_rows,
                    metrics=metrics,
                    primary_metric=primary,
                    reference_metric=reference or 0.0,
                    quality_uri=f"s3://{self.settings.predictions_bucket}/"
                    + layout.quality_key(quality.dataset, run.version, run.run),
                ),
            )
        return quality

    def record(self, quality: ModelQuality) -> None:
        values = {
            name: (float(quality.metrics[measure_]), MetricUnit.NoUnit)
            for measure_, name in names.MODEL_QUALITY_METRICS.items()
            if measure_ in quality.metrics
        }
        if quality.primary_metric in quality.metrics:
            values[names.MODEL_QUALITY_PRIMARY_METRIC] = (
                float(quality.metrics[quality.primary_metric]),
                MetricUnit.NoUnit,
            )
        values[names.MODEL_QUALITY_DEGRADED_METRIC] = (float(quality.degraded), MetricUnit.Count)
        values[names.LABELLED_ROWS_METRIC] = (float(quality.labelled_rows), MetricUnit.Count)
        properties = {
            names.MODEL_VERSION_PROPERTY: quality.model_version,
            "dataset_version": quality.version,
        }
        self.services.obs.record(values, {names.DATASET_DIMENSION: quality.dataset}, properties)
        # The flag again, per measured model: a deployment's rollback alarm judges only
        # the model it rolls out, not whichever model scored the dataset's batches.
        self.services.obs.record(
            {names.MODEL_QUALITY_DEGRADED_METRIC: values[names.MODEL_QUALITY_DEGRADED_METRIC]},
            {
                names.MODEL_GROUP_DIMENSION: quality.model_group,
                names.MODEL_VERSION_DIMENSION: quality.model_version,
            },
            {names.DATASET_DIMENSION: quality.dataset, "dataset_version": quality.version},
        )

    # -- feedback ------------------------------------------------------------------------
    def feedback(
        self, event: DatasetValidated, scored: DatasetSpec, training: DatasetSpec, joined: Joined
    ) -> dict[str, Any] | None:
        """The labelled scored rows as a training file of the model dataset, in the raw
        bucket; None when the file labelled no scored row."""
        if not joined.touched:
            return None
        parts, versions = [], []
        for data_uri, version in sorted({(r.data_uri, r.version) for r in joined.touched}):
            batch = pq.read_table(io.BytesIO(read_object(self.services.s3, data_uri)))
            ids = pc.cast(batch.column(scored.id_column), pa.string())
            keyed = batch.append_column(ID, ids)
            rows = keyed.join(joined.accepted, keys=ID, join_type="inner")
            if rows.num_rows:
                parts.append(rows)
                versions.append(version)
        if not parts:
            return None
        rows = pa.concat_tables(parts, promote_options="permissive")
        assert training.target is not None
        rows = rows.append_column(training.target, rows.column(LABEL))
        columns = [c for c in training.columns if c in rows.column_names]
        rows = rows.sort_by([(ID, "ascending")]).select(columns)
        rows = first_of_each_id(rows, training.id_column)
        key = f"{training.name}/feedback-{event.version}.parquet"
        sink = io.BytesIO()
        pq.write_table(rows, sink, compression="zstd")
        self.services.s3.put_object(Bucket=self.settings.raw_bucket, Key=key, Body=sink.getvalue())
        lineage = {
            "training_dataset": training.name,
            "raw_uri": f"s3://{self.settings.raw_bucket}/{key}",
            "rows": rows.num_rows,
            "inference_dataset": scored.name,
            "inference_versions": sorted(set(versions)),
            "labels_dataset": event.dataset,
            "labels_version": event.version,
            "labels_source_key": event.source_key,
        }
        self.put_json(layout.feedback_manifest_key(scored.name, event.version), lineage)
        return lineage

    # -- writing -------------------------------------------------------------------------
    def put_json(self, key: str, document: dict[str, Any]) -> None:
        self.services.s3.put_object(
            Bucket=self.settings.predictions_bucket,
            Key=key,
            Body=json.dumps(document, indent=2).encode(),
            ContentType="application/json",
        )

    def put_parquet(self, key: str, table: pa.Table) -> None:
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="zstd")
        self.services.s3.put_object(
            Bucket=self.settings.predictions_bucket, Key=key, Body=sink.getvalue()
        )


def first_of_each_id(table: pa.Table, id_column: str) -> pa.Table:
    """One row per id (its first): an id scored in two batches gives one training row."""
    numbered = table.append_column("__row", pa.array(range(table.num_rows), pa.int64()))
    first = numbered.group_by(id_column).aggregate([("__row", "min")]).column("__row_min")
    return table.take(pc.take(first, pc.sort_indices(first)))
