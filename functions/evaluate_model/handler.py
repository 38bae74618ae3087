"""Evaluate: the trained challenger against the approved champion of its dataset.

The metrics come from the training job itself (measured on the held-out test split and
reported through the job's metric definitions), so evaluation needs no copy of the
model here; the decision is ``driftline_runtime.approval.decide``.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from driftline_runtime import layout
from driftline_runtime.approval import ApprovalPolicy, decide
from driftline_runtime.observability import observability
from driftline_runtime.registry import ModelRegistry
from driftline_runtime.settings import FunctionSettings
from pydantic import Json


class Settings(FunctionSettings):
    model_package_group_prefix: str
    approval_policy: Json[ApprovalPolicy]


SETTINGS = Settings.from_environ()
OBS = observability("evaluate_model")
REGISTRY = ModelRegistry(boto3.client("sagemaker"))


def group_name(dataset: str) -> str:
    return layout.model_group(SETTINGS.model_package_group_prefix, dataset)


@OBS.logger.inject_lambda_context(log_event=True, correlation_id_path="execution")
@OBS.tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    dataset = event["dataset"]
    # A job whose output matched no metric regex has no FinalMetricDataList at all;
    # decide() then fails with MissingMetric, which the state machine catches.
    reported = event["training"].get("FinalMetricDataList", [])
    metrics = {m["MetricName"]: float(m["Value"]) for m in reported}
    group = group_name(dataset)
    REGISTRY.ensure_group(group, f"Models trained on the {dataset} dataset")
    champion = REGISTRY.champion(group, SETTINGS.approval_policy.primary_metric)
    decision = decide(SETTINGS.approval_policy, metrics, champion)
    OBS.logger.info("Evaluated", extra={"decision": decision.model_dump()})
    return {"group": group, "metrics": metrics, **decision.model_dump(mode="json")}
