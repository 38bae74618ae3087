"""The deployed app on the local cloud: a dropped file reaches the ingest function."""

from __future__ import annotations

import pytest

from driftline.cli import SAMPLE, drop_file, wait_for_receipt
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


def test_dropped_file_gets_a_receipt(deployed: dict[str, str], target: Target) -> None:
    # When a file is dropped into the raw bucket
    bucket, key, version = drop_file(target, SAMPLE, "transactions", "training")
    # Then the ingest function records it within a bounded wait
    receipt = wait_for_receipt(target, key, version, timeout=60)
    assert receipt["bucket"] == bucket
    assert receipt["key"] == key
    assert receipt["dataset"] == "transactions"
    assert receipt["version_id"] == version
    assert receipt["size"] == SAMPLE.stat().st_size
    # And the original stays where it was dropped
    target.client("s3").head_object(Bucket=bucket, Key=key, VersionId=version)


def test_odd_keys_arrive_decoded(deployed: dict[str, str], target: Target, tmp_path) -> None:  # type: ignore[no-untyped-def]
    odd = tmp_path / "données été+1.csv"
    odd.write_text("a,b\n1,2\n")
    _, key, version = drop_file(target, odd, "transactions", None)
    receipt = wait_for_receipt(target, key, version, timeout=60)
    assert receipt["key"] == key
