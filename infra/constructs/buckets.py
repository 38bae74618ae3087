"""Buckets with the project's defaults: KMS encryption, TLS only, no public access,
versioning and server access logs."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import StageConfig
from infra.constructs.nag import HIPAA, acknowledge

REPLICATION_REASON = (
    "Versioned and, in prod, retained; copying every object to a second region is a "
    "per-deployment choice of cost and data residency, not a default of this app."
)


def _removal(config: StageConfig) -> RemovalPolicy:
    return RemovalPolicy.DESTROY if config.destroy_on_removal else RemovalPolicy.RETAIN


class AccessLogsBucket(Construct):
    """Target of the other buckets' server access logs."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig) -> None:
        super().__init__(scope, construct_id)
        # S3 log delivery cannot write to SSE-KMS buckets: S3-managed keys are required here.
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(config.log_retention_days),
                    noncurrent_version_expiration=Duration.days(1),
                )
            ],
            removal_policy=_removal(config),
        )
        acknowledge(
            self.bucket,
            "This is the server access log bucket; logging it into itself would loop.",
            "AwsSolutions-S1",
        )
        acknowledge(
            self.bucket,
            "S3 server access log delivery does not support SSE-KMS target buckets: this "
            "bucket must use S3-managed keys.",
            f"{HIPAA}-S3DefaultEncryptionKMS",
        )
        acknowledge(self.bucket, REPLICATION_REASON, f"{HIPAA}-S3BucketReplicationEnabled")


class DataBucket(Construct):
    """A bucket that holds pipeline data, encrypted with the project's key."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StageConfig,
        key: kms.IKey,
        access_logs: s3.IBucket,
        retention_days: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        lifecycle = [s3.LifecycleRule(noncurrent_version_expiration=Duration.days(30))]
        if retention_days is not None:
            lifecycle.append(s3.LifecycleRule(expiration=Duration.days(retention_days)))
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,
            enforce_ssl=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=f"{construct_id.lower()}/",
            lifecycle_rules=lifecycle,
            removal_policy=_removal(config),
        )
        acknowledge(self.bucket, REPLICATION_REASON, f"{HIPAA}-S3BucketReplicationEnabled")
