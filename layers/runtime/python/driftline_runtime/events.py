"""The events driftline puts on its bus: one pydantic model per ``detail-type``.

Every event's ``source`` is ``driftline.<component>`` and its ``detail-type`` is the
model's class name, so an EventBridge rule matches on those two fields and consumers
parse ``detail`` with the same model.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class DriftlineEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def detail_type(cls) -> str:
        return cls.__name__


class DatasetEvent(DriftlineEvent):
    dataset: str
    kind: Literal["training", "inference"] | None
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
    reasons: list[str]
    quarantine_uri: str


class ModelOutcome(DriftlineEvent):
    """What the training state machine announces (its ASL builds the detail)."""

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
    execution: str
    error: str
    cause: str


class EventPublishError(RuntimeError):
    pass


def put_event(client: Any, bus_name: str, component: str, event: DriftlineEvent) -> None:
    """Put one event; a partial failure raises instead of being ignored."""
    response = client.put_events(
        Entries=[
            {
                "EventBusName": bus_name,
                "Source": f"driftline.{component}",
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
