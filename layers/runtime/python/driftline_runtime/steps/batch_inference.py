"""The batch inference state machine's steps (``state_machines/batch_inference.asl.json``).

    execution input: InferenceRequest (the rule, a schedule or ``driftline infer``)
    Resolve          ResolveInferenceInput  -> ResolvedInference   at $.resolved.result
    CreateModel      ResolvedInference.model -> CreatedModel       at $.model
    Score (Map)      one TransformJobResult per input part, written to S3 by its
                     ResultWriter; MapRunResults (where they are)  at $.scored
    WritePredictions WritePredictionsInput  -> WrittenPredictions  at $.predictions.result
    MonitorDrift     MonitorDriftInput      -> DriftOutcome        at $.drift.result
    Publish*         InferenceCompleted | InferenceFailed (driftline_runtime.events)

The drift monitor also writes a :class:`DriftReportDocument` per run, which
``driftline status`` and ``driftline report`` read.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from driftline_runtime import names
from driftline_runtime.drift import DriftReport, Outcome
from driftline_runtime.events import DatasetValidated, EventEnvelope
from driftline_runtime.steps import AwsAnswer as AwsAnswerModel
from driftline_runtime.steps import (
    CreatedModel,
    CreateModelRequest,
    LambdaResult,
    StepError,
    StepModel,
)


# -- the execution's input --------------------------------------------------------------
class InferenceRequest(StepModel):
    """What to score: a version of an inference dataset, or (scheduled) its newest one."""

    dataset: str
    version: str | None = None
    scheduled: bool = False

    @classmethod
    def from_execution_input(cls, value: Any) -> InferenceRequest:
        """The request itself, or a DatasetValidated event delivered whole."""
        return InferenceTrigger.model_validate({"request": value}).inference_request


class InferenceTrigger(StepModel):
    """The execution input as Resolve receives it: a request, or an EventBridge event."""

    request: InferenceRequest | EventEnvelope[DatasetValidated]

    @property
    def inference_request(self) -> InferenceRequest:
        if isinstance(self.request, InferenceRequest):
            return self.request
        event = self.request.detail
        return InferenceRequest(dataset=event.dataset, version=event.version)


# -- Resolve ----------------------------------------------------------------------------
class ResolveInferenceInput(InferenceTrigger):
    execution: str


class TransformInputLocation(StepModel):
    """The run's transform input parts: the Distributed Map lists this prefix."""

    bucket: str
    prefix: str
    # Where the Map's ResultWriter puts the parts' results (see MapRunResults).
    results_prefix: str


class TransformSettings(StepModel):
    """What every transform job of the run shares (the Map's ItemSelector passes it on)."""

    job_prefix: str
    output_path: str
    instance_type: str
    kms_key: str
    max_payload_mb: int = Field(ge=1, le=100)
    max_concurrency: int = Field(ge=1, le=1000)


class ResolvedInference(StepModel):
    dataset: str
    version: str
    training_dataset: str = Field(description="whose approved models score this dataset")
    run: str
    rows: int = Field(ge=1)
    parts: int = Field(ge=1)
    id_column: str
    data_uri: str
    manifest_uri: str
    model_package_arn: str
    baseline_uri: str
    # The columns each prediction has after the id (names.prediction_columns of the
    # model's problem); absent in runs resolved before problem types: a binary model's.
    prediction_columns: list[str] = Field(default_factory=lambda: [names.PROBABILITY_COLUMN])
    # What the CreateModel state creates for this run.
    model: CreateModelRequest
    input: TransformInputLocation
    transform: TransformSettings


# -- Score (a Distributed Map of sagemaker:createTransformJob.sync) ---------------------
class TransformJobResult(StepModel):
    """One part's outcome: the job's ResultSelector, or the Pass state its Catch leads to."""

    job: str
    status: str
    error: str | None = None
    cause: str | None = None

    @property
    def completed(self) -> bool:
        return self.status == "Completed"

    @property
    def failure_reason(self) -> str:
        """SageMaker's FailureReason out of a failed ``.sync`` task's cause, else the error."""
        try:
            cause = json.loads(self.cause or "{}")
        except json.JSONDecodeError:
            return str(self.cause or self.error or "unknown")
        reason = cause.get("FailureReason") if isinstance(cause, dict) else None
        return str(reason or self.error or "unknown")


# -- WritePredictions -------------------------------------------------------------------
class ResultWriterDetails(AwsAnswerModel):
    Bucket: str
    Key: str = Field(description="the map run's manifest.json")


class MapRunResults(AwsAnswerModel):
    """What a Distributed Map with a ResultWriter leaves in the state data: not the parts'
    results (a few hundred failed parts would pass Step Functions' 256 KiB limit, an
    error no Catch can handle), but where it wrote them."""

    MapRunArn: str
    ResultWriterDetails: ResultWriterDetails


class WritePredictionsInput(StepModel):
    resolved: ResolvedInference
    results: MapRunResults
    execution: str


class WrittenPredictions(StepModel):
    predictions_uri: str
    rows: int = Field(ge=0)
    transform_jobs: list[str]


# -- MonitorDrift -----------------------------------------------------------------------
class MonitorDriftInput(StepModel):
    resolved: ResolvedInference
    predictions: WrittenPredictions
    execution: str


class DriftOutcome(StepModel):
    """The batch's verdict. ``outcome`` is ``insufficient_rows`` (and ``drifted`` false)
    when the batch has fewer than ``min_rows`` rows; runs from before calibrated
    verdicts carry no ``outcome``, ``rows`` or ``min_rows``."""

    drifted: bool
    outcome: Outcome | None = None
    rows: int | None = Field(default=None, ge=0, description="rows in the scored batch")
    min_rows: int | None = Field(default=None, ge=1, description="the fewest a verdict needs")
    drifted_features: list[str]
    report_uri: str


class DriftReportDocument(BaseModel):
    """What the drift monitor writes per run (``layout.drift_report_key``)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    dataset: str
    version: str
    run: str | None = None
    time: datetime
    training_dataset: str | None = None
    model_package_arn: str | None
    baseline_uri: str | None = None
    predictions_uri: str | None = None
    execution: str | None = None
    report_uri: str
    outcome: Outcome | None = None
    scores: dict[str, float] = {}
    report: DriftReport


# -- the state data ---------------------------------------------------------------------
class BatchInferenceState(BaseModel):
    """The state data once the machine stops: the execution input's own keys, then what
    each step added (absent when it did not run; ``error`` when a step failed)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    resolved: LambdaResult[ResolvedInference] | None = None
    model: CreatedModel | None = None
    scored: MapRunResults | None = None
    predictions: LambdaResult[WrittenPredictions] | None = None
    drift: LambdaResult[DriftOutcome] | None = None
    error: StepError | None = None
