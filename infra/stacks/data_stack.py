"""The data lifecycle: where files land, what checks them, where results go."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.buckets import AccessLogsBucket, DataBucket
from infra.constructs.encryption import DataKey
from infra.constructs.functions import PipelineFunction, SharedLayers
from infra.constructs.nag import PACK, acknowledge, wildcard_resource

RECEIPTS_PREFIX = "arrivals"


class DataStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.key = DataKey(self, "DataKey", config=config).key
        access_logs = AccessLogsBucket(self, "AccessLogs", config=config).bucket
        self.raw_bucket = DataBucket(
            self,
            "Raw",
            config=config,
            key=self.key,
            access_logs=access_logs,
            retention_days=config.raw_retention_days,
        ).bucket
        self.curated_bucket = DataBucket(
            self, "Curated", config=config, key=self.key, access_logs=access_logs
        ).bucket

        # Events the ingest function could not process after Lambda's retries land
        # here with their context instead of disappearing.
        self.ingest_failures = sqs.Queue(
            self,
            "IngestFailures",
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        acknowledge(
            self.ingest_failures,
            "This queue is itself the failure destination of the ingest function; a queue "
            "behind it would only move the problem.",
            "AwsSolutions-SQS3",
        )

        layers = SharedLayers(self, "Layers", config=config)
        ingest = PipelineFunction(
            self,
            "Ingest",
            config=config,
            source="ingest",
            description="Receives every object that lands in the raw bucket",
            layers=layers,
            key=self.key,
            environment={"CURATED_BUCKET": self.curated_bucket.bucket_name},
        )
        self.ingest_function = ingest.function
        self.ingest_function.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.ingest_failures),
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        acknowledge(
            ingest.role,
            "Sending to the KMS-encrypted failure queue: the SQS destination grants "
            "kms:GenerateDataKey*/kms:ReEncrypt* on the project key only.",
            f"{PACK}-IAM5[Action::kms:GenerateDataKey*]",
            f"{PACK}-IAM5[Action::kms:ReEncrypt*]",
        )
        # Written out instead of grant_read/grant_put: those grant wildcard actions
        # (s3:GetObject*, s3:List*, kms:ReEncrypt*) the function does not need.
        ingest.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[self.raw_bucket.arn_for_objects("*")],
            )
        )
        ingest.role.add_to_policy(
            iam.PolicyStatement(
                actions=["s3:PutObject"],
                resources=[self.curated_bucket.arn_for_objects(f"{RECEIPTS_PREFIX}/*")],
            )
        )
        ingest.role.add_to_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:GenerateDataKey"], resources=[self.key.key_arn]
            )
        )
        self.raw_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED, s3n.LambdaDestination(self.ingest_function)
        )
        acknowledge(
            ingest.role,
            "The function reads whichever raw object an event names and writes receipts "
            "only under the curated bucket's receipts prefix.",
            wildcard_resource(self.raw_bucket.node.default_child, "/*"),  # type: ignore[arg-type]
            f"{PACK}-IAM5[Resource::<{self._logical_id(self.curated_bucket)}.Arn>/"
            f"{RECEIPTS_PREFIX}/*]",
        )
        self._suppress_bucket_notifications_handler()

        CfnOutput(self, "RawBucketName", value=self.raw_bucket.bucket_name)
        CfnOutput(self, "CuratedBucketName", value=self.curated_bucket.bucket_name)
        CfnOutput(self, "IngestFunctionName", value=self.ingest_function.function_name)
        CfnOutput(self, "IngestFailuresQueueUrl", value=self.ingest_failures.queue_url)

    def _suppress_bucket_notifications_handler(self) -> None:
        """CDK's own handler that writes the bucket's notification configuration."""
        handler = self.node.try_find_child(
            "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"
        )
        if handler is None:
            raise RuntimeError("CDK's bucket notifications handler was not found")
        acknowledge(
            handler,
            "CDK-owned handler that writes this stack's bucket notification configuration "
            "during deployments; the construct library gives its role the basic execution "
            "policy for its logs.",
            f"{PACK}-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaBasicExecutionRole]",
        )

    def _logical_id(self, construct: s3.IBucket) -> str:
        return str(self.resolve(self.get_logical_id(construct.node.default_child)))  # type: ignore[arg-type]
