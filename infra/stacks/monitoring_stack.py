"""What an operator watches: notifications, alarms and a dashboard over the other stacks.

pipeline events (TrainingFailed, ModelRejected, DatasetRejected, DriftDetected,
InferenceFailed) --rules--> notifications topic (KMS, TLS only) --> optional email
every function's Errors/Throttles, every state machine's ExecutionsFailed, every queue
of failed work's depth --alarms--> the same topic
business metrics (EMF, namespace "driftline") --> the dashboard

Nothing here names a function, queue or state machine: the alarms and graphs iterate
over the ``functions``, ``queues`` and ``state_machines`` dicts the other stacks expose,
so whatever is added there is watched.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct
from driftline_runtime import names
from driftline_runtime.events import (
    DatasetRejected,
    DriftDetected,
    EndpointDeploymentFailed,
    EndpointRolledBack,
    InferenceFailed,
    ModelQualityDegraded,
    ModelRejected,
    TrainingFailed,
)

from infra.config import StageConfig
from infra.constructs.functions import PipelineFunction
from infra.constructs.nag import PACK, acknowledge, acknowledge_inline_policy
from infra.constructs.quality_monitoring import quality_alarms, quality_metrics
from infra.constructs.queues import failure_queue
from infra.stacks.data_stack import DataStack
from infra.stacks.pipeline_stack import PipelineStack

PERIOD = Duration.minutes(5)
WIDTH = 12  # half of the dashboard's 24 columns


def _field(path: str) -> str:
    return events.EventField.from_path(path)


# One readable line per event; detail-types whose payload is not fixed yet fall back to
# the whole detail.
NOTIFICATIONS: dict[str, str] = {
    TrainingFailed.detail_type(): (
        f"driftline: training failed ({_field('$.detail.error')}) in execution "
        f"{_field('$.detail.execution')}: {_field('$.detail.cause')}"
    ),
    ModelRejected.detail_type(): (
        f"driftline: model for dataset {_field('$.detail.dataset')} version "
        f"{_field('$.detail.version')} was not approved: {_field('$.detail.reason')} "
        f"(package {_field('$.detail.model_package_arn')})"
    ),
    DatasetRejected.detail_type(): (
        f"driftline: file {_field('$.detail.source_key')} was rejected for dataset "
        f"{_field('$.detail.dataset')}: {_field('$.detail.summary')}. Report: "
        f"{_field('$.detail.report_uri')}"
    ),
    DriftDetected.detail_type(): (
        f"driftline: drift detected at {_field('$.time')}: {_field('$.detail')}"
    ),
    ModelQualityDegraded.detail_type(): (
        f"driftline: labels show the model {_field('$.detail.model_package_arn')} degraded "
        f"on batch {_field('$.detail.version')} of {_field('$.detail.dataset')}: "
        # (the metrics as one field, not bare numbers in the text; the quality record
        # holds the test metric it was held to)
        f"{_field('$.detail.metrics')}, see {_field('$.detail.quality_uri')}"
    ),
    InferenceFailed.detail_type(): (
        f"driftline: batch inference failed at {_field('$.time')}: {_field('$.detail')}"
    ),
    EndpointRolledBack.detail_type(): (
        f"driftline: endpoint {_field('$.detail.endpoint')} rolled model version "
        f"{_field('$.detail.model_version')} back: {_field('$.detail.reason')}"
    ),
    EndpointDeploymentFailed.detail_type(): (
        f"driftline: deployment to a real-time endpoint failed at {_field('$.time')}: "
        f"{_field('$.detail')}"
    ),
}


def search(
    config: StageConfig, metric: str, statistic: str, label: str
) -> cloudwatch.MathExpression:
    """Every series of a business metric in this stage, whatever its other dimensions.

    A SEARCH expression finds the per-dataset (and per-feature) series as they appear,
    so a new dataset needs no dashboard change.
    """
    return cloudwatch.MathExpression(
        expression=(
            f'SEARCH(\'Namespace="{names.METRICS_NAMESPACE}" MetricName="{metric}" '
            f"{names.STAGE_DIMENSION}=\"{config.stage}\"', '{statistic}', "
            f"{int(PERIOD.to_seconds())})"
        ),
        using_metrics={},
        label=label,
        period=PERIOD,
    )


class MonitoringStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        data: DataStack,
        pipeline: PipelineStack,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.config = config
        self.topic = sns.Topic(
            self,
            "Notifications",
            topic_name=f"{config.prefix}-notifications",
            display_name="driftline notifications",
            master_key=data.key,
            enforce_ssl=True,
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        # Notifications EventBridge could not deliver after its retries are kept here.
        self.undelivered = failure_queue(
            self,
            "UndeliveredNotifications",
            key=data.key,
            holds="notifications the rules could not deliver (their targets' dead-letter queue)",
        )
        self.rules = self._forward_events(data.bus)
        functions = {**data.functions, **pipeline.functions}
        queues = {**data.queues, **pipeline.queues, "undelivered_notifications": self.undelivered}
        self.alarms = self._alarms(
            functions, queues, pipeline.state_machines, pipeline.realtime.watched
        )
        self.alarms |= quality_alarms(
            self,
            stage=config.stage,
            prefix=config.prefix,
            datasets=data.layers.datasets,
            topic=self.topic,
            period=PERIOD,
        )
        self.dashboard = self._dashboard(functions, queues, pipeline.state_machines)
        CfnOutput(self, names.NOTIFICATION_TOPIC_OUTPUT, value=self.topic.topic_arn)
        CfnOutput(self, names.DASHBOARD_OUTPUT, value=self.dashboard.dashboard_name)

    # -- events -> notifications -----------------------------------------------------------
    def _notifier(self) -> iam.Role:
        """The one role every notification rule publishes to the topic as.

        Without a role CDK would grant EventBridge, as a service, use of the project key
        with no condition at all; the rules' targets grant this role publishing to this
        topic (and the key for it), and only EventBridge for this account may assume it.
        """
        role = iam.Role(
            self,
            "Notifier",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            description="Publishes pipeline events to the notification topic",
        )
        acknowledge_inline_policy(role)
        acknowledge(
            role,
            "CDK's grant to publish to an encrypted topic: kms:GenerateDataKey* (a data key, "
            "with or without its plaintext) on the project key only.",
            f"{PACK}-IAM5[Action::kms:GenerateDataKey*]",
        )
        return role

    def _forward_events(self, bus: events.IEventBus) -> dict[str, events.Rule]:
        rules = {}
        notifier = self._notifier()
        for detail_type, message in NOTIFICATIONS.items():
            rule = events.Rule(
                self,
                f"Notify{detail_type}",
                event_bus=bus,
                description=f"Sends {detail_type} events to the notification topic",
                event_pattern=events.EventPattern(detail_type=[detail_type]),
            )
            rule.add_target(
                targets.SnsTopic(
                    self.topic,
                    role=notifier,
                    message=events.RuleTargetInput.from_text(message),
                    dead_letter_queue=self.undelivered,
                    retry_attempts=8,
                    max_event_age=Duration.hours(24),
                )
            )
            rules[detail_type] = rule
        return rules

    # -- alarms ------------------------------------------------------------------------------
    def _alarms(
        self,
        functions: Mapping[str, PipelineFunction],
        queues: Mapping[str, sqs.IQueue],
        state_machines: Mapping[str, sfn.StateMachine],
        endpoints: Mapping[str, tuple[cloudwatch.IMetric, str]],
    ) -> dict[str, cloudwatch.Alarm]:
        watched: dict[str, tuple[cloudwatch.IMetric, str]] = dict(endpoints)
        for name, function in functions.items():
            watched[f"{name}-errors"] = (
                function.function.metric_errors(period=PERIOD, statistic="Sum"),
                f"The {name} function failed",
            )
            watched[f"{name}-throttles"] = (
                function.function.metric_throttles(period=PERIOD, statistic="Sum"),
                f"The {name} function was throttled",
            )
        for name, queue in queues.items():
            watched[f"{name}-depth"] = (
                queue.metric_approximate_number_of_messages_visible(
                    period=PERIOD, statistic="Maximum"
                ),
                f"Failed work is waiting in the {name} queue",
            )
        for name, state_machine in state_machines.items():
            watched[f"{name}-executions-failed"] = (
                state_machine.metric_failed(period=PERIOD, statistic="Sum"),
                f"An execution of the {name} state machine failed",
            )
        action = cloudwatch_actions.SnsAction(self.topic)
        alarms = {}
        for name, (metric, description) in watched.items():
            alarm = cloudwatch.Alarm(
                self,
                "Alarm-" + "".join(part.title() for part in name.replace("_", "-").split("-")),
                alarm_name=f"{self.config.prefix}-{name.replace('_', '-')}",
                alarm_description=description,
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

    # -- the dashboard -----------------------------------------------------------------------
    def _dashboard(
        self,
        functions: Mapping[str, PipelineFunction],
        queues: Mapping[str, sqs.IQueue],
        state_machines: Mapping[str, sfn.StateMachine],
    ) -> cloudwatch.Dashboard:
        config = self.config

        def graph(
            title: str,
            left: list[cloudwatch.IMetric],
            unit: str = "",
            right: list[cloudwatch.IMetric] | None = None,
        ) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(
                title=title,
                left=left,
                right=right or [],
                width=WIDTH,
                left_y_axis=cloudwatch.YAxisProps(label=unit, show_units=False, min=0),
            )

        ingested = search(config, names.FILES_INGESTED_METRIC, "Sum", "ingested")
        rejected = search(config, names.FILES_REJECTED_METRIC, "Sum", "rejected")
        rejection_rate = cloudwatch.MathExpression(
            expression="100 * SUM(rejected) / (SUM(ingested) + SUM(rejected))",
            using_metrics={"ingested": ingested, "rejected": rejected},
            label="rejected files, % of all files",
            period=PERIOD,
        )
        dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=config.prefix,
            default_interval=Duration.days(7),
        )
        dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=(
                    f"# driftline ({config.stage})\nFiles, models and drift from the "
                    "functions' embedded metrics (namespace `driftline`, one series per "
                    "dataset); failures from the services' own metrics. Alarms mail the "
                    "notification topic."
                ),
                width=24,
                height=2,
            )
        )
        dashboard.add_widgets(
            graph("Files ingested and rejected, per dataset", [ingested, rejected], "files"),
            graph("Rejection rate", [rejection_rate], "%"),
        )
        dashboard.add_widgets(
            graph(
                "Rows ingested and rejected, per dataset",
                [
                    search(config, names.ROWS_INGESTED_METRIC, "Sum", "rows ingested"),
                    search(config, names.ROWS_REJECTED_METRIC, "Sum", "rows rejected"),
                ],
                "rows",
            ),
            graph(
                "Model test AUC and training time, per dataset (one point per model version)",
                [search(config, names.MODEL_AUC_METRIC, "Maximum", "test AUC")],
                "AUC",
                right=[
                    search(config, names.TRAINING_DURATION_METRIC, "Maximum", "training seconds")
                ],
            ),
        )
        dashboard.add_widgets(
            cloudwatch.LogQueryWidget(
                title="Model versions: metrics and training time",
                log_group_names=[f.log_group.log_group_name for f in functions.values()],
                query_lines=[
                    f"fields @timestamp, {names.DATASET_DIMENSION}, "
                    f"{names.MODEL_VERSION_PROPERTY}, {names.APPROVAL_PROPERTY}, "
                    f"{names.MODEL_AUC_METRIC}, {names.MODEL_AVERAGE_PRECISION_METRIC}, "
                    f"{names.TRAINING_DURATION_METRIC}, {names.TRAINING_JOB_PROPERTY}",
                    f"filter ispresent({names.MODEL_VERSION_PROPERTY})",
                    "sort @timestamp desc",
                    "limit 50",
                ],
                width=24,
            )
        )
        dashboard.add_widgets(
            graph(
                "Drift score, per dataset and feature",
                [search(config, names.DRIFT_SCORE_METRIC, "Maximum", "drift score")],
                "score",
            ),
            graph(
                "Drift detected, per dataset",
                [search(config, names.DRIFT_DETECTED_METRIC, "Sum", "drift detected")],
                "events",
            ),
        )
        dashboard.add_widgets(
            graph("Model quality measured on labels", quality_metrics(config.stage, PERIOD)),
            graph(
                "Model quality degraded, per dataset",
                [search(config, names.MODEL_QUALITY_DEGRADED_METRIC, "Maximum", "degraded")],
            ),
        )
        dashboard.add_widgets(
            graph(
                "Failed work waiting (dead-letter and on-failure queues)",
                [
                    q.metric_approximate_number_of_messages_visible(
                        period=PERIOD, statistic="Maximum", label=name
                    )
                    for name, q in queues.items()
                ],
                "messages",
            ),
            graph(
                "State machine executions failed",
                [
                    m.metric_failed(period=PERIOD, statistic="Sum", label=name)
                    for name, m in state_machines.items()
                ],
                "executions",
            ),
        )
        dashboard.add_widgets(
            graph(
                "Function errors",
                [
                    f.function.metric_errors(period=PERIOD, statistic="Sum", label=name)
                    for name, f in functions.items()
                ],
                "invocations",
            ),
            graph(
                "Function throttles",
                [
                    f.function.metric_throttles(period=PERIOD, statistic="Sum", label=name)
                    for name, f in functions.items()
                ],
                "invocations",
            ),
        )
        return dashboard
