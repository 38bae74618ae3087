"""The data lifecycle: where files land, what checks them, where results go.

raw bucket --(object created)--> ingest function --> curated Parquet + manifest + report
                                                 \\-> quarantine (original + report)
                                                  -> lineage table, events on the project bus
             (above the large-file threshold) --> validation state machine --> Processing job
                                                  (the same logic, the same outputs)
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from driftline_runtime import names
from driftline_runtime.layout import CURATED_PREFIXES

from infra.config import StageConfig
from infra.constructs.buckets import AccessLogsBucket, DataBucket
from infra.constructs.encryption import DataKey
from infra.constructs.functions import PipelineFunction, SharedLayers
from infra.constructs.large_files import LargeFileValidation
from infra.constructs.nag import (
    HIPAA,
    PACK,
    acknowledge,
    acknowledge_inline_policy,
    wildcard_resource,
)
from infra.constructs.queues import failure_queue
from infra.constructs.shared import DataResources
from infra.constructs.tables import project_table

MIB = 1024 * 1024


class DataStack(Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, config: StageConfig, **kwargs: object
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self.config = config
        removal = RemovalPolicy.DESTROY if config.destroy_on_removal else RemovalPolicy.RETAIN
        self.key = DataKey(self, "DataKey", config=config).key
        self.access_logs = AccessLogsBucket(self, "AccessLogs", config=config).bucket
        access_logs = self.access_logs
        self.raw_bucket = self._bucket("Raw", access_logs, config.raw_retention_days)
        self.curated_bucket = self._bucket("Curated", access_logs, None)
        self.quarantine_bucket = self._bucket(
            "Quarantine", access_logs, config.quarantine_retention_days
        )
        self.bus = events.EventBus(self, "Bus", event_bus_name=config.prefix)
        self.lineage_table = project_table(
            self, "Lineage", partition="dataset", sort="version", key=self.key, removal=removal
        )
        self.idempotency_table = project_table(
            self,
            "Idempotency",
            partition="id",
            sort=None,
            key=self.key,
            removal=RemovalPolicy.DESTROY,
            time_to_live="expiration",
        )
        acknowledge(
            self.idempotency_table,
            "Idempotency records expire after seven days and are rebuilt by the next "
            "delivery; point-in-time recovery is on, a backup plan would keep nothing of "
            "value.",
            f"{HIPAA}-DynamoDBInBackupPlan",
        )
        self._backups()

        # Events the ingest function could not process after Lambda's retries land
        # here with their context instead of disappearing.
        self.ingest_failures = failure_queue(
            self,
            "IngestFailures",
            key=self.key,
            holds="the ingest function's failed invocations (its on-failure destination)",
        )

        self.layers = SharedLayers(self, "Layers", config=config)
        self.ingest = self._ingest_function()
        self.curated_reader = self._curated_reader()
        self.feedback_writer = self._feedback_writer()
        # What the monitoring stack alarms on: every function, and every queue where
        # failed work waits (dead-letter and on-failure queues). Add new ones here.
        self.functions: dict[str, PipelineFunction] = {"ingest": self.ingest}
        self.queues: dict[str, sqs.IQueue] = {"ingest_failures": self.ingest_failures}
        # What the stacks that consume validated data receive (not this stack).
        self.resources = DataResources(
            config=config,
            key=self.key,
            bus=self.bus,
            layers=self.layers,
            curated=self.curated_bucket,
            raw=self.raw_bucket,
            lineage=self.lineage_table,
            curated_reader=self.curated_reader,
            feedback_writer=self.feedback_writer,
            capture_writer=self._capture_writer(),
        )
        # Files above the large-file threshold: the Processing job route.
        self.large_files = LargeFileValidation(
            self,
            "LargeFiles",
            resources=self.resources,
            ingest=self.ingest,
            raw=self.raw_bucket,
            curated=self.curated_bucket,
            quarantine=self.quarantine_bucket,
            lineage=self.lineage_table,
        )

        for key, value in (
            (names.RAW_BUCKET_OUTPUT, self.raw_bucket.bucket_name),
            (names.CURATED_BUCKET_OUTPUT, self.curated_bucket.bucket_name),
            (names.QUARANTINE_BUCKET_OUTPUT, self.quarantine_bucket.bucket_name),
            (names.LINEAGE_TABLE_OUTPUT, self.lineage_table.table_name),
            (names.EVENT_BUS_OUTPUT, self.bus.event_bus_name),
            (names.INGEST_FUNCTION_OUTPUT, self.ingest.function.function_name),
            (names.INGEST_FAILURES_QUEUE_OUTPUT, self.ingest_failures.queue_url),
            (names.VALIDATION_STATE_MACHINE_OUTPUT, self.large_files.machine.arn),
        ):
            CfnOutput(self, key, value=value)

    # -- storage ---------------------------------------------------------------------
    def _bucket(self, name: str, access_logs: s3.IBucket, retention: int | None) -> s3.Bucket:
        return DataBucket(
            self,
            name,
            config=self.config,
            key=self.key,
            access_logs=access_logs,
            retention_days=retention,
        ).bucket

    def _backups(self) -> None:
        """Daily backups of the lineage table, kept 35 days, in a vault under the key.

        The vault is retained by ``cdk destroy`` in every stage: AWS refuses to delete a
        vault that still holds recovery points.
        """
        vault = backup.BackupVault(
            self, "BackupVault", encryption_key=self.key, removal_policy=RemovalPolicy.RETAIN
        )
        plan = backup.BackupPlan.daily35_day_retention(self, "BackupPlan", vault)
        selection = plan.add_selection(
            "Lineage", resources=[backup.BackupResource.from_dynamo_db_table(self.lineage_table)]
        )
        acknowledge(
            selection,
            "AWS Backup's own service-role policy: it is what AWS maintains for exactly the "
            "backup of the resources a selection names.",
            f"{PACK}-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSBackupServiceRolePolicyForBackup]",
        )

    # -- ingestion -------------------------------------------------------------------
    def _ingest_function(self) -> PipelineFunction:
        ingest = PipelineFunction(
            self,
            "Ingest",
            config=self.config,
            source="ingest",
            description="Checks every object that lands in the raw bucket against its contract",
            layers=self.layers,
            key=self.key,
            # One full vCPU: the validator is CPU-bound.
            memory_size=1769,
            # A file up to the large-file threshold is validated here, batch by batch.
            timeout=Duration.minutes(15),
            ephemeral_storage_mib=self.config.ingest_storage_mib,
            environment={
                "CURATED_BUCKET": self.curated_bucket.bucket_name,
                "QUARANTINE_BUCKET": self.quarantine_bucket.bucket_name,
                "LINEAGE_TABLE": self.lineage_table.table_name,
                "IDEMPOTENCY_TABLE": self.idempotency_table.table_name,
                "EVENT_BUS_NAME": self.bus.event_bus_name,
                "VALIDATION_MEMORY_BYTES": str(self.config.ingest_validation_memory_mib * MIB),
                "LARGE_FILE_BYTES": str(self.config.large_file_threshold_mib * MIB),
            },
        )
        function = ingest.function
        acknowledge(
            function,
            "Failed asynchronous invocations go to an on-failure destination (the "
            "IngestFailures queue), which keeps the error and the request, unlike a "
            "dead-letter queue that keeps only the event.",
            f"{HIPAA}-LambdaDLQ",
        )
        function.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.ingest_failures),
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        self._grant_ingest(ingest.role)
        self.raw_bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED, s3n.LambdaDestination(function)
        )
        self._acknowledge_bucket_notifications_handler()
        return ingest

    def _grant_ingest(self, role: iam.IRole) -> None:
        """Exactly what the function does; CDK's grant_* helpers would add wildcards."""
        statements = [
            (["s3:GetObject", "s3:GetObjectVersion"], [self.raw_bucket.arn_for_objects("*")]),
            (
                ["s3:PutObject"],
                [self.curated_bucket.arn_for_objects(f"{p}/*") for p in CURATED_PREFIXES]
                + [self.quarantine_bucket.arn_for_objects("*")],
            ),
            (["kms:Decrypt", "kms:GenerateDataKey"], [self.key.key_arn]),
            (
                ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
                [self.lineage_table.table_arn],
            ),
            (
                [
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                [self.idempotency_table.table_arn],
            ),
            (["events:PutEvents"], [self.bus.event_bus_arn]),
        ]
        for actions, resources in statements:
            role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=resources))
        acknowledge(
            role,
            "The function reads whichever raw object an event names, and writes results "
            "under fixed prefixes of the curated bucket and anywhere in the quarantine "
            "bucket (one folder per rejected file).",
            wildcard_resource(self.raw_bucket.node.default_child, "/*"),  # type: ignore[arg-type]
            wildcard_resource(self.quarantine_bucket.node.default_child, "/*"),  # type: ignore[arg-type]
            *(
                wildcard_resource(self.curated_bucket.node.default_child, f"/{prefix}/*")  # type: ignore[arg-type]
                for prefix in CURATED_PREFIXES
            ),
        )
        acknowledge(
            role,
            "Sending to the KMS-encrypted failure queue: the SQS destination grants "
            "kms:GenerateDataKey*/kms:ReEncrypt* on the project key only.",
            f"{PACK}-IAM5[Action::kms:GenerateDataKey*]",
            f"{PACK}-IAM5[Action::kms:ReEncrypt*]",
        )

    def _curated_reader(self) -> iam.ManagedPolicy:
        """What a consumer of validated data may read: manifests and curated Parquet.

        A managed policy owned by this stack, so consumers in other stacks attach it
        instead of re-deriving this bucket's ARNs across stack boundaries.
        """
        policy = iam.ManagedPolicy(
            self,
            "CuratedReader",
            description="Read validated dataset versions (manifests and curated data)",
            statements=[
                iam.PolicyStatement(
                    actions=["s3:GetObject"],
                    resources=[
                        self.curated_bucket.arn_for_objects("manifests/*"),
                        self.curated_bucket.arn_for_objects("curated/*"),
                    ],
                ),
                # Without ListBucket, S3 answers a missing key with AccessDenied instead of
                # NoSuchKey, and "no such version" would read as a permissions problem.
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[self.curated_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": ["manifests/*", "curated/*"]}},
                ),
                iam.PolicyStatement(actions=["kms:Decrypt"], resources=[self.key.key_arn]),
            ],
        )
        acknowledge(
            policy,
            "Consumers read whichever dataset version they are given: any manifest and any "
            "curated object, under those two prefixes only.",
            wildcard_resource(self.curated_bucket.node.default_child, "/manifests/*"),  # type: ignore[arg-type]
            wildcard_resource(self.curated_bucket.node.default_child, "/curated/*"),  # type: ignore[arg-type]
        )
        return policy

    def _feedback_writer(self) -> iam.ManagedPolicy:
        """Write labelled scored rows back as ``<dataset>/feedback-*`` files to be ingested.

        Owned by this stack for the reason the curated reader is: the raw bucket's ARN
        stays here, and the consumer (the join-labels function) attaches the policy.
        """
        policy = iam.ManagedPolicy(
            self,
            "FeedbackWriter",
            description="Drop labelled scored rows as training files (<dataset>/feedback-*)",
            statements=[
                iam.PolicyStatement(
                    actions=["s3:PutObject"],
                    resources=[self.raw_bucket.arn_for_objects("*/feedback-*")],
                ),
                iam.PolicyStatement(actions=["kms:GenerateDataKey"], resources=[self.key.key_arn]),
            ],
        )
        acknowledge(
            policy,
            "Feedback files go to whichever training dataset the labels' inference dataset "
            "is scored by, named <dataset>/feedback-<labels version>, nothing else.",
            wildcard_resource(self.raw_bucket.node.default_child, "/*/feedback-*"),  # type: ignore[arg-type]
        )
        return policy

    def _capture_writer(self) -> iam.ManagedPolicy | None:
        """Drop an endpoint's captured rows as ``<capture dataset>/capture-*`` files.

        Owned by this stack for the reason the curated reader is; the collect-capture
        function attaches it. Scoped to the capture datasets the contracts declare.
        """
        captured = sorted(
            {
                str(settings["capture_dataset"])
                for dataset in self.layers.datasets
                if (settings := dataset.get("settings", {}).get("realtime"))
                and settings.get("capture_dataset")
            }
        )
        if not captured:
            return None
        policy = iam.ManagedPolicy(
            self,
            "CaptureBatchWriter",
            description="Drop captured real-time rows as batches (<dataset>/capture-*)",
            statements=[
                iam.PolicyStatement(
                    actions=["s3:PutObject"],
                    resources=[self.raw_bucket.arn_for_objects(f"{d}/capture-*") for d in captured],
                ),
                iam.PolicyStatement(actions=["kms:GenerateDataKey"], resources=[self.key.key_arn]),
            ],
        )
        acknowledge(
            policy,
            "Captured traffic goes only to the declared capture datasets' folders, as "
            "<dataset>/capture-<window end>-<endpoint>.csv files.",
            *(
                wildcard_resource(self.raw_bucket.node.default_child, f"/{d}/capture-*")  # type: ignore[arg-type]
                for d in captured
            ),
        )
        return policy

    def _acknowledge_bucket_notifications_handler(self) -> None:
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
        notifications = self.raw_bucket.node.try_find_child("Notifications")
        if notifications is None:
            raise RuntimeError("CDK's bucket notifications resource was not found")
        acknowledge_inline_policy(notifications)
