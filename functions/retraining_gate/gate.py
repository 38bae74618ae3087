"""The retraining gate's decision: a DriftDetected or ModelQualityDegraded event -> at most
one retraining per window.

When the champion already learned from the newest validated version of the training
dataset, a retraining would only reproduce it: the request is recorded as waiting for
labels (``waiting#<event id>`` in the cooldown table, and ``RetrainingWaiting``), and the
next validated training version, labels fed back among them, starts a training run on
its window through the training rule. Otherwise it claims the training dataset's
cooldown (``driftline_runtime.cooldown``): the first drift of a window starts the training
state machine on the newest validated version of the training dataset, with the drift as
context; every later drift inside the window is recorded as suppressed (in the cooldown
table and as a ``RetrainingSuppressed`` event), not lost.

Redelivery is safe: the execution name derives from the event id, so a retried event
that already claimed the window starts the same execution again, which Step Functions
refuses as a duplicate (``ExecutionAlreadyExists``) and the gate treats as done.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from driftline_runtime import layout, names
from driftline_runtime.cooldown import CooldownGuard
from driftline_runtime.events import (
    DriftDetected,
    ModelQualityDegraded,
    RetrainingStarted,
    RetrainingSuppressed,
    RetrainingWaiting,
    put_event,
)
from driftline_runtime.lineage import LineageStore
from driftline_runtime.registry import ModelRegistry
from driftline_runtime.settings import FunctionSettings
from driftline_runtime.steps.retraining import RetrainingDecision, RetrainingGateInput
from driftline_runtime.steps.training import RetrainingTrigger, TrainingRequest
from pydantic import Field


class Settings(FunctionSettings):
    cooldown_table: str
    lineage_table: str
    training_state_machine_arn: str
    event_bus_name: str
    cooldown_minutes: int = Field(gt=0)
    model_package_group_prefix: str
    # Promotion (rescoring.py): rescore the batch that asked for an approved retraining.
    rescore_trigger_batch: bool = False
    batch_inference_state_machine_arn: str | None = None


@dataclass(frozen=True)
class Services:
    guard: CooldownGuard
    lineage: LineageStore
    sfn: Any
    events: Any
    registry: ModelRegistry


class NothingToRetrainOn(LookupError):
    pass


def rescored_run(execution: str | None) -> bool:
    """Whether a batch-inference execution rescored a batch for a new model."""
    return bool(execution) and str(execution).rsplit(":", 1)[-1].startswith(
        names.RESCORE_EXECUTION_PREFIX
    )


def execution_name(dataset: str, event_id: str) -> str:
    """``retrain-<dataset>-<event id>``, within Step Functions' 80 characters."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"retrain-{dataset}-{event_id}")[:80]


class RetrainingGate:
    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.services = services

    def decide(self, event: RetrainingGateInput, now: datetime) -> RetrainingDecision:
        drift = event.detail
        dataset = drift.training_dataset
        if isinstance(drift, DriftDetected) and rescored_run(drift.execution):
            return RetrainingDecision(
                started=False,
                until="",
                ignored="the drift of a rescored batch: its first run asked for a retraining",
            )
        if isinstance(drift, ModelQualityDegraded):
            trigger = RetrainingTrigger(
                event_id=event.id,
                dataset=drift.dataset,
                version=drift.version,
                model_package_arn=drift.model_package_arn,
                drifted_features=[],
                report_uri=drift.quality_uri,
                time=event.time.isoformat(),
                trigger="model_quality",
            )
        else:
            trigger = RetrainingTrigger(
                event_id=event.id,
                dataset=drift.dataset,
                version=drift.version,
                model_package_arn=drift.model_package_arn,
                drifted_features=drift.drifted_features,
                report_uri=drift.report_uri,
                time=event.time.isoformat(),
            )
        waiting = self.waiting_for_labels(dataset)
        if waiting is not None:
            newest, known = waiting
            self.services.guard.record_waiting(
                dataset, now, trigger.model_dump(mode="json"), trigger_id=event.id
            )
            put_event(
                self.services.events,
                self.settings.event_bus_name,
                RetrainingWaiting(
                    dataset=dataset,
                    trigger_dataset=drift.dataset,
                    trigger_version=drift.version,
                    trigger=trigger.model_dump(mode="json"),
                    newest_version=newest,
                    champion_versions=known,
                ),
            )
            return RetrainingDecision(started=False, until="", waiting_for_labels=True)
        claim = self.services.guard.claim(
            dataset,
            now,
            timedelta(minutes=self.settings.cooldown_minutes),
            trigger.model_dump(mode="json"),
            trigger_id=event.id,
        )
        until = claim.until.isoformat() if claim.until else ""
        bus = self.settings.event_bus_name
        if not claim.started:
            put_event(
                self.services.events,
                bus,
                RetrainingSuppressed(
                    dataset=dataset,
                    trigger_dataset=drift.dataset,
                    trigger_version=drift.version,
                    trigger=trigger.model_dump(mode="json"),
                    until=until,
                    suppressed_count=claim.suppressed_count,
                ),
            )
            return RetrainingDecision(
                started=False, until=until, suppressed_count=claim.suppressed_count
            )
        execution, version = self.start_retraining(dataset, trigger)
        put_event(
            self.services.events,
            bus,
            RetrainingStarted(
                dataset=dataset,
                version=version,
                trigger_dataset=drift.dataset,
                trigger_version=drift.version,
                execution_arn=execution,
                trigger=trigger.model_dump(mode="json"),
                until=until,
            ),
        )
        return RetrainingDecision(started=True, until=until, execution=execution)

    def waiting_for_labels(self, dataset: str) -> tuple[str, list[str]] | None:
        """(the newest version, the champion's versions) when the champion already learned
        from the newest validated version: a retraining would only reproduce it. None when
        there is something new (or no champion, or no version: the start then says so)."""
        latest = self.services.lineage.latest_validated(dataset)
        group = layout.model_group(self.settings.model_package_group_prefix, dataset)
        package = self.services.registry.newest_approved_package(group)
        if latest is None or package is None:
            return None
        metadata = package.get("CustomerMetadataProperties", {})
        listed = metadata.get(names.TRAINING_VERSIONS_METADATA_KEY, "")
        # A window too long for the metadata is named by its count; its newest version is
        # the one that started the run (dataset_version), which is what matters here.
        known = [] if listed.endswith(" versions") else [v for v in listed.split(",") if v]
        known = known or [metadata.get("dataset_version", "")]
        return (latest.version, known) if latest.version in known else None

    def start_retraining(self, dataset: str, trigger: RetrainingTrigger) -> tuple[str, str]:
        """Start (or find) this event's training execution; returns its ARN and version."""
        latest = self.services.lineage.latest_validated(dataset)
        if latest is None:
            raise NothingToRetrainOn(
                f"Drift asks to retrain on {dataset!r}, which has no validated version"
            )
        sfn, machine = self.services.sfn, self.settings.training_state_machine_arn
        name = execution_name(dataset, trigger.event_id)
        request = TrainingRequest(dataset=dataset, version=latest.version, retraining=trigger)
        try:
            response = sfn.start_execution(
                stateMachineArn=machine, name=name, input=request.model_dump_json()
            )
            return str(response["executionArn"]), latest.version
        except sfn.exceptions.ExecutionAlreadyExists:
            # This event started it before (a redelivery): the work is done.
            arn = f"{machine.replace(':stateMachine:', ':execution:')}:{name}"
            started = TrainingRequest.model_validate_json(
                sfn.describe_execution(executionArn=arn)["input"]
            )
            return arn, started.version
