"""The events driftline puts on its bus: one pydantic model per ``detail-type``.

Every event's ``source`` is ``driftline.<component>`` (its model's ``SOURCE``, from
``driftline_runtime.names``) and its ``detail-type`` is the model's class name, so an
EventBridge rule matches on those two fields (:meth:`DriftlineEvent.pattern`) and
consumers parse ``detail`` with the same model.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from driftline_runtime import names
from driftline_runtime.reasons import Reason, summary


class DriftlineEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # The component that puts it, as ``driftline.<component>``.
    SOURCE: ClassVar[str]

    @classmethod
    def detail_type(cls) -> str:
        return cls.__name__

    @classmethod
    def pattern(cls) -> dict[str, list[str]]:
        """The ``source`` and ``detail-type`` an EventBridge rule matches this event by."""
        return {"source": [cls.SOURCE], "detail-type": [cls.detail_type()]}


class DatasetEvent(DriftlineEvent):
    SOURCE = names.INGEST_SOURCE

    dataset: str
    kind: Literal["training", "inference", "labels"] | None
    version: str
    contract_version: str | None
    source_bucket: str
    source_key: str
    source_version_id: str | None
    report_uri: str


class DatasetValidated(DatasetEvent):
    data_uri: str
    manifest_uri: str
    rows: int
    dropped_rows: int


class DatasetRejected(DatasetEvent):
    reasons: list[Reason]
    quarantine_uri: str
    # The reasons' text form on one line, for readers that cannot format them (a
    # notification's input transformer); derived from ``reasons``, never given.
    summary: str = ""

    @model_validator(mode="before")
    @classmethod
    def _summarised(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("summary"):
            reasons = [Reason.model_validate(reason) for reason in data.get("reasons") or []]
            return {**data, "summary": summary(reasons)}
        return data


class ValidationFailed(DriftlineEvent):
    """A large file's Processing job failed, and so did quarantining the file after it:
    the object is still in the raw bucket, nothing else records it."""

    SOURCE = names.INGEST_SOURCE

    dataset: str
    source_bucket: str
    source_key: str
    source_version_id: str | None
    job_name: str
    execution: str
    error: str
    cause: str


class ModelOutcome(DriftlineEvent):
    """What the training state machine announces (its ASL builds the detail)."""

    SOURCE = names.TRAINING_SOURCE
    dataset: str
    version: str
    model_package_arn: str
    status: Literal["Approved", "Rejected", "PendingManualApproval"]
    reason: str
    metrics: dict[str, float]
    training_job: str
    execution: str


class ModelRegistered(ModelOutcome):
    model_arn: str


class ModelRejected(ModelOutcome):
    pass


class TrainingFailed(DriftlineEvent):
    SOURCE = names.TRAINING_SOURCE

    execution: str
    error: str
    cause: str


class InferenceCompleted(DriftlineEvent):
    """A batch inference run scored every row of a dataset version."""

    SOURCE = names.INFERENCE_SOURCE

    dataset: str
    version: str
    model_package_arn: str
    predictions_uri: str
    rows: int
    transform_jobs: list[str]
    drifted: bool
    drift_report_uri: str
    execution: str


class InferenceFailed(DriftlineEvent):
    """A batch inference run stopped; ``error``/``cause`` say where and why."""

    SOURCE = names.INFERENCE_SOURCE

    dataset: str
    execution: str
    error: str
    cause: str
    input: dict[str, Any]


class DriftDetected(DriftlineEvent):
    """A scored batch drifted from its model's training baseline.

    ``scores`` holds every feature's drift score (PSI; the prediction as
    ``__prediction__``); ``drifted_features`` those above their threshold.
    """

    SOURCE = names.MONITOR_SOURCE

    dataset: str
    version: str
    training_dataset: str
    model_package_arn: str
    scores: dict[str, float]
    drifted_features: list[str]
    report_uri: str
    execution: str | None = None


class ModelQualityDegraded(DriftlineEvent):
    """Labels showed a deployed model doing worse than its test metric by more than the
    labels dataset's ``quality.max_drop``, on at least ``quality.min_labelled_rows``."""

    SOURCE = names.QUALITY_SOURCE

    dataset: str  # the inference dataset
    version: str  # the scored batch
    training_dataset: str
    model_package_arn: str
    labelled_rows: int
    metrics: dict[str, float]
    primary_metric: str
    reference_metric: float
    quality_uri: str


class RetrainingStarted(DriftlineEvent):
    """Drift started a training execution.

    ``dataset``/``version`` are what is retrained on; ``trigger_*`` the drifted batch.
    """

    SOURCE = names.RETRAINING_SOURCE

    dataset: str
    version: str
    trigger_dataset: str
    trigger_version: str
    execution_arn: str
    trigger: dict[str, Any]
    until: str


class RetrainingWaiting(DriftlineEvent):
    """Drift (or degraded quality) asked for a retraining, but no labelled data is newer
    than the champion's: retraining would reproduce the champion. Recorded; the next
    validated training version (labels fed back among them) starts a training run."""

    SOURCE = names.RETRAINING_SOURCE

    dataset: str
    trigger_dataset: str
    trigger_version: str
    trigger: dict[str, Any]
    newest_version: str
    champion_versions: list[str]


class RetrainingSuppressed(DriftlineEvent):
    """Drift arrived inside the dataset's cooldown window: recorded, nothing started."""

    SOURCE = names.RETRAINING_SOURCE

    dataset: str
    trigger_dataset: str
    trigger_version: str
    trigger: dict[str, Any]
    until: str
    suppressed_count: int


class EndpointEvent(DriftlineEvent):
    """What the deployment state machine announces about a dataset's endpoint (its ASL
    builds the detail): the model it deployed and the endpoint config that carries it."""

    SOURCE = names.DEPLOYMENT_SOURCE

    dataset: str
    endpoint: str
    endpoint_config: str
    model_package_arn: str
    model_version: str
    execution: str


class EndpointDeployed(EndpointEvent):
    """The endpoint serves the model: all traffic moved to it and no alarm tripped."""


class EndpointRolledBack(EndpointEvent):
    """An alarm tripped (or the new fleet failed to start) while the model took traffic:
    the endpoint serves the model it served before. ``reason`` is SageMaker's."""

    reason: str


class EndpointDeploymentFailed(DriftlineEvent):
    """The deployment stopped before SageMaker could roll anything back (a refused
    request, a new endpoint that failed to start); ``error``/``cause`` say where and why."""

    SOURCE = names.DEPLOYMENT_SOURCE

    dataset: str
    model_package_arn: str
    execution: str
    error: str
    cause: str


class EventEnvelope[E: DriftlineEvent](BaseModel):
    """An event as EventBridge delivers it to a target (a function, a state machine);
    fields EventBridge may add (``replay-name`` on a replayed event) are kept."""

    model_config = ConfigDict(frozen=True, extra="allow", populate_by_name=True)

    version: str
    id: str
    detail_type: str = Field(alias="detail-type")
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail: E


class EventPublishError(RuntimeError):
    pass


def put_event(client: Any, bus_name: str, event: DriftlineEvent) -> None:
    """Put one event; a partial failure raises instead of being ignored."""
    response = client.put_events(
        Entries=[
            {
                "EventBusName": bus_name,
                "Source": event.SOURCE,
                "DetailType": event.detail_type(),
                "Detail": event.model_dump_json(),
            }
        ]
    )
    if response.get("FailedEntryCount"):
        entry = response["Entries"][0]
        raise EventPublishError(
            f"{event.detail_type()} was not accepted by {bus_name}: "
            f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}"
        )
