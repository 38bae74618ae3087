"""Model quality on the monitoring stack: an alarm per labelled inference dataset and
the dashboard's quality widgets.

The join-labels function records ``ModelQualityDegraded`` (0 or 1) per inference dataset
each time labels measure a scored run; the alarm fires on any 1 in a period and notifies
the project topic, as the pipeline's other alarms do. Alarms cannot use SEARCH, so there
is one per inference dataset the contracts layer declares (a labels dataset may label
any of them).
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_sns as sns
from constructs import Construct
from driftline_runtime import names

# The function that records the quality metrics (its Powertools service name).
SERVICE = names.MODEL_QUALITY_SERVICE


def quality_alarms(
    scope: Construct,
    *,
    stage: str,
    prefix: str,
    datasets: Iterable[dict[str, str]],
    topic: sns.ITopic,
    period: Duration,
) -> dict[str, cloudwatch.Alarm]:
    action = cloudwatch_actions.SnsAction(topic)
    alarms = {}
    for dataset in datasets:
        if dataset["kind"] != "inference":
            continue
        name = dataset["name"]
        metric = cloudwatch.Metric(
            namespace=names.METRICS_NAMESPACE,
            metric_name=names.MODEL_QUALITY_DEGRADED_METRIC,
            dimensions_map={
                names.STAGE_DIMENSION: stage,
                names.DATASET_DIMENSION: name,
                "service": SERVICE,
            },
            statistic="Maximum",
            period=period,
        )
        alarm = cloudwatch.Alarm(
            scope,
            f"Alarm-ModelQualityDegraded-{name}",
            alarm_name=f"{prefix}-model-quality-degraded-{name}",
            alarm_description=f"Labels show the model scoring {name} degraded",
            metric=metric,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(action)
        alarm.add_ok_action(action)
        alarms[name] = alarm
    return alarms


def quality_metrics(stage: str, period: Duration) -> list[cloudwatch.IMetric]:
    """Every inference dataset's measured primary metric (whatever its problem type's is)
    and AUC, as SEARCHes (new datasets appear alone)."""
    return [
        cloudwatch.MathExpression(
            expression=(
                f'SEARCH(\'Namespace="{names.METRICS_NAMESPACE}" '
                f'MetricName="{metric}" {names.STAGE_DIMENSION}="{stage}"\', '
                f"'Average', {int(period.to_seconds())})"
            ),
            using_metrics={},
            label=label,
            period=period,
        )
        for metric, label in (
            (names.MODEL_QUALITY_PRIMARY_METRIC, "measured primary metric"),
            (names.MODEL_QUALITY_AUC_METRIC, "measured AUC (binary)"),
        )
    ]
