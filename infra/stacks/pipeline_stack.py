"""The model lifecycle: validated data becomes registered models, predictions and drift.

Three constructs of equal rank, each with its own state machine or function, triggers and
failure queues, over the resources they share (``infra.constructs.shared``):

    TrainingPipeline   DatasetValidated(kind=training) -> a registered model
    BatchInference     DatasetValidated(kind=inference) -> predictions, drift report
    DriftRetraining    DriftDetected -> at most one retraining per cooldown window
    LabelsJoin         DatasetValidated(labels) -> model quality, feedback training data
    RealtimeDeployment ModelRegistered(Approved) -> the dataset's real-time endpoint
    CapturedTraffic    an endpoint's data capture, each window -> a batch of its dataset

The stack owns what they share beyond the data stack's resources: the artifacts bucket
and SageMaker's execution environment (role, image, code).
"""

from __future__ import annotations

from aws_cdk import CfnElement, CfnOutput, Stack
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct
from driftline_runtime import names

from infra.config import StageConfig
from infra.constructs.batch_inference import BatchInference
from infra.constructs.buckets import AccessLogsBucket, DataBucket
from infra.constructs.capture import CapturedTraffic
from infra.constructs.functions import PipelineFunction, SharedLayers
from infra.constructs.labels import LabelsJoin
from infra.constructs.logical_ids import Moved, legacy_id
from infra.constructs.realtime import RealtimeDeployment
from infra.constructs.retraining import DriftRetraining
from infra.constructs.sagemaker import SageMakerJobs
from infra.constructs.sagemaker_logs import SageMakerLogGroups
from infra.constructs.shared import DataResources
from infra.constructs.training import TrainingPipeline

# Where the constructs' resources were deployed before training, batch inference and
# retraining became constructs of their own; they keep those logical IDs (see
# infra.constructs.logical_ids), and tests/infra pins them.
MOVED = (
    Moved(("SageMaker", "Role"), ("SageMakerRole",)),
    Moved(("SageMaker", "Images"), ("SklearnImages",)),
    Moved(("Training", "StateMachine", "Logs"), ("TrainingLogs",)),
    Moved(("Training", "StateMachine", "Role"), ("TrainingStateMachine", "Role")),
    Moved(("Training", "StateMachine", "Resource"), ("TrainingStateMachine",)),
    Moved(("Training",), ()),
    Moved(("BatchInference", "StateMachine", "Logs"), ("BatchInference", "Logs")),
    Moved(("BatchInference", "StateMachine", "Resource"), ("BatchInference", "StateMachine")),
    Moved(("DriftRetraining",), ("BatchInference",)),
)


class PipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        data: DataResources,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.config = config
        # Its own access-log target: CDK can only add the log-delivery policy's source
        # conditions for a target bucket in the same stack.
        access_logs = AccessLogsBucket(self, "AccessLogs", config=config).bucket
        artifacts = DataBucket(
            self,
            "Artifacts",
            config=config,
            key=data.key,
            access_logs=access_logs,
            retention_days=None,
        ).bucket
        sagemaker = SageMakerJobs(
            self, "SageMaker", config=config, key=data.key, artifacts=artifacts
        )
        self.shared = data.with_pipeline(
            layers=SharedLayers(self, "Layers", config=config),
            artifacts=artifacts,
            access_logs=access_logs,
            sagemaker=sagemaker,
        )
        self.training = TrainingPipeline(self, "Training", shared=self.shared)
        self.inference = BatchInference(self, "BatchInference", shared=self.shared)
        self.retraining = DriftRetraining(
            self,
            "DriftRetraining",
            shared=self.shared,
            training=self.training.state_machine,
            inference=self.inference.state_machine,
        )
        self.labels = LabelsJoin(
            self, "Labels", shared=self.shared, predictions=self.inference.predictions_bucket
        )
        self.realtime = RealtimeDeployment(
            self,
            "Realtime",
            shared=self.shared,
            capture_bucket=self.inference.predictions_bucket,
        )
        self.capture = CapturedTraffic(
            self,
            "Capture",
            shared=self.shared,
            capture_bucket=self.inference.predictions_bucket,
        )
        self.sagemaker_logs = (
            SageMakerLogGroups(self, "SageMakerLogs", shared=self.shared)
            if config.manage_sagemaker_log_groups
            else None
        )
        # What the monitoring stack alarms on: every state machine, every function and
        # every queue where failed work waits, from every construct.
        self.functions: dict[str, PipelineFunction] = {
            **self.training.functions,
            **self.inference.functions,
            **self.retraining.functions,
            **self.labels.functions,
            **self.realtime.functions,
            **self.capture.functions,
            **({"sagemaker_logs": self.sagemaker_logs.function} if self.sagemaker_logs else {}),
        }
        self.queues: dict[str, sqs.IQueue] = {
            **self.training.queues,
            **self.inference.queues,
            **self.retraining.queues,
            **self.labels.queues,
            **self.realtime.queues,
            **self.capture.queues,
        }
        self.state_machines: dict[str, sfn.StateMachine] = {
            "training": self.training.state_machine.state_machine,
            "batch_inference": self.inference.state_machine.state_machine,
            "deployment": self.realtime.state_machine.state_machine,
        }
        for key, value in (
            (names.TRAINING_STATE_MACHINE_OUTPUT, self.training.state_machine.arn),
            (names.BATCH_INFERENCE_STATE_MACHINE_OUTPUT, self.inference.state_machine.arn),
            (names.DEPLOYMENT_STATE_MACHINE_OUTPUT, self.realtime.state_machine.arn),
            (names.ARTIFACTS_BUCKET_OUTPUT, artifacts.bucket_name),
            (names.PREDICTIONS_BUCKET_OUTPUT, self.inference.predictions_bucket.bucket_name),
            (names.COOLDOWN_TABLE_OUTPUT, self.retraining.cooldown_table.table_name),
            (names.MODEL_PACKAGE_GROUP_PREFIX_OUTPUT, self.shared.model_group_prefix),
        ):
            CfnOutput(self, key, value=value)

    def _allocate_logical_id(self, cfn_element: CfnElement) -> str:
        """CDK's allocation, except for resources of moved constructs (``MOVED``)."""
        path = [scope.node.id for scope in cfn_element.node.scopes[len(self.node.scopes) :]]
        return legacy_id(path, MOVED) or super()._allocate_logical_id(cfn_element)
