"""The deployment state machine's steps (``state_machines/deployment.asl.json``).

    execution input: DeploymentRequest (the rule on ModelRegistered(Approved), trigger
                     "registered"; or the rule on SageMaker's Model Package State Change
                     (Approved) on the default bus, trigger "registry", which names the
                     package only: Plan resolves its dataset and model)
    Plan                 DeploymentRequest -> DeploymentPlan            at $.plan.result
    CreateEndpointConfig DeploymentPlan.endpoint_config -> its ARN      at $.config
    PutQualityAlarm      DeploymentPlan.quality_alarm (an update of a labelled dataset's
                         endpoint: the alarm on the measured quality of this model only)
    CreateEndpoint | UpdateEndpoint (DeploymentPlan.deployment_config)
    Describe (a loop)    DescribeEndpoint -> EndpointState              at $.endpoint
    Publish*             EndpointDeployed | EndpointRolledBack | EndpointDeploymentFailed
    Retire*              DeploymentPlan.retire_on_verdict | retire_on_failure (DeleteAlarms)

SageMaker itself runs the blue/green canary and its rollback (deployment guardrails);
the state machine starts it and waits for SageMaker's verdict, then says what happened.
The request models below are SageMaker's own shapes, passed on whole (``InputPath``),
so optional fields appear only when set.
"""

from __future__ import annotations

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from driftline_runtime.steps import AwsAnswer, LambdaResult, StepError, StepModel, Tag

# -- the execution's input --------------------------------------------------------------
# Which rule started the deployment: the training state machine's ModelRegistered, or
# the registry's own state change (an approval by hand, or any package created Approved).
Trigger = Literal["registered", "registry"]
# The trigger that deploys a package the gate approved at registration.
REGISTERED: Final = "registered"


class DeploymentRequest(StepModel):
    """What to deploy: the approved package and the model the training run created
    (both empty when the registry's event started it: Plan resolves them)."""

    dataset: str
    model_package_arn: str
    model_name: str
    execution: str
    trigger: Trigger = "registered"


# -- SageMaker's request shapes -----------------------------------------------------------
class ServerlessVariantConfig(StepModel):
    MemorySizeInMB: int
    MaxConcurrency: int


class ProductionVariant(StepModel):
    VariantName: str
    ModelName: str
    InitialVariantWeight: float = 1.0
    InstanceType: str | None = None
    InitialInstanceCount: int | None = None
    ServerlessConfig: ServerlessVariantConfig | None = None


class CaptureOption(StepModel):
    CaptureMode: Literal["Input", "Output"]


class CaptureContentTypes(StepModel):
    CsvContentTypes: list[str]
    JsonContentTypes: list[str]


class DataCapture(StepModel):
    EnableCapture: bool
    InitialSamplingPercentage: int
    DestinationS3Uri: str
    KmsKeyId: str
    CaptureOptions: list[CaptureOption]
    CaptureContentTypeHeader: CaptureContentTypes


class CreateEndpointConfigRequest(StepModel):
    EndpointConfigName: str
    ProductionVariants: list[ProductionVariant]
    DataCaptureConfig: DataCapture | None = None
    # Encrypts the instances' storage volumes (not for serverless variants).
    KmsKeyId: str | None = None
    Tags: list[Tag]


class CapacitySize(StepModel):
    Type: Literal["INSTANCE_COUNT", "CAPACITY_PERCENT"]
    Value: int


class TrafficRoutingConfig(StepModel):
    Type: Literal["ALL_AT_ONCE", "CANARY", "LINEAR"]
    WaitIntervalInSeconds: int
    CanarySize: CapacitySize | None = None


class BlueGreenPolicy(StepModel):
    TrafficRoutingConfiguration: TrafficRoutingConfig
    TerminationWaitInSeconds: int
    MaximumExecutionTimeoutInSeconds: int


class Alarm(StepModel):
    AlarmName: str


class AutoRollbackConfig(StepModel):
    Alarms: list[Alarm]


class DeploymentConfig(StepModel):
    BlueGreenUpdatePolicy: BlueGreenPolicy
    AutoRollbackConfiguration: AutoRollbackConfig


# -- CloudWatch's request shapes ----------------------------------------------------------
class Dimension(StepModel):
    Name: str
    Value: str


class PutMetricAlarmRequest(StepModel):
    """A deployment's own alarm, as an ``aws-sdk:cloudwatch:putMetricAlarm`` task sends it."""

    AlarmName: str
    AlarmDescription: str
    Namespace: str
    MetricName: str
    Dimensions: list[Dimension]
    Statistic: Literal["Maximum"]
    Period: int
    EvaluationPeriods: int
    Threshold: float
    ComparisonOperator: Literal["GreaterThanThreshold"]
    TreatMissingData: Literal["notBreaching"]
    Tags: list[Tag]


class DeleteAlarmsRequest(StepModel):
    AlarmNames: list[str] = Field(min_length=1, max_length=100)


# -- Plan's output ------------------------------------------------------------------------
class DeploymentPlan(StepModel):
    """What the state machine does: nothing (the dataset has no endpoint), or create the
    endpoint, or update it blue/green to a new endpoint config."""

    action: Literal["skip", "create", "update"]
    reason: str
    dataset: str
    model_package_arn: str
    model_version: str
    # The model the endpoint serves (resolved from the package when the request had none).
    model_name: str = ""
    # Set on a skip when another trigger deploys this package (the gate approved it at
    # registration, so its ModelRegistered event does): the trigger's name.
    deployed_by: Trigger | None = None
    endpoint_name: str
    endpoint_config: CreateEndpointConfigRequest | None = None
    deployment_config: DeploymentConfig | None = None
    # Where labels measure the endpoint's models, an update's alarm on the measured
    # quality of the model it rolls out (named in deployment_config's rollback alarms),
    # made just before UpdateEndpoint...
    quality_alarm: PutMetricAlarmRequest | None = None
    # ...and deleted once SageMaker's verdict is in, with what earlier deployments of
    # the endpoint left behind; a failed deployment deletes its own only (another
    # deployment's may be guarding a canary then).
    retire_on_verdict: DeleteAlarmsRequest | None = None
    retire_on_failure: DeleteAlarmsRequest | None = None
    # How long to wait between looks at the endpoint while SageMaker deploys.
    poll_seconds: int = 30


class EndpointState(AwsAnswer):
    """DescribeEndpoint's answer, as the loop's choices read it."""

    EndpointName: str
    EndpointConfigName: str
    EndpointStatus: str
    FailureReason: str | None = None


class DeploymentState(BaseModel):
    """What a deployment execution holds (its input, and what the steps added), as
    ``driftline status`` reads it: a running execution has only its input."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    dataset: str
    model_package_arn: str
    model_name: str
    trigger: Trigger = "registered"
    plan: LambdaResult[DeploymentPlan] | None = None
    endpoint: EndpointState | None = None
    error: StepError | None = None

    @property
    def planned(self) -> DeploymentPlan | None:
        return self.plan.result if self.plan else None

    @property
    def deployed_dataset(self) -> str:
        """The dataset: the input's, or the plan's when the registry's event started it."""
        plan = self.planned
        return self.dataset or (plan.dataset if plan else "")

    @property
    def deployed_model(self) -> str:
        """The model: the input's, or the one Plan resolved from the package."""
        plan = self.planned
        return self.model_name or (plan.model_name if plan else "")

    @property
    def duplicate(self) -> bool:
        """A registry event's execution for a package another trigger deploys."""
        plan = self.planned
        return plan is not None and plan.deployed_by is not None
