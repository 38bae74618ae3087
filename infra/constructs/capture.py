"""Captured real-time traffic as batches: an endpoint's data capture -> its dataset.

SageMaker captures a share of each endpoint's requests and answers under
``capture/<dataset>/`` of the predictions bucket (``realtime.py`` configures it). On the
stage's window a schedule starts the collect-capture function, which drops the window's
captured rows as one file of the dataset's ``realtime.capture_dataset`` in the raw bucket;
ingestion, batch scoring and drift monitoring take it as any batch
(``functions/collect_capture``). The raw bucket's grant is the data stack's policy
(``DataResources.capture_writer``), as the curated reader is.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from driftline_runtime import layout

from infra.constructs.functions import PipelineFunction
from infra.constructs.nag import HIPAA, PACK, acknowledge, resource_finding
from infra.constructs.queues import failure_queue
from infra.constructs.realtime import realtime_datasets
from infra.constructs.shared import SharedResources


class CapturedTraffic(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        shared: SharedResources,
        capture_bucket: s3.IBucket,
    ) -> None:
        super().__init__(scope, construct_id)
        self.shared, self.capture_bucket = shared, capture_bucket
        self.queues: dict[str, sqs.IQueue] = {}
        self.functions: dict[str, PipelineFunction] = {}
        collect = self._capture_collection()
        if collect is not None:
            self.functions["collect_capture"] = collect

    def _capture_collection(self) -> PipelineFunction | None:
        """On the stage's window, each endpoint's captured rows are dropped as a batch of
        its ``capture_dataset``, which ingestion, batch scoring and drift monitoring take
        as any batch (functions/collect_capture)."""
        captured = {
            dataset: settings.capture_dataset
            for dataset, settings in realtime_datasets(self.shared).items()
            if settings.capture_dataset and settings.capture_percent > 0
        }
        if not captured or self.shared.config.realtime_serverless:
            return None  # serverless endpoints capture nothing
        shared, config = self.shared, self.shared.config
        window = config.realtime_capture_window_minutes
        collect = shared.function(
            self,
            "CollectCapture",
            source="collect_capture",
            description="Drops each endpoint's captured rows as a batch of its capture dataset",
            environment={
                "STAGE": config.stage,
                "CAPTURE_BUCKET": self.capture_bucket.bucket_name,
                "RAW_BUCKET": shared.buckets.raw.bucket_name,
                "WINDOW_MINUTES": str(window),
            },
            timeout=Duration.minutes(5),
        )
        read = [
            self.capture_bucket.arn_for_objects(f"{layout.CAPTURE_PREFIX}/{dataset}/*")
            for dataset in sorted(captured)
        ]
        role = collect.role
        for actions, resources, conditions in (
            (
                ["s3:ListBucket"],
                [self.capture_bucket.bucket_arn],
                {
                    "StringLike": {
                        "s3:prefix": [f"{layout.CAPTURE_PREFIX}/{d}/*" for d in sorted(captured)]
                    }
                },
            ),
            (["s3:GetObject"], read, None),
            (["kms:Decrypt"], [shared.key.key_arn], None),
        ):
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=actions, resources=resources, conditions=conditions)
            )
        # Writing <capture dataset>/capture-* files of the raw bucket: the data stack's.
        if shared.capture_writer is not None:
            role.add_managed_policy(shared.capture_writer)
        acknowledge(
            role,
            "Reads the capture of the endpoints that drop their traffic as batches "
            "(capture/<dataset>/* of the predictions bucket).",
            *(resource_finding(self, arn) for arn in read),
        )
        failures = failure_queue(
            self,
            "CaptureCollectionFailures",
            key=shared.key,
            holds="failed collections of captured traffic (the function's on-failure destination)",
        )
        undelivered = failure_queue(
            self,
            "UndeliveredCaptureCollections",
            key=shared.key,
            holds="scheduled collections of captured traffic that could not be started",
        )
        self.queues["capture_collection_failures"] = failures
        self.queues["undelivered_capture_collections"] = undelivered
        collect.function.configure_async_invoke(
            on_failure=destinations.SqsDestination(failures),
            retry_attempts=2,
            max_event_age=Duration.hours(6),
        )
        acknowledge(
            collect.function,
            "Failed asynchronous invocations go to an on-failure destination (the "
            "CaptureCollectionFailures queue), which keeps the error and the request.",
            f"{HIPAA}-LambdaDLQ",
        )
        acknowledge(
            role,
            "Sending to the KMS-encrypted failure queue: the SQS destination grants "
            "kms:GenerateDataKey*/kms:ReEncrypt* on the project key only.",
            f"{PACK}-IAM5[Action::kms:GenerateDataKey*]",
            f"{PACK}-IAM5[Action::kms:ReEncrypt*]",
        )
        events.Rule(
            self,
            "CollectCaptureOnSchedule",
            description="Drops each endpoint's captured rows of the last window as a batch",
            schedule=events.Schedule.rate(Duration.minutes(window)),
            targets=[
                targets.LambdaFunction(
                    collect.function, dead_letter_queue=undelivered, retry_attempts=4
                )
            ],
        )
        return collect
