"""Batch inference, drift monitoring and drift-triggered retraining.

DatasetValidated(kind=inference) --rule--> BatchInferenceStateMachine
(state_machines/batch_inference.asl.json): resolve the approved model -> CreateModel ->
Distributed Map of transform jobs -> predictions with lineage -> drift monitor ->
InferenceCompleted (and DriftDetected above threshold).
DriftDetected --rule--> retraining gate (cooldown) --> training state machine.
"""

from __future__ import annotations

import json

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct
from driftline_runtime import layout, names
from driftline_runtime.events import DatasetValidated, DriftDetected

from infra.config import StageConfig
from infra.constructs.buckets import DataBucket
from infra.constructs.functions import PipelineFunction, log_retention
from infra.constructs.nag import (
    HIPAA,
    PACK,
    acknowledge,
    acknowledge_inline_policy,
    acknowledge_synchronous_invocation,
    resource_finding,
)
from infra.constructs.queues import failure_queue
from infra.constructs.sagemaker_tasks import grant_sagemaker_tasks
from infra.constructs.tables import project_table
from infra.packaging import STATE_MACHINES
from infra.stacks.data_stack import DataStack

# SageMaker's default request size for batch transform (a record never exceeds it here).
MAX_PAYLOAD_MB = 6


class BatchInference(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        data: DataStack,
        artifacts: s3.IBucket,
        access_logs: s3.IBucket,
        sagemaker_role: iam.IRole,
        training: sfn.StateMachine,
        group_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.config, self.data, self.artifacts = config, data, artifacts
        self.sagemaker_role, self.training, self.group_prefix = (
            sagemaker_role,
            training,
            group_prefix,
        )
        self.predictions_bucket = DataBucket(
            self,
            "Predictions",
            config=config,
            key=data.key,
            access_logs=access_logs,
            retention_days=None,
        ).bucket
        removal = RemovalPolicy.DESTROY if config.destroy_on_removal else RemovalPolicy.RETAIN
        self.cooldown_table = project_table(
            self,
            "RetrainingCooldown",
            partition="dataset",
            sort="sk",
            key=data.key,
            removal=removal,
        )
        acknowledge(
            self.cooldown_table,
            "Point-in-time recovery covers 35 days; its items are retraining windows and "
            "suppression records, each also published as an event on the project bus, so a "
            "backup plan would add no record that exists nowhere else.",
            f"{HIPAA}-DynamoDBInBackupPlan",
        )
        self.queues: dict[str, sqs.IQueue] = {}
        self.functions = self._functions()
        self.state_machine = self._state_machine()
        self._inference_triggers()
        self._retraining_trigger()

    # -- functions -------------------------------------------------------------------
    def _functions(self) -> dict[str, PipelineFunction]:
        config, data = self.config, self.data
        common = {"config": config, "layers": data.layers, "key": data.key}
        transform = Stack.of(self).to_json_string(
            {
                "instance_type": config.inference_instance_type,
                "volume_kms_key": data.key.key_arn,
                "max_payload_mb": MAX_PAYLOAD_MB,
                "max_concurrency": config.inference_max_concurrency,
                "rows_per_part": config.inference_rows_per_part,
            }
        )
        functions = {
            "prepare_inference": PipelineFunction(
                self,
                "PrepareInference",
                source="prepare_inference",
                description="Resolves the approved model and writes a version's transform input",
                memory_size=1769,
                timeout=Duration.minutes(5),
                environment={
                    "CURATED_BUCKET": data.curated_bucket.bucket_name,
                    "ARTIFACTS_BUCKET": self.artifacts.bucket_name,
                    "LINEAGE_TABLE": data.lineage_table.table_name,
                    "MODEL_PACKAGE_GROUP_PREFIX": self.group_prefix,
                    "TRANSFORM": transform,
                },
                **common,  # type: ignore[arg-type]
            ),
            "write_predictions": PipelineFunction(
                self,
                "WritePredictions",
                source="write_predictions",
                description="Joins transform outputs to their inputs and writes predictions",
                memory_size=1769,
                timeout=Duration.minutes(5),
                environment={"PREDICTIONS_BUCKET": self.predictions_bucket.bucket_name},
                **common,  # type: ignore[arg-type]
            ),
            "monitor_drift": PipelineFunction(
                self,
                "MonitorDrift",
                source="monitor_drift",
                description="Measures a scored batch's drift from its training baseline",
                memory_size=1769,
                timeout=Duration.minutes(5),
                environment={
                    "PREDICTIONS_BUCKET": self.predictions_bucket.bucket_name,
                    "EVENT_BUS_NAME": data.bus.event_bus_name,
                    "DRIFT_THRESHOLDS": json.dumps(
                        {name: t.model_dump() for name, t in config.drift_thresholds.items()}
                    ),
                },
                **common,  # type: ignore[arg-type]
            ),
            "retraining_gate": PipelineFunction(
                self,
                "RetrainingGate",
                source="retraining_gate",
                description="Starts at most one drift-triggered retraining per cooldown window",
                environment={
                    "COOLDOWN_TABLE": self.cooldown_table.table_name,
                    "LINEAGE_TABLE": data.lineage_table.table_name,
                    "TRAINING_STATE_MACHINE_ARN": self.training.state_machine_arn,
                    "EVENT_BUS_NAME": data.bus.event_bus_name,
                    "COOLDOWN_MINUTES": str(config.retraining_cooldown_minutes),
                },
                **common,  # type: ignore[arg-type]
            ),
        }
        self._grant_functions(functions)
        return functions

    def _grant_functions(self, functions: dict[str, PipelineFunction]) -> None:
        data, artifacts, predictions = self.data, self.artifacts, self.predictions_bucket
        registry = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        packages = f"{registry}:model-package/{self.group_prefix}-*/*"
        baselines = artifacts.arn_for_objects(f"{layout.MODELS_PREFIX}/*")
        inference = artifacts.arn_for_objects(f"{layout.INFERENCE_PREFIX}/*")
        predictions_objects = predictions.arn_for_objects(f"{layout.PREDICTIONS_PREFIX}/*")
        drift_reports = predictions.arn_for_objects(f"{layout.DRIFT_PREFIX}/*")
        key = [data.key.key_arn]
        lineage = [data.lineage_table.table_arn]
        executions = self.training.state_machine_arn.replace(":stateMachine:", ":execution:")
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
                (["events:PutEvents"], [data.bus.event_bus_arn]),
            ],
            "retraining_gate": [
                (
                    [
                        "dynamodb:GetItem",
                        "dynamodb:PutItem",
                        "dynamodb:UpdateItem",
                        "dynamodb:Query",
                    ],
                    [self.cooldown_table.table_arn],
                ),
                (["dynamodb:Query"], lineage),
                (["kms:Decrypt", "kms:GenerateDataKey"], key),
                (["states:StartExecution"], [self.training.state_machine_arn]),
                (["states:DescribeExecution"], [f"{executions}:*"]),
                (["events:PutEvents"], [data.bus.event_bus_arn]),
            ],
        }
        for name, statements in grants.items():
            role = functions[name].role
            for actions, resources in statements:
                role.add_to_principal_policy(
                    iam.PolicyStatement(actions=actions, resources=resources)
                )
        for name in ("prepare_inference", "write_predictions", "monitor_drift"):
            functions[name].role.add_managed_policy(data.curated_reader)
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
        acknowledge(
            functions["retraining_gate"].role,
            "Describes the training executions it started (their names derive from the event "
            "that started them).",
            resource_finding(self, f"{executions}:*"),
        )

    # -- the state machine -------------------------------------------------------------
    def _state_machine(self) -> sfn.StateMachine:
        config, data = self.config, self.data
        name = names.state_machine_name(config.stage, names.BATCH_INFERENCE_STATE_MACHINE)
        log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"{names.STATE_MACHINE_LOGS_PREFIX}{name}",
            retention=log_retention(config.log_retention_days),
            encryption_key=data.key,
            removal_policy=RemovalPolicy.DESTROY,
        )
        state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            state_machine_name=name,
            definition_body=sfn.DefinitionBody.from_file(
                str(STATE_MACHINES / "batch_inference.asl.json")
            ),
            definition_substitutions={
                "PrepareFunctionArn": self.functions["prepare_inference"].function.function_arn,
                "WritePredictionsFunctionArn": self.functions[
                    "write_predictions"
                ].function.function_arn,
                "MonitorDriftFunctionArn": self.functions["monitor_drift"].function.function_arn,
                "SageMakerRoleArn": self.sagemaker_role.role_arn,
                "EventBusName": data.bus.event_bus_name,
            },
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL),
        )
        self._grant_state_machine(state_machine, name)
        acknowledge_inline_policy(state_machine)  # its role, and the rules' role to start it
        for key in ("prepare_inference", "write_predictions", "monitor_drift"):
            acknowledge_synchronous_invocation(
                self.functions[key].function, "the batch inference state machine"
            )
        return state_machine

    def _grant_state_machine(self, state_machine: sfn.StateMachine, name: str) -> None:
        # A Distributed Map runs its iterations as child executions of this state machine,
        # and lists its items (the input parts) in the artifacts bucket.
        states = f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        own_executions = f"{states}:execution:{name}/*"
        grant_sagemaker_tasks(
            state_machine,
            job_kind="transform",
            sagemaker_role=self.sagemaker_role,
            key=self.data.key,
            bus=self.data.bus,
            functions=[
                self.functions[key].function
                for key in ("prepare_inference", "write_predictions", "monitor_drift")
            ],
            extra=[
                (["s3:ListBucket"], [self.artifacts.bucket_arn]),
                (["states:StartExecution"], [f"{states}:stateMachine:{name}"]),
                (["states:DescribeExecution", "states:StopExecution"], [own_executions]),
            ],
            reason="Transform jobs and models are named per run (dl-<dataset>-<run>); the "
            "grant is limited to that prefix. The Distributed Map's child executions are "
            "named by Step Functions.",
            extra_findings=[resource_finding(self, own_executions)],
        )

    # -- triggers ----------------------------------------------------------------------
    def _inference_triggers(self) -> None:
        data = self.data
        undelivered = failure_queue(
            self,
            "UndeliveredInferenceStarts",
            key=data.key,
            holds="inference starts the rules could not deliver (their targets' dead-letter queue)",
        )
        self.queues["inference_starts"] = undelivered

        def target(request: dict[str, object]) -> targets.SfnStateMachine:
            return targets.SfnStateMachine(
                self.state_machine,
                input=events.RuleTargetInput.from_object(request),
                dead_letter_queue=undelivered,
                retry_attempts=8,
                max_event_age=Duration.hours(24),
            )

        rule = events.Rule(
            self,
            "ScoreValidatedData",
            event_bus=data.bus,
            description="A validated inference dataset version starts batch inference",
            event_pattern=events.EventPattern(
                source=[DatasetValidated.SOURCE],
                detail_type=[DatasetValidated.detail_type()],
                detail={"kind": ["inference"]},
            ),
        )
        rule.add_target(
            target(
                {
                    "dataset": events.EventField.from_path("$.detail.dataset"),
                    "version": events.EventField.from_path("$.detail.version"),
                }
            )
        )
        if self.config.inference_schedule is None:
            return
        for dataset in self.data.layers.datasets:
            if dataset["kind"] != "inference":
                continue
            name = dataset["name"]
            scheduled = events.Rule(
                self,
                f"ScoreOnSchedule-{name}",
                description=f"Re-scores the newest validated version of {name}",
                schedule=events.Schedule.expression(self.config.inference_schedule),
            )
            scheduled.add_target(target({"dataset": name, "scheduled": True}))

    def _retraining_trigger(self) -> None:
        data = self.data
        gate = self.functions["retraining_gate"].function
        failures = failure_queue(
            self,
            "RetrainingGateFailures",
            key=data.key,
            holds="the retraining gate's failed invocations (its on-failure destination)",
        )
        undelivered = failure_queue(
            self,
            "UndeliveredDriftEvents",
            key=data.key,
            holds="drift events the rule could not deliver (its target's dead-letter queue)",
        )
        self.queues["retraining_gate_failures"] = failures
        self.queues["undelivered_drift_events"] = undelivered
        gate.configure_async_invoke(
            on_failure=destinations.SqsDestination(failures),
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        acknowledge(
            gate,
            "Failed asynchronous invocations go to an on-failure destination (the "
            "RetrainingGateFailures queue), which keeps the error and the request, unlike a "
            "dead-letter queue that keeps only the event.",
            f"{HIPAA}-LambdaDLQ",
        )
        acknowledge(
            self.functions["retraining_gate"].role,
            "Sending to the KMS-encrypted failure queue: the SQS destination grants "
            "kms:GenerateDataKey*/kms:ReEncrypt* on the project key only.",
            f"{PACK}-IAM5[Action::kms:GenerateDataKey*]",
            f"{PACK}-IAM5[Action::kms:ReEncrypt*]",
        )
        rule = events.Rule(
            self,
            "RetrainOnDrift",
            event_bus=data.bus,
            description="Drift above threshold asks the retraining gate for a retraining",
            event_pattern=events.EventPattern(
                source=[DriftDetected.SOURCE], detail_type=[DriftDetected.detail_type()]
            ),
        )
        rule.add_target(
            targets.LambdaFunction(
                gate,
                dead_letter_queue=undelivered,
                retry_attempts=8,
                max_event_age=Duration.hours(24),
            )
        )
