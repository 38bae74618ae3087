"""Ground truth: labels files joined with the predictions they label.

DatasetValidated(kind=labels) --rule--> the join-labels function: the join report, the
deployed model's measured quality per scored run (CloudWatch metrics,
ModelQualityDegraded on the bus) and the labelled scored rows fed back to the raw
bucket as a training file of the model's dataset, which ingestion validates like any.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from driftline_runtime import layout
from driftline_runtime.events import DatasetValidated

from infra.constructs.functions import PipelineFunction
from infra.constructs.nag import HIPAA, PACK, acknowledge, resource_finding
from infra.constructs.queues import failure_queue
from infra.constructs.shared import SharedResources
from infra.constructs.state_machine import START_MAX_AGE, START_RETRIES


class LabelsJoin(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: SharedResources,
        predictions: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.shared, self.predictions = shared, predictions
        self.join = shared.function(
            self,
            "JoinLabels",
            source="join_labels",
            description="Joins labels with predictions: model quality and feedback data",
            memory_size=1769,
            timeout=Duration.minutes(5),
            environment={
                "CURATED_BUCKET": shared.buckets.curated.bucket_name,
                "PREDICTIONS_BUCKET": predictions.bucket_name,
                "RAW_BUCKET": shared.buckets.raw.bucket_name,
                "EVENT_BUS_NAME": shared.bus.event_bus_name,
            },
        )
        self.functions: dict[str, PipelineFunction] = {"join_labels": self.join}
        self.queues: dict[str, sqs.IQueue] = {}
        self._grant()
        self._trigger()

    def _grant(self) -> None:
        shared, predictions, role = self.shared, self.predictions, self.join.role
        registry = f"arn:{Aws.PARTITION}:sagemaker:{Aws.REGION}:{Aws.ACCOUNT_ID}"
        packages = f"{registry}:model-package/{shared.model_group_prefix}-*/*"
        scored = predictions.arn_for_objects(f"{layout.PREDICTIONS_PREFIX}/*")
        written = [
            predictions.arn_for_objects(f"{layout.LABELS_PREFIX}/*"),
            predictions.arn_for_objects(f"{layout.QUALITY_PREFIX}/*"),
        ]
        for actions, resources, conditions in (
            (["s3:GetObject"], [scored, *written], None),
            (["s3:PutObject"], written, None),
            (
                ["s3:ListBucket"],
                [predictions.bucket_arn],
                {
                    "StringLike": {
                        "s3:prefix": [
                            f"{layout.PREDICTIONS_PREFIX}/*",
                            f"{layout.LABELS_PREFIX}/*",
                        ]
                    }
                },
            ),
            (["kms:Decrypt", "kms:GenerateDataKey"], [shared.key.key_arn], None),
            (["sagemaker:DescribeModelPackage"], [packages], None),
            (["events:PutEvents"], [shared.bus.event_bus_arn], None),
        ):
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=actions, resources=resources, conditions=conditions)
            )
        role.add_managed_policy(shared.curated_reader)
        role.add_managed_policy(shared.feedback_writer)
        acknowledge(
            role,
            "Reads every scored run's predictions (a labels file may label any batch), "
            "writes the labels ledger, reports and quality under labels/ and quality/, "
            "feeds labelled rows back as <dataset>/feedback-* files of the raw bucket, and "
            "describes this stage's model packages for their test metric.",
            resource_finding(self, scored),
            *(resource_finding(self, arn) for arn in written),
            resource_finding(self, packages),
        )

    def _trigger(self) -> None:
        shared, function = self.shared, self.join.function
        failures = failure_queue(
            self,
            "JoinLabelsFailures",
            key=shared.key,
            holds="the join-labels function's failed invocations (its on-failure destination)",
        )
        undelivered = failure_queue(
            self,
            "UndeliveredLabels",
            key=shared.key,
            holds="labels events the rule could not deliver (its target's dead-letter queue)",
        )
        self.queues["join_labels_failures"] = failures
        self.queues["undelivered_labels"] = undelivered
        function.configure_async_invoke(
            on_failure=destinations.SqsDestination(failures),
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        acknowledge(
            function,
            "Failed asynchronous invocations go to an on-failure destination (the "
            "JoinLabelsFailures queue), which keeps the error and the request.",
            f"{HIPAA}-LambdaDLQ",
        )
        acknowledge(
            self.join.role,
            "Sending to the KMS-encrypted failure queue: the SQS destination grants "
            "kms:GenerateDataKey*/kms:ReEncrypt* on the project key only.",
            f"{PACK}-IAM5[Action::kms:GenerateDataKey*]",
            f"{PACK}-IAM5[Action::kms:ReEncrypt*]",
        )
        rule = events.Rule(
            self,
            "JoinValidatedLabels",
            event_bus=shared.bus,
            description="A validated labels file is joined with the predictions it labels",
            event_pattern=events.EventPattern(
                source=[DatasetValidated.SOURCE],
                detail_type=[DatasetValidated.detail_type()],
                detail={"kind": ["labels"]},
            ),
        )
        rule.add_target(
            targets.LambdaFunction(
                function,
                dead_letter_queue=undelivered,
                retry_attempts=START_RETRIES,
                max_event_age=START_MAX_AGE,
            )
        )
