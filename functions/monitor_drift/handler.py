"""Drift monitor: a scored batch against its model's training baseline.

Compares every feature of the dataset version (PSI on numeric features binned at the
training quantiles; PSI and chi-square on categorical ones) and the distribution of the
predictions with the baseline the training job saved (``driftline_runtime.drift``).
Writes the whole report (the numbers ``driftline report`` plots) to the predictions
bucket, emits one ``DriftScore`` metric per feature, and — above the dataset's
thresholds — puts ``DriftDetected`` on the project bus, which the retraining rule acts on.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pyarrow.parquet as pq
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_runtime import layout, names
from driftline_runtime.drift import DriftReport, DriftThresholds, drift_report
from driftline_runtime.events import DriftDetected, put_event
from driftline_runtime.objects import read_object
from driftline_runtime.observability import observability
from driftline_runtime.settings import FunctionSettings
from pydantic import Json

DEFAULT_THRESHOLDS = "default"


class Settings(FunctionSettings):
    predictions_bucket: str
    event_bus_name: str
    # {"default": {...}, "<dataset>": {...}}: PSI thresholds per feature kind.
    drift_thresholds: Json[dict[str, DriftThresholds]]


SETTINGS = Settings.from_environ()
OBS = observability("monitor_drift")
S3 = boto3.client("s3")
EVENTS = boto3.client("events")


def thresholds_for(dataset: str) -> DriftThresholds:
    configured = SETTINGS.drift_thresholds
    return configured.get(dataset) or configured.get(DEFAULT_THRESHOLDS) or DriftThresholds()


def scores(report: DriftReport) -> dict[str, float]:
    judged = [*report.features, *([report.prediction] if report.prediction else [])]
    return {drift.feature: round(drift.score, 6) for drift in judged}


def emit_metrics(dataset: str, version: str, scores: dict[str, float], drifted: bool) -> None:
    """DriftScore per feature and DriftDetected per dataset (the dashboard plots both)."""
    for feature, score in scores.items():
        OBS.record(
            {names.DRIFT_SCORE_METRIC: (score, MetricUnit.NoUnit)},
            {names.DATASET_DIMENSION: dataset, names.FEATURE_DIMENSION: feature},
            {"version": version},
        )
    OBS.record(
        {names.DRIFT_DETECTED_METRIC: (float(drifted), MetricUnit.Count)},
        {names.DATASET_DIMENSION: dataset},
        {"version": version},
    )


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="execution")
@OBS.tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    resolved, predictions = event["resolved"], event["predictions"]
    dataset, version, run = resolved["dataset"], resolved["version"], resolved["run"]
    baseline = json.loads(read_object(S3, resolved["baseline_uri"]))
    table = pq.read_table(io.BytesIO(read_object(S3, resolved["data_uri"])))
    scored = pq.read_table(io.BytesIO(read_object(S3, predictions["predictions_uri"])))
    report = drift_report(
        baseline, table, scored.column(names.PROBABILITY_COLUMN).to_numpy(), thresholds_for(dataset)
    )
    feature_scores = scores(report)
    key = layout.drift_report_key(dataset, version, run)
    report_uri = f"s3://{SETTINGS.predictions_bucket}/{key}"
    document = {
        "dataset": dataset,
        "version": version,
        "run": run,
        "time": datetime.now(UTC).isoformat(),
        "training_dataset": resolved["training_dataset"],
        "model_package_arn": resolved["model_package_arn"],
        "baseline_uri": resolved["baseline_uri"],
        "predictions_uri": predictions["predictions_uri"],
        "execution": event.get("execution"),
        "report_uri": report_uri,
        "scores": feature_scores,
        "report": report.model_dump(mode="json"),
    }
    S3.put_object(
        Bucket=SETTINGS.predictions_bucket,
        Key=key,
        Body=json.dumps(document, indent=2).encode(),
        ContentType="application/json",
    )
    emit_metrics(dataset, version, feature_scores, report.drifted)
    if report.drifted:
        put_event(
            EVENTS,
            SETTINGS.event_bus_name,
            DriftDetected(
                dataset=dataset,
                version=version,
                training_dataset=resolved["training_dataset"],
                model_package_arn=resolved["model_package_arn"],
                scores=feature_scores,
                drifted_features=report.drifted_features,
                report_uri=report_uri,
                execution=event.get("execution"),
            ),
        )
    OBS.logger.info(
        "Drift measured",
        extra={"drifted": report.drifted, "drifted_features": report.drifted_features},
    )
    return {
        "drifted": report.drifted,
        "drifted_features": report.drifted_features,
        "report_uri": report_uri,
    }
