"""Drift monitoring: a scored batch against its model's training baseline.

Tests every feature of the dataset version (KS on numeric values, chi-square on
categories) and the distribution of the predictions against the baseline the training
job saved, all together within the dataset's false-alarm budget, with PSI as the effect
size (``driftline_runtime.drift``; the settings are the dataset spec's ``drift``, read
through the contract catalog). Writes the whole report (the numbers ``driftline report``
plots) to the predictions bucket, emits one ``DriftScore`` metric (PSI) per feature,
and — when the batch drifted — puts ``DriftDetected`` on the project bus, which the
retraining rule acts on. A batch below the spec's ``min_rows`` gets the outcome
``insufficient_rows``: no verdict.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from aws_lambda_powertools.metrics import MetricUnit
from driftline_contracts import contract
from driftline_runtime import layout, names
from driftline_runtime.baseline import Baseline
from driftline_runtime.contracts import DriftSettings
from driftline_runtime.drift import DriftReport, drift_report
from driftline_runtime.events import DriftDetected, put_event
from driftline_runtime.objects import read_object
from driftline_runtime.observability import Observability
from driftline_runtime.settings import FunctionSettings
from driftline_runtime.steps.batch_inference import (
    DriftOutcome,
    DriftReportDocument,
    MonitorDriftInput,
)


def predicted(scored: pa.Table, problem: str) -> Any:
    """The predictions' drift column: numbers (binary, regression) or class labels."""
    column = scored.column(names.drift_column(problem))
    return column if problem == "multiclass" else column.to_numpy()


class Settings(FunctionSettings):
    predictions_bucket: str
    event_bus_name: str


@dataclass(frozen=True)
class Services:
    s3: Any
    events: Any
    obs: Observability


class UndeclaredDataset(ValueError):
    """The scored dataset has no spec, so there are no drift settings to judge it by."""


def scores(report: DriftReport) -> dict[str, float]:
    return {drift.feature: round(drift.score, 6) for drift in report.judged}


class DriftMonitor:
    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.services = services

    @staticmethod
    def settings_for(dataset: str) -> DriftSettings:
        """The dataset spec's drift settings; imports only that dataset's contract module
        (PrepareInference loaded it already in this run)."""
        spec = contract(dataset)
        if spec is None:
            raise UndeclaredDataset(
                f"{dataset!r} is not a declared dataset: no drift settings to judge by"
            )
        return spec.drift

    def measure(self, request: MonitorDriftInput, now: datetime) -> DriftOutcome:
        resolved, predictions = request.resolved, request.predictions
        dataset, version, run = resolved.dataset, resolved.version, resolved.run
        settings = self.settings_for(dataset)
        s3 = self.services.s3
        baseline = Baseline.model_validate_json(read_object(s3, resolved.baseline_uri))
        table = pq.read_table(io.BytesIO(read_object(s3, resolved.data_uri)))
        scored = pq.read_table(io.BytesIO(read_object(s3, predictions.predictions_uri)))
        report = drift_report(
            baseline,
            table,
            predicted(scored, baseline.problem),
            settings,
        )
        feature_scores = scores(report)
        key = layout.drift_report_key(dataset, version, run)
        report_uri = f"s3://{self.settings.predictions_bucket}/{key}"
        document = DriftReportDocument(
            dataset=dataset,
            version=version,
            run=run,
            time=now,
            training_dataset=resolved.training_dataset,
            model_package_arn=resolved.model_package_arn,
            baseline_uri=resolved.baseline_uri,
            predictions_uri=predictions.predictions_uri,
            execution=request.execution,
            report_uri=report_uri,
            outcome=report.outcome,
            scores=feature_scores,
            report=report,
        )
        s3.put_object(
            Bucket=self.settings.predictions_bucket,
            Key=key,
            Body=document.model_dump_json(indent=2).encode(),
            ContentType="application/json",
        )
        self.emit_metrics(dataset, version, feature_scores, report.drifted)
        if report.drifted:
            put_event(
                self.services.events,
                self.settings.event_bus_name,
                DriftDetected(
                    dataset=dataset,
                    version=version,
                    training_dataset=resolved.training_dataset,
                    model_package_arn=resolved.model_package_arn,
                    scores=feature_scores,
                    drifted_features=report.drifted_features,
                    report_uri=report_uri,
                    execution=request.execution,
                ),
            )
        return DriftOutcome(
            drifted=report.drifted,
            outcome=report.outcome,
            rows=report.rows,
            min_rows=settings.min_rows,
            drifted_features=report.drifted_features,
            report_uri=report_uri,
        )

    def emit_metrics(
        self, dataset: str, version: str, scores: dict[str, float], drifted: bool
    ) -> None:
        """DriftScore per feature and DriftDetected per dataset (the dashboard plots both)."""
        obs = self.services.obs
        for feature, score in scores.items():
            obs.record(
                {names.DRIFT_SCORE_METRIC: (score, MetricUnit.NoUnit)},
                {names.DATASET_DIMENSION: dataset, names.FEATURE_DIMENSION: feature},
                {"version": version},
            )
        obs.record(
            {names.DRIFT_DETECTED_METRIC: (float(drifted), MetricUnit.Count)},
            {names.DATASET_DIMENSION: dataset},
            {"version": version},
        )
