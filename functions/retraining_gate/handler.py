"""Retraining gate: a DriftDetected event -> at most one retraining per dataset per window.

The EventBridge rule on ``DriftDetected`` invokes this function. It claims the training
dataset's cooldown (``driftline_runtime.cooldown``): the first drift of a window starts
the training state machine on the newest validated version of the training dataset, with
the drift as context; every later drift inside the window is recorded as suppressed (in
the cooldown table and as a ``RetrainingSuppressed`` event), not lost.

Redelivery is safe: the execution name derives from the event id, so a retried event
that already claimed the window starts the same execution again, which Step Functions
refuses as a duplicate (``ExecutionAlreadyExists``) and the gate treats as done.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_runtime.cooldown import CooldownGuard
from driftline_runtime.events import (
    DriftDetected,
    RetrainingStarted,
    RetrainingSuppressed,
    put_event,
)
from driftline_runtime.lineage import LineageStore
from driftline_runtime.observability import observability
from driftline_runtime.settings import FunctionSettings
from pydantic import Field


class Settings(FunctionSettings):
    cooldown_table: str
    lineage_table: str
    training_state_machine_arn: str
    event_bus_name: str
    cooldown_minutes: int = Field(gt=0)


SETTINGS = Settings.from_environ()
OBS = observability("retraining_gate")
DYNAMODB = boto3.resource("dynamodb")
GUARD = CooldownGuard(DYNAMODB.Table(SETTINGS.cooldown_table))
LINEAGE = LineageStore(DYNAMODB.Table(SETTINGS.lineage_table))
SFN = boto3.client("stepfunctions")
EVENTS = boto3.client("events")


class NothingToRetrainOn(LookupError):
    pass


def execution_name(dataset: str, event_id: str) -> str:
    """``retrain-<dataset>-<event id>``, within Step Functions' 80 characters."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", f"retrain-{dataset}-{event_id}")[:80]


def start_retraining(dataset: str, event_id: str, trigger: dict[str, Any]) -> tuple[str, str]:
    """Start (or find) this event's training execution; returns its ARN and version."""
    latest = LINEAGE.latest_validated(dataset)
    if latest is None:
        raise NothingToRetrainOn(
            f"Drift asks to retrain on {dataset!r}, which has no validated version"
        )
    name = execution_name(dataset, event_id)
    request = {"dataset": dataset, "version": latest.version, "retraining": trigger}
    try:
        response = SFN.start_execution(
            stateMachineArn=SETTINGS.training_state_machine_arn,
            name=name,
            input=json.dumps(request),
        )
        return str(response["executionArn"]), latest.version
    except SFN.exceptions.ExecutionAlreadyExists:
        # This event started it before (a redelivery): the work is done.
        machine = SETTINGS.training_state_machine_arn.replace(":stateMachine:", ":execution:")
        arn = f"{machine}:{name}"
        started = json.loads(SFN.describe_execution(executionArn=arn)["input"])
        return arn, str(started["version"])


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="id")
@OBS.tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    drift = DriftDetected.model_validate(event["detail"])
    event_id = str(event["id"])
    dataset = drift.training_dataset
    trigger = {
        "event_id": event_id,
        "dataset": drift.dataset,
        "version": drift.version,
        "model_package_arn": drift.model_package_arn,
        "drifted_features": drift.drifted_features,
        "report_uri": drift.report_uri,
        "time": str(event.get("time", "")),
    }
    claim = GUARD.claim(
        dataset,
        datetime.now(UTC),
        timedelta(minutes=SETTINGS.cooldown_minutes),
        trigger,
        trigger_id=event_id,
    )
    until = claim.until.isoformat() if claim.until else ""
    if not claim.started:
        put_event(
            EVENTS,
            SETTINGS.event_bus_name,
            RetrainingSuppressed(
                dataset=dataset,
                trigger_dataset=drift.dataset,
                trigger_version=drift.version,
                trigger=trigger,
                until=until,
                suppressed_count=claim.suppressed_count,
            ),
        )
        OBS.logger.info("Retraining suppressed", extra={"until": until})
        return {"started": False, "until": until, "suppressed_count": claim.suppressed_count}
    execution, version = start_retraining(dataset, event_id, trigger)
    put_event(
        EVENTS,
        SETTINGS.event_bus_name,
        RetrainingStarted(
            dataset=dataset,
            version=version,
            trigger_dataset=drift.dataset,
            trigger_version=drift.version,
            execution_arn=execution,
            trigger=trigger,
            until=until,
        ),
    )
    OBS.logger.info("Retraining started", extra={"execution": execution})
    return {"started": True, "execution": execution, "until": until}
