"""Batch inference: a validated inference dataset version is scored, with its drift.

DatasetValidated(kind=inference) (or a schedule) --rule--> the batch inference state
machine (state_machines/batch_inference.asl.json): resolve the approved model ->
CreateModel -> Distributed Map of transform jobs -> predictions with lineage -> drift
monitor -> InferenceCompleted (and DriftDetected when the batch drifted; InferenceFailed from
any step). What drift then starts is ``infra.constructs.retraining``'s.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from driftline_runtime import layout, names
from driftline_runtime.events import DatasetValidated

from infra.constructs.buckets import DataBucket
from infra.constructs.functions import PipelineFunction
from infra.constructs.nag import PACK, acknowledge, resource_finding
from infra.constructs.queues import failure_queue
from infra.constructs.sagemaker_tasks import grant_sagemaker_tasks
from infra.constructs.shared import SharedResources
from infra.constructs.state_machine import PipelineStateMachine

# SageMaker's default request size for batch transform (a record never exceeds it here).
MAX_PAYLOAD_MB = 6


class BatchInference(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, shared: SharedResources) -> None:
        super().__init__(scope, construct_id)
        self.shared = shared
        config = shared.config
        self.predictions_bucket: s3.IBucket = DataBucket(
            self,
            "Predictions",
            config=config,
            key=shared.key,
            access_logs=shared.buckets.access_logs,
            retention_days=None,
        ).bucket
        self.queues: dict[str, sqs.IQueue] = {}
        self.functions = self._functions()
        self.state_machine = PipelineStateMachine(
            self,
            "StateMachine",
            shared=shared,
            name=names.BATCH_INFERENCE_STATE_MACHINE,
            definition="batch_inference.asl.json",
            functions={
                "PrepareFunctionArn": self.functions["prepare_inference"],
                "WritePredictionsFunctionArn": self.functions["write_predictions"],
                "MonitorDriftFunctionArn": self.functions["monitor_drift"],
            },
        )
        self._grant_state_machine()
        self._triggers()

    # -- functions -------------------------------------------------------------------
    def _functions(self) -> dict[str, PipelineFunction]:
        shared = self.shared
        config = shared.config
        transform = Stack.of(self).to_json_string(
            {
                "instance_type": config.inference_instance_type,
                "volume_kms_key": shared.key.key_arn,
                "max_payload_mb": MAX_PAYLOAD_MB,
                "max_concurrency": config.inference_max_concurrency,
                "part_size_bytes": config.inference_part_size_mib * 1024 * 1024,
            }
        )
        functions = {
            "prepare_inference": shared.function(
                self,
                "PrepareInference",
                source="prepare_inference",
                description="Resolves the approved model and writes a version's transform input",
                memory_size=1769,
                timeout=Duration.minutes(5),
                environment={
                    "CURATED_BUCKET": shared.buckets.curated.bucket_name,
                    "ARTIFACTS_BUCKET": shared.buckets.artifacts.bucket_name,
                    "LINEAGE_TABLE": shared.tables.lineage.table_name,
                    "MODEL_PACKAGE_GROUP_PREFIX": shared.model_group_prefix,
                    "TRANSFORM": transform,
                    "MODEL": shared.sagemaker.model_settings,
                },
            ),
            "write_predictions": shared.function(
                self,
                "WritePredictions",
                source="write_predictions",
                description="Joins transform outputs to their inputs and writes predictions",
                memory_size=1769,
                timeout=Duration.minutes(5),
                environment={"PREDICTIONS_BUCKET": self.predictions_bucket.bucket_name},
            ),
            "monitor_drift": shared.function(
                self,
                "MonitorDrift",
                source="monitor_drift",
                description="Measures a scored batch's drift from its training baseline",
                memory_size=1769,
                timeout=Duration.minutes(5),
                environment={
                    "PREDICTIONS_BUCKET": self.predictions_bucket.bucket_name,
                    "EVENT_BUS_NAME": shared.bus.event_bus_name,
                },
            ),
        }
        self._grant_functions(functions)
        return functions

    def _grant_functions(self, functions: dict[str, PipelineFunction]) -> None:
        shared = self.shared
        artifacts, predictions = shared.buckets.artifacts, self.predictions_bucket
        registry = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        packages = f"{registry}:model-package/{shared.model_group_prefix}-*/*"
        baselines = artifacts.arn_for_objects(f"{layout.MODELS_PREFIX}/*")
        inference = artifacts.arn_for_objects(f"{layout.INFERENCE_PREFIX}/*")
        predictions_objects = predictions.arn_for_objects(f"{layout.PREDICTIONS_PREFIX}/*")
        drift_reports = predictions.arn_for_objects(f"{layout.DRIFT_PREFIX}/*")
        key = [shared.key.key_arn]
        lineage = [shared.tables.lineage.table_arn]
        grants: dict[str, list[tuple[list[str], list[str]]]] = {
            "prepare_inference": [
                (["s3:GetObject"], [baselines]),
                (["s3:PutObject"], [inference]),
                (["kms:Decrypt", "kms:GenerateDataKey"], key),
                (["dynamodb:Query", "dynamodb:GetItem"], lineage),
                (["sagemaker:DescribeModelPackage"], [packages]),
                # ListModelPackages supports no resource-level permissions.
                (["sagemaker:ListModelPackages"], ["*"]),
            ],
            "write_predictions": [
                (["s3:ListBucket"], [artifacts.bucket_arn]),
                (["s3:GetObject"], [inference]),
                (["s3:PutObject"], [predictions_objects]),
                (["kms:Decrypt", "kms:GenerateDataKey"], key),
            ],
            "monitor_drift": [
                (["s3:GetObject"], [baselines, predictions_objects]),
                (["s3:PutObject"], [drift_reports]),
                (["kms:Decrypt", "kms:GenerateDataKey"], key),
                (["events:PutEvents"], [shared.bus.event_bus_arn]),
            ],
        }
        for name, statements in grants.items():
            role = functions[name].role
            for actions, resources in statements:
                role.add_to_principal_policy(
                    iam.PolicyStatement(actions=actions, resources=resources)
                )
            role.add_managed_policy(shared.curated_reader)
        acknowledge(
            functions["prepare_inference"].role,
            "Reads the training baseline of whichever approved package it resolves (models/ "
            "prefix of the artifacts bucket), writes transform input under inference/, and "
            "describes this stage's model packages. ListModelPackages supports no "
            "resource-level permissions.",
            resource_finding(self, baselines),
            resource_finding(self, inference),
            resource_finding(self, packages),
            f"{PACK}-IAM5[Resource::*]",
        )
        acknowledge(
            functions["write_predictions"].role,
            "Reads the transform outputs of its run under inference/ and writes predictions "
            "under predictions/, one folder per dataset version and run.",
            resource_finding(self, inference),
            resource_finding(self, predictions_objects),
        )
        acknowledge(
            functions["monitor_drift"].role,
            "Reads the baseline and predictions of the run it is given and writes drift "
            "reports under drift/, one per dataset version and run.",
            resource_finding(self, baselines),
            resource_finding(self, predictions_objects),
            resource_finding(self, drift_reports),
        )

    # -- the state machine -------------------------------------------------------------
    def _grant_state_machine(self) -> None:
        # A Distributed Map runs its iterations as child executions of this state machine,
        # and lists its items (the input parts) in the artifacts bucket.
        machine = self.state_machine
        states = f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        own_executions = f"{states}:execution:{machine.name}/*"
        artifacts = self.shared.buckets.artifacts
        # The Map's ResultWriter puts the parts' results under each run's inference/ folder.
        results = artifacts.arn_for_objects(f"{layout.INFERENCE_PREFIX}/*")
        grant_sagemaker_tasks(
            machine,
            shared=self.shared,
            job_kind="transform",
            extra=[
                (["s3:ListBucket"], [artifacts.bucket_arn]),
                (["s3:PutObject"], [results]),
                (["kms:GenerateDataKey"], [self.shared.key.key_arn]),
                (["states:StartExecution"], [f"{states}:stateMachine:{machine.name}"]),
                (["states:DescribeExecution", "states:StopExecution"], [own_executions]),
            ],
            reason="Transform jobs and models are named per run (dl-<stage>-<dataset>-<run>); "
            "the grant is limited to that prefix. The Distributed Map's child executions are "
            "named by Step Functions, and its ResultWriter writes each run's results under "
            "inference/<dataset>/<run>/results/.",
            extra_findings=[
                resource_finding(self, own_executions),
                resource_finding(self, results),
            ],
        )

    # -- triggers ----------------------------------------------------------------------
    def _triggers(self) -> None:
        shared = self.shared
        undelivered = failure_queue(
            self,
            "UndeliveredInferenceStarts",
            key=shared.key,
            holds="inference starts the rules could not deliver (their targets' dead-letter queue)",
        )
        self.queues["inference_starts"] = undelivered
        rule = events.Rule(
            self,
            "ScoreValidatedData",
            event_bus=shared.bus,
            description="A validated inference dataset version starts batch inference",
            event_pattern=events.EventPattern(
                source=[DatasetValidated.SOURCE],
                detail_type=[DatasetValidated.detail_type()],
                detail={"kind": ["inference"]},
            ),
        )
        rule.add_target(
            self.state_machine.target(
                undelivered,
                {
                    "dataset": events.EventField.from_path("$.detail.dataset"),
                    "version": events.EventField.from_path("$.detail.version"),
                },
            )
        )
        if shared.config.inference_schedule is None:
            return
        # Every declared dataset, as the contracts layer was built (no module is imported).
        for dataset in shared.layers.datasets:
            if dataset["kind"] != "inference":
                continue
            name = dataset["name"]
            scheduled = events.Rule(
                self,
                f"ScoreOnSchedule-{name}",
                description=f"Re-scores the newest validated version of {name}",
                schedule=events.Schedule.expression(shared.config.inference_schedule),
            )
            scheduled.add_target(
                self.state_machine.target(undelivered, {"dataset": name, "scheduled": True})
            )
