"""Retraining gate: a DriftDetected event -> at most one retraining per dataset per window.

The EventBridge rule on ``DriftDetected`` invokes this function; the decision is
``gate.RetrainingGate``'s.
"""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_runtime.cooldown import CooldownGuard
from driftline_runtime.lineage import LineageStore
from driftline_runtime.observability import observability
from driftline_runtime.registry import ModelRegistry
from driftline_runtime.steps import step
from driftline_runtime.steps.retraining import RetrainingDecision, RetrainingGateInput
from gate import RetrainingGate, Services, Settings

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


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="id")
@OBS.tracer.capture_lambda_handler
@step(RetrainingGateInput, RetrainingDecision)
def handler(event: RetrainingGateInput, context: LambdaContext) -> RetrainingDecision:
    decision: RetrainingDecision = GATE.decide(event, now=datetime.now(UTC))
    OBS.logger.info("Retraining decided", extra=decision.model_dump(exclude_none=True))
    return decision
