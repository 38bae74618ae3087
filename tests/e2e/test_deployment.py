"""The CDK-deployed app on the local cloud: the trigger is CDK's, keys arrive intact."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from driftline.actions import drop_file, wait_for_version
from driftline.cli import SAMPLE
from driftline.target import Target

pytestmark = pytest.mark.e2e


def test_cdk_configured_the_raw_bucket_trigger(deployed: dict[str, str], target: Target) -> None:
    # Given the app deployed with the CDK CLI and nothing configured by hand
    configuration = target.client("s3").get_bucket_notification_configuration(
        Bucket=deployed["RawBucketName"]
    )
    # Then CDK's own notifications custom resource wired the bucket to the function
    (trigger,) = configuration["LambdaFunctionConfigurations"]
    assert trigger["LambdaFunctionArn"].endswith(f":function:{deployed['IngestFunctionName']}")
    assert trigger["Events"] == ["s3:ObjectCreated:*"]


def test_odd_keys_arrive_decoded(deployed: dict[str, str], target: Target, tmp_path: Path) -> None:
    # Given a file name with spaces, a plus sign and non-ASCII letters
    odd = tmp_path / "données été+1 (copy).csv"
    rows = SAMPLE.read_text().splitlines()
    odd.write_text("\n".join([rows[0], *(f"t-0dd{r[5:]}" for r in rows[1:50])]) + "\n")
    # When it is dropped / Then the function reads it under its real key
    _, key, _ = drop_file(target, odd, "transactions", "training")
    version = wait_for_version(target, key, timeout=60)
    assert version["source_key"] == key
    assert version["state"] == "validated", version["reasons"]


def test_a_key_is_associated_with_a_log_group_that_already_exists(target: Target) -> None:
    # Given a log group created without a key (as SageMaker creates its own on first use,
    # before a redeployment's log-groups resource asks for the stage's key)
    logs = target.client("logs")
    name = f"/aws/sagemaker/e2e-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name)
    key = target.client("kms").create_key(Description="e2e log group key")["KeyMetadata"]["Arn"]
    # When the key is associated with it
    logs.associate_kms_key(logGroupName=name, kmsKeyId=key)
    # Then the group is encrypted with it, as CloudWatch Logs reports it
    (group,) = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert group["kmsKeyId"] == key
    # And a group that does not exist is refused with AWS's error
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.associate_kms_key(logGroupName=f"{name}-missing", kmsKeyId=key)
