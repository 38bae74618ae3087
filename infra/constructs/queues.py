"""The queue where failed or undelivered work waits: KMS-encrypted, TLS only, 14 days."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.nag import PACK, acknowledge


def failure_queue(scope: Construct, name: str, *, key: kms.IKey, holds: str) -> sqs.Queue:
    """A queue that is itself the last stop (``holds``: what lands in it), so it has no
    dead-letter queue of its own (AwsSolutions-SQS3, acknowledged with that reason)."""
    queue = sqs.Queue(
        scope,
        name,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    acknowledge(
        queue,
        f"This queue is itself the last stop for {holds}; a queue behind it would only "
        "move the problem.",
        f"{PACK}-SQS3",
    )
    return queue
