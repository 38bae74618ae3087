"""The app deployed under a permissions boundary, and the local cloud holding it to it.

The extended deployment bounds every role with ``BOUNDARY_POLICY`` (the services the app
uses, explicit denies of what it never does), so every test on it runs under that
boundary. Here: every role of the three stacks carries it, and a deployed role's calls
are evaluated against it.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from driftline_runtime import names

from driftline.localcloud import ACCOUNT_ID, REGION, LocalCloud
from driftline.target import Target
from tests.e2e.conftest import BOUNDARY_POLICY

pytestmark = [pytest.mark.e2e, pytest.mark.extended_deployment]

BOUNDARY_ARN = f"arn:aws:iam::{ACCOUNT_ID}:policy/{BOUNDARY_POLICY}"


def deployed_roles(target: Target) -> dict[str, dict[str, Any]]:
    """Every IAM role the stage's stacks created, by logical id, as IAM describes it."""
    cloudformation, iam = target.client("cloudformation"), target.client("iam")
    roles: dict[str, dict[str, Any]] = {}
    for lifecycle in (names.DATA_STACK, names.PIPELINE_STACK, names.MONITORING_STACK):
        pages = cloudformation.get_paginator("list_stack_resources").paginate(
            StackName=target.stack_name(lifecycle)
        )
        for page in pages:
            for resource in page["StackResourceSummaries"]:
                if resource["ResourceType"] == "AWS::IAM::Role":
                    role = iam.get_role(RoleName=resource["PhysicalResourceId"])["Role"]
                    roles[f"{lifecycle}/{resource['LogicalResourceId']}"] = role
    return roles


def test_every_role_of_the_deployment_carries_the_boundary(
    extended_deployment: dict[str, str], target: Target
) -> None:
    # Given the app deployed with driftline:permissions_boundary over a running deployment
    roles = deployed_roles(target)
    # Then every role of every stack, CDK's bucket-notifications handler's included, is
    # bounded by the policy (an update set it on roles created without one)
    assert len(roles) > 10 and any("BucketNotificationsHandler" in name for name in roles)
    unbounded = {
        name: role.get("PermissionsBoundary")
        for name, role in roles.items()
        if (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn") != BOUNDARY_ARN
    }
    assert unbounded == {}


def test_a_deployed_role_is_denied_what_its_boundary_denies(
    extended_deployment: dict[str, str], target: Target, local_cloud: LocalCloud
) -> None:
    # Given the ingest function's deployed role, used with its own temporary credentials
    raw = extended_deployment[names.RAW_BUCKET_OUTPUT]
    function = extended_deployment[names.INGEST_FUNCTION_OUTPUT]
    role = target.client("lambda").get_function(FunctionName=function)["Configuration"]["Role"]
    granted = target.client("sts").assume_role(RoleArn=role, RoleSessionName="boundary-check")
    as_role = boto3.client(
        "s3",
        endpoint_url=local_cloud.endpoint,
        region_name=REGION,
        aws_access_key_id=granted["Credentials"]["AccessKeyId"],
        aws_secret_access_key=granted["Credentials"]["SecretAccessKey"],
        aws_session_token=granted["Credentials"]["SessionToken"],
    )
    # When it reads a raw object (its policies and the boundary allow it)
    with pytest.raises(as_role.exceptions.ClientError) as missing:
        as_role.get_object(Bucket=raw, Key="boundary-check/absent.csv")
    # Then IAM lets it through and S3 answers that there is no such key
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"
    # When it puts the raw bucket's policy (its own, unchanged), which the boundary denies
    current = target.client("s3").get_bucket_policy(Bucket=raw)["Policy"]
    with pytest.raises(as_role.exceptions.ClientError) as denied:
        as_role.put_bucket_policy(Bucket=raw, Policy=current)
    # Then S3 answers AWS's AccessDenied, naming the boundary's statement
    error = denied.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert f"s3:PutBucketPolicy on resource: arn:aws:s3:::{raw}" in error["Message"]
    assert (
        "NoBucketPolicyChanges of its permissions boundary explicitly denies it"
        in (error["Message"])
    )
