"""Drift- and quality-triggered retraining: at most one training per training dataset per
cooldown window, and the promotion of what it trains.

DriftDetected | ModelQualityDegraded --rules--> the retraining gate (a function; cooldown
in DynamoDB) --> the training state machine, with the trigger as context
(RetrainingStarted), or a record and RetrainingSuppressed when the window is taken.
ModelRegistered(Approved) --rule--> the same function --> the batch-inference state
machine on the batch that started that retraining (stage setting rescore_trigger_batch).
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from driftline_runtime.events import DriftDetected, ModelQualityDegraded, ModelRegistered

from infra.constructs.functions import PipelineFunction
from infra.constructs.nag import HIPAA, PACK, acknowledge, resource_finding
from infra.constructs.queues import failure_queue
from infra.constructs.shared import SharedResources
from infra.constructs.state_machine import START_MAX_AGE, START_RETRIES, PipelineStateMachine
from infra.constructs.tables import project_table


class DriftRetraining(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: SharedResources,
        training: PipelineStateMachine,
        inference: PipelineStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        self.shared, self.training, self.inference = shared, training, inference
        config = shared.config
        removal = RemovalPolicy.DESTROY if config.destroy_on_removal else RemovalPolicy.RETAIN
        self.cooldown_table = project_table(
            self,
            "RetrainingCooldown",
            partition="dataset",
            sort="sk",
            key=shared.key,
            removal=removal,
        )
        acknowledge(
            self.cooldown_table,
            "Point-in-time recovery covers 35 days; its items are retraining windows and "
            "suppression records, each also published as an event on the project bus, so a "
            "backup plan would add no record that exists nowhere else.",
            f"{HIPAA}-DynamoDBInBackupPlan",
        )
        self.gate = self._gate()
        self.functions: dict[str, PipelineFunction] = {"retraining_gate": self.gate}
        self.queues: dict[str, sqs.IQueue] = {}
        self._trigger()

    def _gate(self) -> PipelineFunction:
        shared = self.shared
        gate = shared.function(
            self,
            "RetrainingGate",
            source="retraining_gate",
            description="Starts at most one drift-triggered retraining per cooldown window",
            environment={
                "COOLDOWN_TABLE": self.cooldown_table.table_name,
                "LINEAGE_TABLE": shared.tables.lineage.table_name,
                "TRAINING_STATE_MACHINE_ARN": self.training.arn,
                "EVENT_BUS_NAME": shared.bus.event_bus_name,
                "COOLDOWN_MINUTES": str(shared.config.retraining_cooldown_minutes),
                "MODEL_PACKAGE_GROUP_PREFIX": shared.model_group_prefix,
                "RESCORE_TRIGGER_BATCH": str(shared.config.rescore_trigger_batch).lower(),
                **(
                    {"BATCH_INFERENCE_STATE_MACHINE_ARN": self.inference.arn}
                    if shared.config.rescore_trigger_batch
                    else {}
                ),
            },
        )
        executions = f"{self.training.executions_arn}:*"
        registry = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        packages = f"{registry}:model-package/{shared.model_group_prefix}-*/*"
        for actions, resources in (
            (
                ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"],
                [self.cooldown_table.table_arn],
            ),
            (["dynamodb:Query"], [shared.tables.lineage.table_arn]),
            (["kms:Decrypt", "kms:GenerateDataKey"], [shared.key.key_arn]),
            (["states:StartExecution"], [self.training.arn]),
            (["states:DescribeExecution"], [executions]),
            (["events:PutEvents"], [shared.bus.event_bus_arn]),
            # The champion's training versions: is there anything new to learn from?
            (["sagemaker:DescribeModelPackage"], [packages]),
            # ListModelPackages supports no resource-level permissions.
            (["sagemaker:ListModelPackages"], ["*"]),
            # Promotion: the batch that asked for an approved retraining, scored again.
            *(
                [(["states:StartExecution"], [self.inference.arn])]
                if shared.config.rescore_trigger_batch
                else []
            ),
        ):
            gate.role.add_to_principal_policy(
                iam.PolicyStatement(actions=actions, resources=resources)
            )
        acknowledge(
            gate.role,
            "Describes the training executions it started (their names derive from the event "
            "that started them), and reads this stage's model packages (ListModelPackages "
            "supports no resource-level permissions).",
            resource_finding(self, executions),
            resource_finding(self, packages),
            f"{PACK}-IAM5[Resource::*]",
        )
        return gate

    def _trigger(self) -> None:
        shared, gate = self.shared, self.gate.function
        failures = failure_queue(
            self,
            "RetrainingGateFailures",
            key=shared.key,
            holds="the retraining gate's failed invocations (its on-failure destination)",
        )
        undelivered = failure_queue(
            self,
            "UndeliveredDriftEvents",
            key=shared.key,
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
            self.gate.role,
            "Sending to the KMS-encrypted failure queue: the SQS destination grants "
            "kms:GenerateDataKey*/kms:ReEncrypt* on the project key only.",
            f"{PACK}-IAM5[Action::kms:GenerateDataKey*]",
            f"{PACK}-IAM5[Action::kms:ReEncrypt*]",
        )
        rule = events.Rule(
            self,
            "RetrainOnDrift",
            event_bus=shared.bus,
            description="Drift above threshold asks the retraining gate for a retraining",
            event_pattern=events.EventPattern(
                source=[DriftDetected.SOURCE], detail_type=[DriftDetected.detail_type()]
            ),
        )
        degraded = events.Rule(
            self,
            "RetrainOnModelQuality",
            event_bus=shared.bus,
            description="Labels showing a degraded model ask the retraining gate for a retraining",
            event_pattern=events.EventPattern(
                source=[ModelQualityDegraded.SOURCE],
                detail_type=[ModelQualityDegraded.detail_type()],
            ),
        )
        degraded.add_target(
            targets.LambdaFunction(
                gate,
                dead_letter_queue=undelivered,
                retry_attempts=START_RETRIES,
                max_event_age=START_MAX_AGE,
            )
        )
        rule.add_target(
            targets.LambdaFunction(
                gate,
                dead_letter_queue=undelivered,
                retry_attempts=START_RETRIES,
                max_event_age=START_MAX_AGE,
            )
        )
        if shared.config.rescore_trigger_batch:
            approved = events.Rule(
                self,
                "RescoreOnApproval",
                event_bus=shared.bus,
                description="An approved retraining rescores the batch that asked for it",
                event_pattern=events.EventPattern(
                    source=[ModelRegistered.SOURCE],
                    detail_type=[ModelRegistered.detail_type()],
                    detail={"status": ["Approved"]},
                ),
            )
            approved.add_target(
                targets.LambdaFunction(
                    gate,
                    dead_letter_queue=undelivered,
                    retry_attempts=START_RETRIES,
                    max_event_age=START_MAX_AGE,
                )
            )
