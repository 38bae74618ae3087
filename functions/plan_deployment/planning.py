"""Planning a model's deployment to its dataset's real-time endpoint.

The plan is SageMaker's own requests, built from the dataset's ``realtime`` settings
(``driftline_runtime.contracts.RealtimeSettings``) and the stage's: an endpoint config
with one variant (``names.ENDPOINT_VARIANT``) for the model the training run created,
data capture into the predictions bucket under the project key, and a blue/green
deployment config whose canary is guarded by the endpoint's alarms. A dataset without
``realtime`` settings is skipped; an endpoint that is still deploying makes the step
fail with ``EndpointBusy``, which the state machine retries with backoff, so two
approvals in a row deploy one after the other. A model the gate approved (``registered``)
that is older than the one the endpoint serves, if that one is still approved, is
skipped: two approvals close together may finish their waits in either order, and the
newer model must stay. A package a person approved in the registry is deployed whatever
its version: going back is theirs to decide.

Two rules start a deployment: ModelRegistered(Approved), which names the dataset and the
model, and SageMaker's own Model Package State Change (Approved), which names only the
package (``trigger == "registry"``); the plan resolves that package (``resolve``). A
package the gate approved at registration matches both rules, so this one place decides:
the registry's event plans ``skip`` for it, and deploys any package approved otherwise
(by hand, or created Approved by something other than the gate).

Where labels measure the endpoint's models, an update is also guarded by an alarm on the
measured quality of the model it rolls out (``quality_guard.py``), which the state
machine makes before UpdateEndpoint and deletes after the verdict.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from driftline_runtime import layout, names
from driftline_runtime.contracts import DatasetSpec, RealtimeSettings
from driftline_runtime.settings import FunctionSettings
from driftline_runtime.steps import Tag
from driftline_runtime.steps.deployment import (
    REGISTERED,
    Alarm,
    AutoRollbackConfig,
    BlueGreenPolicy,
    CapacitySize,
    CaptureContentTypes,
    CaptureOption,
    CreateEndpointConfigRequest,
    DataCapture,
    DeploymentConfig,
    DeploymentPlan,
    DeploymentRequest,
    ProductionVariant,
    ServerlessVariantConfig,
    TrafficRoutingConfig,
    Trigger,
)
from quality_guard import QualityGuard, deployment_digest, quality_guard

BUSY_STATES = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
# Beyond its waits, how long SageMaker may take to start the new fleet before it gives up.
DEPLOYMENT_MARGIN_SECONDS = 1800
MAX_DEPLOYMENT_SECONDS = 28_800  # SageMaker's upper bound for MaximumExecutionTimeout


class EndpointBusy(RuntimeError):
    """The endpoint is deploying something else; the state machine retries later."""


class EndpointNotDeployable(RuntimeError):
    """The endpoint is in a state no deployment can start from; the message says why."""


class PackageNotDeployable(RuntimeError):
    """An approved package that names no dataset of the stage or no model to serve."""


class Settings(FunctionSettings):
    stage: str
    capture_bucket: str
    key_arn: str
    # Every model package group of the stage is ``<prefix>-<training dataset>``.
    model_package_group_prefix: str
    serverless: bool = False
    poll_seconds: int = 30
    # Training datasets whose endpoint deployments are guarded by their model's measured
    # quality (comma-separated): the ones whose scored batches labels measure.
    quality_alarms: str = ""
    # The period of those alarms (at least a minute: the metric's resolution).
    quality_alarm_period_seconds: int = 60


@dataclass(frozen=True)
class Services:
    # The dataset's spec (None if no module declares it).
    contract: Callable[[str], DatasetSpec | None]
    # DescribeEndpoint's answer, None if there is no such endpoint.
    endpoint: Callable[[str], dict[str, Any] | None]
    # DescribeModelPackage's answer for a package ARN.
    model_package: Callable[[str], dict[str, Any]]
    # Whether a SageMaker model of that name exists.
    model_exists: Callable[[str], bool]
    # The names of the metric alarms that start with a prefix (quality_guard.alarm_names).
    alarm_names: Callable[[str], list[str]]


@dataclass(frozen=True)
class Resolution:
    """The request with its dataset and model, and why not to deploy it (None: deploy)."""

    request: DeploymentRequest
    skip: str | None = None
    # The trigger that deploys the package instead, when that is why.
    deployed_by: Trigger | None = None


def model_package(sagemaker: Any) -> Callable[[str], dict[str, Any]]:
    def described(arn: str) -> dict[str, Any]:
        return dict(sagemaker.describe_model_package(ModelPackageName=arn))

    return described


def model_exists(sagemaker: Any) -> Callable[[str], bool]:
    def exists(name: str) -> bool:
        try:
            sagemaker.describe_model(ModelName=name)
        except sagemaker.exceptions.ClientError as error:
            if "Could not find model" in str(error.response["Error"].get("Message", "")):
                return False
            raise
        return True

    return exists


def endpoint(sagemaker: Any) -> Callable[[str], dict[str, Any] | None]:
    def described(name: str) -> dict[str, Any] | None:
        try:
            return dict(sagemaker.describe_endpoint(EndpointName=name))
        except sagemaker.exceptions.ClientError as error:
            if "Could not find endpoint" in str(error.response["Error"].get("Message", "")):
                return None
            raise

    return described


# An endpoint config the planner named: ``dl-<stage>-<dataset>-v<version>-<8 hex>``.
_CONFIG_VERSION = re.compile(r"-v(\d+)-[0-9a-f]{8}$")


def config_suffix(version: str, deployment: str) -> str:
    """The end of the planner's endpoint config names (``served_version`` reads it back)."""
    return f"v{version}-{deployment}"


def served_version(config_name: str) -> int | None:
    """The model package version an endpoint config of the planner's serves (None for a
    config named otherwise, say one made by hand)."""
    match = _CONFIG_VERSION.search(config_name)
    return int(match.group(1)) if match else None


class DeploymentPlanner:
    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings = settings
        self.services = services

    def measured(self, dataset: str) -> bool:
        """Whether labels measure the models of ``dataset``'s endpoint."""
        return dataset in {name.strip() for name in self.settings.quality_alarms.split(",")}

    def guard(self, request: DeploymentRequest) -> QualityGuard:
        stage, dataset = self.settings.stage, request.dataset
        return quality_guard(
            stage=stage,
            dataset=dataset,
            model_package_arn=request.model_package_arn,
            execution=request.execution,
            period_seconds=self.settings.quality_alarm_period_seconds,
            existing=self.services.alarm_names(names.quality_alarm_prefix(stage, dataset)),
        )

    def resolve(self, request: DeploymentRequest) -> Resolution:
        """The registry's event names a package only: its dataset (from its group), the
        model its training run created, and whether to deploy it."""
        arn = request.model_package_arn
        package = self.services.model_package(arn)
        prefix = f"{self.settings.model_package_group_prefix}-"
        group = str(package.get("ModelPackageGroupName") or "")
        if not group.startswith(prefix) or group == prefix:
            raise PackageNotDeployable(
                f"model package {arn} is in group {group!r}, not one of the stage's "
                f"({prefix}<dataset>): no dataset of the stage names it"
            )
        metadata = package.get("CustomerMetadataProperties") or {}
        model = str(metadata.get(names.TRAINING_JOB_METADATA_KEY) or "")
        if not model:
            raise PackageNotDeployable(
                f"model package {arn} names no model to serve: its CustomerMetadataProperties "
                f"lack {names.TRAINING_JOB_METADATA_KEY!r} (the SageMaker model its training "
                "run created, which the register step records)"
            )
        resolved = request.model_copy(
            update={"dataset": group.removeprefix(prefix), "model_name": model}
        )
        status = package.get("ModelApprovalStatus")
        if status != "Approved":  # withdrawn since the event
            return Resolution(resolved, f"model package {arn} is {status} now: nothing to deploy")
        if metadata.get(names.GATE_DECISION_METADATA_KEY) == "Approved":
            return Resolution(
                resolved,
                f"the gate approved model package {arn} when it was registered: its "
                "ModelRegistered event deploys it",
                deployed_by=REGISTERED,
            )
        if not self.services.model_exists(model):
            raise PackageNotDeployable(
                f"model package {arn} names the SageMaker model {model}, which does not exist "
                "(a package rejected before training created the model of every registered "
                "package has none): create it from the package's InferenceSpecification with "
                "`aws sagemaker create-model`, or train again"
            )
        return Resolution(resolved)

    def plan(self, request: DeploymentRequest) -> DeploymentPlan:
        resolution = Resolution(request)
        if request.trigger != REGISTERED:
            resolution = self.resolve(request)
            request = resolution.request
        stage = self.settings.stage
        endpoint = names.endpoint_name(stage, request.dataset)
        common: dict[str, Any] = {
            "dataset": request.dataset,
            "model_package_arn": request.model_package_arn,
            "model_version": request.model_package_arn.rsplit("/", 1)[-1],
            "model_name": request.model_name,
            "endpoint_name": endpoint,
            "poll_seconds": self.settings.poll_seconds,
        }
        if resolution.skip is not None:
            return DeploymentPlan(
                action="skip",
                reason=resolution.skip,
                deployed_by=resolution.deployed_by,
                **common,
            )
        spec = self.services.contract(request.dataset)
        if spec is None or spec.realtime is None:
            return DeploymentPlan(
                action="skip",
                reason=f"{request.dataset} declares no realtime settings: no endpoint serves it",
                **common,
            )
        described = self.services.endpoint(endpoint)
        status = None if described is None else str(described["EndpointStatus"])
        if status in BUSY_STATES:
            raise EndpointBusy(f"endpoint {endpoint} is {status}; the deployment waits")
        if status not in (None, "InService"):
            raise EndpointNotDeployable(
                f"endpoint {endpoint} is {status}: delete it (aws sagemaker delete-endpoint "
                f"--endpoint-name {endpoint}) and approve a model again to recreate it"
            )
        newer = self.newer_approved_serving(request, described)
        if newer is not None:
            return DeploymentPlan(
                action="skip",
                reason=(
                    f"{endpoint} already serves model version {newer}, approved and newer "
                    f"than {common['model_version']}: a later approval deployed first"
                ),
                **common,
            )
        settings = spec.realtime
        config = self.endpoint_config(request, settings)
        # A new endpoint has no canary to guard: only an update rolls back.
        guard = self.guard(request) if status and self.measured(request.dataset) else None
        return DeploymentPlan(
            action="create" if status is None else "update",
            reason=f"model version {common['model_version']} to {endpoint}",
            endpoint_config=config,
            deployment_config=self.deployment_config(request.dataset, settings, guard),
            quality_alarm=guard.alarm if guard else None,
            retire_on_verdict=guard.retire_on_verdict if guard else None,
            retire_on_failure=guard.retire_on_failure if guard else None,
            **common,
        )

    def newer_approved_serving(
        self, request: DeploymentRequest, described: dict[str, Any] | None
    ) -> int | None:
        """The version the endpoint serves when the gate approved ``request``'s model and
        the served one is newer and still approved (one withdrawn since, or a config made
        by hand, does not hold a deployment back)."""
        if request.trigger != REGISTERED or described is None:
            return None
        serving = served_version(str(described.get("EndpointConfigName", "")))
        group, _, own = request.model_package_arn.rpartition("/")
        if serving is None or not own.isdigit() or serving <= int(own):
            return None
        package = self.services.model_package(f"{group}/{serving}")
        return serving if package.get("ModelApprovalStatus") == "Approved" else None

    def endpoint_config(
        self, request: DeploymentRequest, settings: RealtimeSettings
    ) -> CreateEndpointConfigRequest:
        stage, serverless = self.settings.stage, self.settings.serverless
        # One config per deployment, named after the model version and the execution, so
        # a retried step asks for the same config.
        version = request.model_package_arn.rsplit("/", 1)[-1]
        suffix = config_suffix(version, deployment_digest(request.execution))
        name = names.sagemaker_name(stage, request.dataset, suffix)
        variant = ProductionVariant(
            VariantName=names.ENDPOINT_VARIANT,
            ModelName=request.model_name,
            InitialVariantWeight=1.0,
            **(
                {
                    "ServerlessConfig": ServerlessVariantConfig(
                        MemorySizeInMB=settings.serverless_memory_mb,
                        MaxConcurrency=settings.serverless_max_concurrency,
                    )
                }
                if serverless
                else {
                    "InstanceType": settings.instance_type,
                    "InitialInstanceCount": settings.instance_count,
                }
            ),
        )
        capture = None
        if settings.capture_percent > 0 and not serverless:
            capture = DataCapture(
                EnableCapture=True,
                InitialSamplingPercentage=settings.capture_percent,
                DestinationS3Uri=(
                    f"s3://{self.settings.capture_bucket}/{layout.CAPTURE_PREFIX}/{request.dataset}"
                ),
                KmsKeyId=self.settings.key_arn,
                CaptureOptions=[
                    CaptureOption(CaptureMode="Input"),
                    CaptureOption(CaptureMode="Output"),
                ],
                # Captured as text (not base64), so drift monitoring reads the rows as sent.
                CaptureContentTypeHeader=CaptureContentTypes(
                    CsvContentTypes=["text/csv"],
                    JsonContentTypes=["application/json", "application/jsonlines"],
                ),
            )
        return CreateEndpointConfigRequest(
            EndpointConfigName=name,
            ProductionVariants=[variant],
            DataCaptureConfig=capture,
            KmsKeyId=None if serverless else self.settings.key_arn,
            Tags=[
                Tag(Key=names.PROJECT_TAG, Value=names.PROJECT),
                Tag(Key=names.STAGE_TAG, Value=stage),
            ],
        )

    def deployment_config(
        self, dataset: str, settings: RealtimeSettings, guard: QualityGuard | None = None
    ) -> DeploymentConfig:
        """Blue/green as the settings say, rolled back by the endpoint's error and latency
        alarms and, with a guard, by its alarm on the deployed model's measured quality."""
        if self.settings.serverless:  # serverless endpoints shift traffic all at once
            routing = TrafficRoutingConfig(Type="ALL_AT_ONCE", WaitIntervalInSeconds=0)
            waits = settings.termination_wait_seconds
        else:
            routing = TrafficRoutingConfig(
                Type="CANARY",
                WaitIntervalInSeconds=settings.canary_wait_seconds,
                CanarySize=CapacitySize(Type="CAPACITY_PERCENT", Value=settings.canary_percent),
            )
            waits = settings.canary_wait_seconds + settings.termination_wait_seconds
        return DeploymentConfig(
            BlueGreenUpdatePolicy=BlueGreenPolicy(
                TrafficRoutingConfiguration=routing,
                TerminationWaitInSeconds=settings.termination_wait_seconds,
                MaximumExecutionTimeoutInSeconds=min(
                    max(600, waits + DEPLOYMENT_MARGIN_SECONDS), MAX_DEPLOYMENT_SECONDS
                ),
            ),
            AutoRollbackConfiguration=AutoRollbackConfig(
                Alarms=[
                    *(
                        Alarm(AlarmName=names.endpoint_alarm_name(self.settings.stage, dataset, a))
                        for a in names.ENDPOINT_ALARMS
                    ),
                    *([Alarm(AlarmName=guard.alarm.AlarmName)] if guard else []),
                ]
            ),
        )
