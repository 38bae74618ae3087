"""Retraining gate: a DriftDetected or ModelQualityDegraded event -> at most one
retraining per dataset per window; a retraining's approved ModelRegistered event -> the
batch that asked for it rescored (when the stage says so).

EventBridge rules on those events invoke this function; the decisions are
``gate.RetrainingGate``'s and ``rescoring.Rescoring``'s.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_runtime.cooldown import CooldownGuard
from driftline_runtime.events import ModelRegistered
from driftline_runtime.lineage import LineageStore
from driftline_runtime.observability import observability
from driftline_runtime.registry import ModelRegistry
from driftline_runtime.steps import step
from driftline_runtime.steps.retraining import RetrainingDecision, RetrainingGateInput
from gate import RetrainingGate, Services, Settings
from rescoring import RescoreDecision, RescoreInput, RescoreSettings, Rescoring

OBS = observability("retraining_gate")
SETTINGS = Settings.from_environ()
DYNAMODB = boto3.resource("dynamodb")
GATE = RetrainingGate(
    SETTINGS,
    Services(
        guard=CooldownGuard(DYNAMODB.Table(SETTINGS.cooldown_table)),
        lineage=LineageStore(DYNAMODB.Table(SETTINGS.lineage_table)),
        sfn=boto3.client("stepfunctions"),
        events=boto3.client("events"),
        registry=ModelRegistry(boto3.client("sagemaker")),
    ),
)
RESCORING = Rescoring(
    RescoreSettings(
        enabled=SETTINGS.rescore_trigger_batch,
        batch_inference_state_machine_arn=SETTINGS.batch_inference_state_machine_arn,
    ),
    GATE.services.sfn,
    GATE.services.guard,
)


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="id")
@OBS.tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("detail-type") == ModelRegistered.detail_type():
        return rescore(event, context)
    return decide(event, context)


@step(RetrainingGateInput, RetrainingDecision)
def decide(event: RetrainingGateInput, context: LambdaContext) -> RetrainingDecision:
    decision: RetrainingDecision = GATE.decide(event, now=datetime.now(UTC))
    OBS.logger.info("Retraining decided", extra=decision.model_dump(exclude_none=True))
    return decision


@step(RescoreInput, RescoreDecision)
def rescore(event: RescoreInput, context: LambdaContext) -> RescoreDecision:
    decision = RESCORING.rescore(event)
    OBS.logger.info("Rescoring decided", extra=decision.model_dump(exclude_none=True))
    return decision
