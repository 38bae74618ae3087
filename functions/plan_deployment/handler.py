"""Plan a deployment: an approved model -> the requests that put it on its endpoint.

Started by the deployment state machine with its execution input; the work is
``planning.DeploymentPlanner``'s.
"""

from __future__ import annotations

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_contracts import contract
from driftline_runtime.observability import observability
from driftline_runtime.steps import step
from driftline_runtime.steps.deployment import DeploymentPlan, DeploymentRequest
from planning import (
    DeploymentPlanner,
    Services,
    Settings,
    endpoint,
    model_exists,
    model_package,
)
from quality_guard import alarm_names

OBS = observability("plan_deployment")
SAGEMAKER = boto3.client("sagemaker")
PLANNER = DeploymentPlanner(
    Settings.from_environ(),
    Services(
        contract=contract,
        endpoint=endpoint(SAGEMAKER),
        model_package=model_package(SAGEMAKER),
        model_exists=model_exists(SAGEMAKER),
        alarm_names=alarm_names(boto3.client("cloudwatch")),
    ),
)


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="execution")
@OBS.tracer.capture_lambda_handler
@step(DeploymentRequest, DeploymentPlan)
def handler(event: DeploymentRequest, context: LambdaContext) -> DeploymentPlan:
    plan: DeploymentPlan = PLANNER.plan(event)
    OBS.logger.info(
        "Deployment planned",
        extra={"action": plan.action, "reason": plan.reason, "trigger": event.trigger},
    )
    return plan
