"""A deployment's model-quality guard: an alarm on the measured quality of the model it
rolls out, and no other.

The join-labels function records ``ModelQualityDegraded`` (0 or 1 per measurement) per
inference dataset and, again, per measured model (its package group and version). An
alarm on the dataset's series judges whichever model scored the measured batch: labels
that measure the old model degraded (what starts the retraining whose model is being
rolled out, or late labels of a batch it scored) would roll back the model meant to fix
it. So each update of an endpoint whose models labels measure makes an alarm of its own
on the series of the model it deploys, names it among the rollback alarms, and deletes it
once SageMaker's verdict is in, with any that earlier deployments left behind.

A new alarm per deployment, rather than one alarm per endpoint redefined each time:
PutMetricAlarm on an existing alarm keeps its state until the next evaluation, so an
alarm still in ALARM over the previous model would roll the new one back at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from driftline_runtime import names
from driftline_runtime.steps import Tag
from driftline_runtime.steps.deployment import (
    DeleteAlarmsRequest,
    Dimension,
    PutMetricAlarmRequest,
)

# DeleteAlarms takes at most this many names.
MAX_DELETED = 100
# Standard-resolution metrics (the embedded metric format's default) have no shorter period.
MIN_PERIOD_SECONDS = 60


@dataclass(frozen=True)
class QualityGuard:
    alarm: PutMetricAlarmRequest
    # After the verdict: this deployment's alarm and those earlier ones left behind.
    retire_on_verdict: DeleteAlarmsRequest
    # After a failure: this deployment's only.
    retire_on_failure: DeleteAlarmsRequest


def deployment_digest(execution: str) -> str:
    """Eight hex digits naming one deployment (its execution), so a retried step asks
    for the same endpoint config and alarm."""
    return hashlib.sha256(execution.encode()).hexdigest()[:8]


def alarm_names(cloudwatch: Any) -> Callable[[str], list[str]]:
    """The metric alarms whose names start with a prefix."""

    def named(prefix: str) -> list[str]:
        pages = cloudwatch.get_paginator("describe_alarms").paginate(
            AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm"]
        )
        return sorted(a["AlarmName"] for page in pages for a in page.get("MetricAlarms", []))

    return named


def quality_guard(
    *,
    stage: str,
    dataset: str,
    model_package_arn: str,
    execution: str,
    period_seconds: int,
    existing: list[str],
) -> QualityGuard:
    """The guard of the deployment of ``model_package_arn`` to ``dataset``'s endpoint;
    ``existing`` are the endpoint's quality alarms already there (names.quality_alarm_prefix)."""
    group, version = model_package_arn.rsplit("/", 2)[-2:]
    name = names.quality_alarm_name(stage, dataset, version, deployment_digest(execution))
    alarm = PutMetricAlarmRequest(
        AlarmName=name,
        AlarmDescription=(
            f"Labels measured model version {version} of {group} degraded (any scored "
            f"batch, any dataset it scored): its deployment to the {dataset} endpoint "
            "rolls back. Made by that deployment and deleted after its verdict."
        ),
        Namespace=names.METRICS_NAMESPACE,
        MetricName=names.MODEL_QUALITY_DEGRADED_METRIC,
        Dimensions=[
            Dimension(Name=names.STAGE_DIMENSION, Value=stage),
            Dimension(Name="service", Value=names.MODEL_QUALITY_SERVICE),
            Dimension(Name=names.MODEL_GROUP_DIMENSION, Value=group),
            Dimension(Name=names.MODEL_VERSION_DIMENSION, Value=version),
        ],
        Statistic="Maximum",
        Period=max(MIN_PERIOD_SECONDS, period_seconds),
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        # No labels is no evidence against a model.
        TreatMissingData="notBreaching",
        Tags=[
            Tag(Key=names.PROJECT_TAG, Value=names.PROJECT),
            Tag(Key=names.STAGE_TAG, Value=stage),
        ],
    )
    left_behind = [n for n in existing if n != name][: MAX_DELETED - 1]
    return QualityGuard(
        alarm=alarm,
        retire_on_verdict=DeleteAlarmsRequest(AlarmNames=[name, *left_behind]),
        retire_on_failure=DeleteAlarmsRequest(AlarmNames=[name]),
    )
