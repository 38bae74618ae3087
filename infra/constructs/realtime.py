"""Real-time scoring: an approved model goes to its dataset's SageMaker endpoint.

ModelRegistered(Approved) --rule--> the deployment state machine
(state_machines/deployment.asl.json), and so does SageMaker's own Model Package State
Change (Approved) of the stage's groups on the default bus, which an approval by hand
puts there (the plan resolves that package and skips one the gate approved, which
ModelRegistered deploys): plan (the dataset's ``realtime`` settings) ->
CreateEndpointConfig -> CreateEndpoint, or UpdateEndpoint blue/green with a canary ->
wait for SageMaker's verdict -> EndpointDeployed | EndpointRolledBack.

SageMaker's deployment guardrails do the canary and the rollback; this construct gives
them the alarms that decide it, per dataset that opts in (read from the contracts layer
as it was built): server errors and p99 model latency of the endpoint's one variant.
Where labels measure the endpoint's models, each deployment also makes an alarm of its
own on the measured quality of the model it rolls out (``quality_guard.py`` of the plan
function says why not one per endpoint); the state machine may make and delete those
only (``names.quality_alarm_prefix``).
Data capture goes to the predictions bucket under ``capture/``, encrypted with the
project key, written by SageMaker as the models' execution role (``capture.py`` turns
it into batches).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from driftline_runtime import layout, names
from driftline_runtime.contracts import RealtimeSettings
from driftline_runtime.events import ModelRegistered

from infra.constructs.functions import PipelineFunction
from infra.constructs.nag import HIPAA, acknowledge, resource_finding
from infra.constructs.queues import failure_queue
from infra.constructs.shared import SharedResources
from infra.constructs.state_machine import PipelineStateMachine

# SageMaker's ModelLatency is in microseconds.
MICROSECONDS_PER_MS = 1000
# ModelQualityDegraded is recorded at standard resolution: no shorter period sees it.
MIN_QUALITY_PERIOD_SECONDS = 60
# The monitoring stack's period for its own alarms.
MONITORING_PERIOD = Duration.minutes(5)


def realtime_datasets(shared: SharedResources) -> dict[str, RealtimeSettings]:
    """Training datasets that declare ``realtime`` settings, as the layer was built."""
    found = {}
    for dataset in shared.layers.datasets:
        settings = dataset.get("settings", {}).get("realtime")
        if dataset["kind"] == "training" and settings:
            found[dataset["name"]] = RealtimeSettings.model_validate(settings)
    return found


def labelled_datasets(shared: SharedResources, training: str) -> list[str]:
    """Inference datasets scored by ``training``'s models that a labels dataset labels:
    where labels measure the endpoint's models (their quality metric is per dataset)."""
    scored = {
        d["name"]
        for d in shared.layers.datasets
        if d["kind"] == "inference" and d.get("settings", {}).get("model_dataset") == training
    }
    labelled = {
        str(d.get("settings", {}).get("labels_for"))
        for d in shared.layers.datasets
        if d["kind"] == "labels"
    }
    return sorted(scored & labelled)


class RealtimeDeployment(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: SharedResources,
        capture_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.shared, self.capture_bucket = shared, capture_bucket
        config = shared.config
        region = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        prefix = names.job_prefix(config.stage)
        self.endpoints_arn = f"{region}:endpoint/{prefix}*"
        self.endpoint_configs_arn = f"{region}:endpoint-config/{prefix}*"
        self.quality_alarms_arn = (
            f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:"
            f"{names.quality_alarm_prefix(config.stage, '*')}*"
        )
        self.queues: dict[str, sqs.IQueue] = {}
        # What the monitoring stack alarms on and notifies: server errors of each
        # endpoint, deployment or not (its own alarm; these below act on deployments).
        self.watched: dict[str, tuple[cloudwatch.IMetric, str]] = {}
        self.alarms = self._alarms()
        self.plan = self._plan_function()
        self.functions: dict[str, PipelineFunction] = {"plan_deployment": self.plan}
        self.state_machine = PipelineStateMachine(
            self,
            "StateMachine",
            shared=shared,
            name=names.DEPLOYMENT_STATE_MACHINE,
            definition="deployment.asl.json",
            functions={"PlanFunctionArn": self.plan},
        )
        self._grant_state_machine()
        self._grant_capture()
        self._trigger()

    # -- alarms ------------------------------------------------------------------------
    def _alarms(self) -> dict[str, cloudwatch.Alarm]:
        stage = self.shared.config.stage
        period = Duration.seconds(self.shared.config.realtime_alarm_period_seconds)
        alarms: dict[str, cloudwatch.Alarm] = {}
        for dataset, settings in realtime_datasets(self.shared).items():
            dimensions = {
                "EndpointName": names.endpoint_name(stage, dataset),
                "VariantName": names.ENDPOINT_VARIANT,
            }

            def metric(name: str, statistic: str, dims: dict[str, str] = dimensions) -> Any:
                return cloudwatch.Metric(
                    namespace="AWS/SageMaker",
                    metric_name=name,
                    dimensions_map=dims,
                    statistic=statistic,
                    period=period,
                )

            for alarm, (measure, threshold, description) in {
                "server-errors": (
                    metric("Invocation5XXErrors", "Sum"),
                    settings.max_server_errors,
                    f"The {dataset} endpoint answered more than {settings.max_server_errors} "
                    "requests with a server error in a period: a deployment rolls back",
                ),
                "model-latency": (
                    metric("ModelLatency", "p99"),
                    settings.max_latency_ms * MICROSECONDS_PER_MS,
                    f"The {dataset} endpoint's p99 model latency passed "
                    f"{settings.max_latency_ms} ms: a deployment rolls back",
                ),
            }.items():
                name = names.endpoint_alarm_name(stage, dataset, alarm)
                alarms[name] = cloudwatch.Alarm(
                    self,
                    f"{dataset}-{alarm}",
                    alarm_name=name,
                    alarm_description=description,
                    metric=measure,
                    threshold=threshold,
                    evaluation_periods=1,
                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                    # No traffic is no evidence against a model.
                    treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                )
                acknowledge(
                    alarms[name],
                    "SageMaker's deployment guardrails act on this alarm: a trip rolls the "
                    "deployment back, which the deployment announces as EndpointRolledBack "
                    "and the monitoring stack notifies; its own endpoint alarm notifies "
                    "server errors outside deployments.",
                    f"{HIPAA}-CloudWatchAlarmAction",
                )
            # Named apart from the guardrail alarms (names.endpoint_alarm_name).
            self.watched[f"{dataset}-endpoint-errors"] = (
                metric("Invocation5XXErrors", "Sum").with_(period=MONITORING_PERIOD),
                f"The {dataset} real-time endpoint answered requests with server errors",
            )
        return alarms

    # -- the plan function ---------------------------------------------------------------
    def _plan_function(self) -> PipelineFunction:
        shared = self.shared
        config = shared.config
        plan = shared.function(
            self,
            "PlanDeployment",
            source="plan_deployment",
            description="Builds the endpoint config and blue/green deployment of a model",
            environment={
                "STAGE": config.stage,
                "CAPTURE_BUCKET": self.capture_bucket.bucket_name,
                "KEY_ARN": shared.key.key_arn,
                "MODEL_PACKAGE_GROUP_PREFIX": shared.model_group_prefix,
                "SERVERLESS": str(config.realtime_serverless).lower(),
                "POLL_SECONDS": str(config.realtime_poll_seconds),
                "QUALITY_ALARMS": ",".join(
                    d for d in realtime_datasets(shared) if labelled_datasets(shared, d)
                ),
                "QUALITY_ALARM_PERIOD_SECONDS": str(
                    max(MIN_QUALITY_PERIOD_SECONDS, config.realtime_alarm_period_seconds)
                ),
            },
        )
        packages = (
            f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:model-package/"
            f"{shared.model_group_prefix}-*/*"
        )
        models = (
            f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}:model/"
            f"{names.job_prefix(config.stage)}"
        )
        for actions, resources in (
            (["sagemaker:DescribeEndpoint"], [self.endpoints_arn]),
            (["sagemaker:DescribeModelPackage"], [packages]),
            (["sagemaker:DescribeModel"], [f"{models}*"]),
            # The quality alarms earlier deployments left behind, to retire them.
            (["cloudwatch:DescribeAlarms"], [self.quality_alarms_arn]),
        ):
            plan.role.add_to_principal_policy(
                iam.PolicyStatement(actions=actions, resources=resources)
            )
        acknowledge(
            plan.role,
            "Describes the stage's endpoints (dl-<stage>-<dataset>-live) to choose between "
            "creating and updating one, and the stage's model packages (<prefix>-<dataset>/"
            "<version>) that the registry's approval events name and the models (dl-<stage>-"
            "...) they serve, and lists the deployments' model-quality alarms (driftline-"
            "<stage>-<dataset>-endpoint-model-quality-...); the grants are limited to the "
            "stage's prefixes.",
            resource_finding(self, self.endpoints_arn),
            resource_finding(self, packages),
            resource_finding(self, f"{models}*"),
            resource_finding(self, self.quality_alarms_arn),
        )
        return plan

    # -- the state machine ---------------------------------------------------------------
    def _grant_state_machine(self) -> None:
        role = self.state_machine.role
        alarms = (
            f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:"
            f"{names.stage_prefix(self.shared.config.stage)}-*-endpoint-*"
        )
        for actions, resources in (
            (
                ["sagemaker:CreateEndpointConfig", "sagemaker:AddTags"],
                [self.endpoint_configs_arn],
            ),
            (
                ["sagemaker:CreateEndpoint", "sagemaker:UpdateEndpoint"],
                [self.endpoints_arn, self.endpoint_configs_arn],
            ),
            (["sagemaker:DescribeEndpoint", "sagemaker:AddTags"], [self.endpoints_arn]),
            # Endpoint configs with KmsKeyId (volumes, data capture) check the caller's
            # access to the key.
            (["kms:CreateGrant", "kms:DescribeKey"], [self.shared.key.key_arn]),
            # Deployment guardrails read the rollback alarms as the caller of UpdateEndpoint.
            (["cloudwatch:DescribeAlarms"], [alarms]),
            # Each deployment makes (tagged) and deletes its model-quality alarm.
            (
                ["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource", "cloudwatch:DeleteAlarms"],
                [self.quality_alarms_arn],
            ),
        ):
            role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources))
        acknowledge(
            role,
            "Endpoint configs and endpoints are named per stage and dataset "
            "(dl-<stage>-<dataset>-...); the rollback alarms per stage and dataset "
            "(driftline-<stage>-<dataset>-endpoint-*), of which a deployment makes and "
            "deletes its model-quality alarm (driftline-<stage>-<dataset>-endpoint-model-"
            "quality-v<version>-<deployment>) only. The grants are limited to those names.",
            resource_finding(self, self.endpoints_arn),
            resource_finding(self, self.endpoint_configs_arn),
            resource_finding(self, alarms),
            resource_finding(self, self.quality_alarms_arn),
        )

    def _grant_capture(self) -> None:
        """SageMaker writes captured requests as the models' execution role."""
        role = self.shared.sagemaker.role
        captured = self.capture_bucket.arn_for_objects(f"{layout.CAPTURE_PREFIX}/*")
        for actions, resources in (
            (["s3:PutObject"], [captured]),
            (["kms:GenerateDataKey", "kms:Encrypt"], [self.shared.key.key_arn]),
        ):
            role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources))
        acknowledge(
            role,
            "Endpoints capture requests and answers under capture/<dataset>/ of the "
            "predictions bucket, one object per endpoint, variant and hour.",
            resource_finding(Stack.of(self), captured),
        )

    # -- trigger -------------------------------------------------------------------------
    def _trigger(self) -> None:
        undelivered = failure_queue(
            self,
            "UndeliveredDeployments",
            key=self.shared.key,
            holds="deployments of approved models the rule could not start",
        )
        self.queues["deployment_starts"] = undelivered
        rule = events.Rule(
            self,
            "DeployApprovedModels",
            event_bus=self.shared.bus,
            description="An approved model goes to its dataset's real-time endpoint",
            event_pattern=events.EventPattern(
                source=[ModelRegistered.SOURCE],
                detail_type=[ModelRegistered.detail_type()],
                detail={"status": ["Approved"]},
            ),
        )
        rule.add_target(
            self.state_machine.target(
                undelivered,
                {
                    "dataset": events.EventField.from_path("$.detail.dataset"),
                    "model_package_arn": events.EventField.from_path("$.detail.model_package_arn"),
                    "model_name": events.EventField.from_path("$.detail.training_job"),
                    "trigger": "registered",
                },
            )
        )
        # SageMaker announces approvals on the account's default bus, whoever made them.
        prefix = f"{self.shared.model_group_prefix}-"
        approvals = events.Rule(
            self,
            "DeployRegistryApprovals",
            description="A model package of the stage approved in the registry (by hand, "
            "too) goes to its dataset's real-time endpoint",
            event_pattern=events.EventPattern(
                source=["aws.sagemaker"],
                detail_type=[names.MODEL_PACKAGE_STATE_CHANGE],
                detail={
                    "ModelApprovalStatus": ["Approved"],
                    "ModelPackageGroupName": events.Match.prefix(prefix),
                },
            ),
        )
        approvals.add_target(
            self.state_machine.target(
                undelivered,
                {
                    "dataset": "",
                    "model_package_arn": events.EventField.from_path("$.detail.ModelPackageArn"),
                    "model_name": "",
                    "trigger": "registry",
                },
            )
        )
