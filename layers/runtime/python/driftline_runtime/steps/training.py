"""The training state machine's steps (``state_machines/training.asl.json``), as models.

execution input: TrainingRequest, or the DatasetValidated event the rule delivers
Prepare   PrepareTrainingInput  -> PreparedTraining        at $.prepared.result
Train     PreparedTraining.request -> TrainingJob          at $.training
Evaluate  EvaluateModelInput    -> Evaluation              at $.evaluation.result
Register  RegisterModelInput    -> Registration            at $.registration.result
CreateModel                     -> CreatedModel            at $.model
Publish*  ModelRegistered | ModelRejected | TrainingFailed (driftline_runtime.events)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from driftline_runtime.approval import ApprovalStatus, Champion
from driftline_runtime.events import DatasetValidated, EventEnvelope
from driftline_runtime.steps import (
    AwsAnswer,
    CreatedModel,
    CreateModelRequest,
    JobNetwork,
    LambdaResult,
    StepError,
    StepModel,
    Tag,
)


# -- the execution's input --------------------------------------------------------------
class RetrainingTrigger(StepModel):
    """What made the retraining gate start a training (its execution input): drift of a
    scored batch, or its labels showing the model degraded (``model_quality``)."""

    event_id: str
    dataset: str = Field(description="the drifted (or labelled) inference dataset")
    version: str = Field(description="the batch's version")
    model_package_arn: str
    drifted_features: list[str]
    report_uri: str = Field(description="the drift report, or the quality record")
    time: str
    trigger: Literal["drift", "model_quality"] = "drift"


class TrainingRequest(StepModel):
    """What to train on: ``driftline train`` and the retraining gate start with this."""

    dataset: str
    version: str
    retraining: RetrainingTrigger | None = None
    # An explicit window (validated versions of the dataset, ``version`` among them)
    # instead of the dataset's training_window setting: to repeat a run exactly.
    versions: list[str] | None = None

    @classmethod
    def from_execution_input(cls, value: Mapping[str, Any]) -> TrainingRequest:
        """The request itself, or the DatasetValidated event the training rule delivers."""
        return TrainingTrigger.model_validate({"trigger": value}).request


class TrainingTrigger(StepModel):
    """The execution input as Prepare receives it: a request, or an EventBridge event."""

    trigger: TrainingRequest | EventEnvelope[DatasetValidated]

    @property
    def request(self) -> TrainingRequest:
        if isinstance(self.trigger, TrainingRequest):
            return self.trigger
        event = self.trigger.detail
        return TrainingRequest(dataset=event.dataset, version=event.version)


# -- Prepare ----------------------------------------------------------------------------
class PrepareTrainingInput(TrainingTrigger):
    execution: str


class MetricDefinition(StepModel):
    Name: str
    Regex: str


class TrainingAlgorithm(StepModel):
    TrainingImage: str
    TrainingInputMode: str
    MetricDefinitions: list[MetricDefinition]


class S3Prefix(StepModel):
    S3DataType: str
    S3Uri: str
    S3DataDistributionType: str


class ChannelSource(StepModel):
    S3DataSource: S3Prefix


class InputChannel(StepModel):
    ChannelName: str
    ContentType: str
    DataSource: ChannelSource


class TrainingOutput(StepModel):
    S3OutputPath: str
    KmsKeyId: str


class TrainingResources(StepModel):
    InstanceType: str
    InstanceCount: int
    VolumeSizeInGB: int
    VolumeKmsKeyId: str


class MaxRuntime(StepModel):
    MaxRuntimeInSeconds: int


class CreateTrainingJobRequest(StepModel):
    """SageMaker's CreateTrainingJob request, which the Train task passes on whole."""

    TrainingJobName: str
    RoleArn: str
    AlgorithmSpecification: TrainingAlgorithm
    HyperParameters: dict[str, str]
    InputDataConfig: list[InputChannel]
    OutputDataConfig: TrainingOutput
    ResourceConfig: TrainingResources
    StoppingCondition: MaxRuntime
    EnableInterContainerTrafficEncryption: bool
    Tags: list[Tag]
    # Left out (not null) when SageMaker's own network is used.
    VpcConfig: JobNetwork | None = None


class Holdout(StepModel):
    """The test split's identity: both models of a paired evaluation were measured on it."""

    id: str = Field(description="sha256 of its sorted ids (first 16 hex digits)")
    rows: int
    split: str = Field(description="time: the window's newest rows; hash: by the id's hash")
    time_column: str | None = None
    start: str | None = None
    end: str | None = None


class ChampionCandidate(StepModel):
    """The approved champion Prepare gave the job to score on the challenger's holdout."""

    model_package_arn: str
    model_version: str
    model_data_url: str


class PreparedTraining(StepModel):
    dataset: str
    version: str
    manifest_uri: str
    rows: dict[str, int] = Field(description="rows per channel")
    request: CreateTrainingJobRequest
    # The window: the validated versions the job learns from, and the run's manifest.
    training_versions: list[str] = []
    training_manifest_uri: str | None = None
    holdout: Holdout | None = None
    champion: ChampionCandidate | None = None


# -- Train (sagemaker:createTrainingJob.sync) -------------------------------------------
class Artifacts(AwsAnswer):
    S3ModelArtifacts: str


class Algorithm(AwsAnswer):
    TrainingImage: str


class MetricDatum(AwsAnswer):
    MetricName: str
    Value: float


class TrainingJob(AwsAnswer):
    """The finished job, as the ``.sync`` integration describes it (timestamps in epoch
    milliseconds)."""

    TrainingJobName: str
    ModelArtifacts: Artifacts
    AlgorithmSpecification: Algorithm
    # Absent when the job's output matched none of its metric definitions.
    FinalMetricDataList: list[MetricDatum] = []
    TrainingTimeInSeconds: float | None = None
    TrainingStartTime: float | None = None
    TrainingEndTime: float | None = None

    @property
    def metrics(self) -> dict[str, float]:
        return {datum.MetricName: datum.Value for datum in self.FinalMetricDataList}

    @property
    def seconds(self) -> float | None:
        """How long it trained: SageMaker's own figure, else its end minus its start."""
        if self.TrainingTimeInSeconds is not None:
            return self.TrainingTimeInSeconds
        if self.TrainingStartTime is not None and self.TrainingEndTime is not None:
            return (self.TrainingEndTime - self.TrainingStartTime) / 1000
        return None


# -- Evaluate ---------------------------------------------------------------------------
class EvaluateModelInput(StepModel):
    dataset: str
    execution: str
    training: TrainingJob
    # Prepare's result: the holdout and the champion the job scored on it.
    prepared: PreparedTraining | None = None

    @property
    def holdout(self) -> Holdout | None:
        return self.prepared.holdout if self.prepared else None

    @property
    def champion(self) -> ChampionCandidate | None:
        return self.prepared.champion if self.prepared else None


class ChampionScore(StepModel):
    model_version: str
    metric: float = Field(description="the champion's primary metric on the same holdout")


class PairedEvaluation(StepModel):
    """What ``status --json`` shows as ``models[].evaluation``."""

    # Absent (not null) between steps: step outputs leave None out.
    holdout: Holdout | None = None
    challenger: float
    champion: ChampionScore | None = None


class Evaluation(StepModel):
    """The evaluation gate's decision on the challenger, with its group and metrics."""

    group: str
    metrics: dict[str, float]
    status: ApprovalStatus
    reason: str
    metric: float = Field(description="the challenger's primary metric")
    champion: Champion | None = None
    evaluation: PairedEvaluation | None = None


# -- Register ---------------------------------------------------------------------------
class RegisterModelInput(StepModel):
    dataset: str
    version: str
    manifest_uri: str
    execution: str
    training: TrainingJob
    evaluation: Evaluation
    # Prepare's result: the training window.
    prepared: PreparedTraining | None = None

    @property
    def training_versions(self) -> list[str]:
        return self.prepared.training_versions if self.prepared else []

    @property
    def training_manifest_uri(self) -> str | None:
        return self.prepared.training_manifest_uri if self.prepared else None


class Registration(StepModel):
    model_package_arn: str
    status: ApprovalStatus
    baseline_uri: str
    # What the CreateModel state creates when the package is approved.
    model: CreateModelRequest


# -- the state data ---------------------------------------------------------------------
class TrainingState(BaseModel):
    """The state data once the machine stops: the execution input's own keys, then what
    each step added (absent when it did not run; ``error`` when a step failed)."""

    model_config = ConfigDict(frozen=True, extra="allow")

    prepared: LambdaResult[PreparedTraining] | None = None
    training: TrainingJob | None = None
    evaluation: LambdaResult[Evaluation] | None = None
    registration: LambdaResult[Registration] | None = None
    model: CreatedModel | None = None
    error: StepError | None = None
