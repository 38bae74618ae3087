"""The local cloud's IAM evaluator with a role's permissions boundary, as AWS evaluates it.

"Permissions boundaries for IAM entities" in the IAM User Guide: a boundary grants
nothing by itself, it caps what the identity policies grant (an action they allow but
it does not is implicitly denied), an explicit deny in it denies, and it caps what a
resource policy grants to the role's ARN too.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.unit.test_iam_policy import ACCOUNT, BUCKET, ROLE, allow, load

ROOT = Path(__file__).resolve().parents[2]
# The boundary the end-to-end suite deploys the app under.
APP_BOUNDARY = json.loads((ROOT / "tests" / "fixtures" / "permissions_boundary.json").read_text())


@pytest.fixture(scope="module")
def policy() -> ModuleType:
    return load("policy")


def outcome(
    policy: ModuleType,
    action: str,
    resource: str,
    identity: list[dict[str, Any]],
    boundary: dict[str, Any] | None,
    resource_policy: dict[str, Any] | None = None,
    **kw: Any,
) -> Any:
    request = policy.Request(ROLE, ACCOUNT, action, resource, {"aws:SecureTransport": "true"})
    return policy.evaluate(request, identity, resource_policy, boundary=boundary, **kw)


def test_an_action_the_role_allows_but_its_boundary_does_not_is_implicitly_denied(
    policy: ModuleType,
) -> None:
    # Given a role that may read and write the bucket, bounded to reading it
    identity = [allow(["s3:GetObject", "s3:PutObject"], f"{BUCKET}/*")]
    boundary = allow("s3:GetObject", "*")
    # When it reads and when it writes
    read = outcome(policy, "s3:GetObject", f"{BUCKET}/k", identity, boundary)
    write = outcome(policy, "s3:PutObject", f"{BUCKET}/k", identity, boundary)
    # Then the read is allowed and the write implicitly denied, by the boundary
    assert read.decision.value == "allowed"
    assert (write.decision.value, write.boundary) == ("implicitly denied", True)
    # And without the boundary the same role may write
    assert outcome(policy, "s3:PutObject", f"{BUCKET}/k", identity, None).allowed


def test_a_boundary_grants_nothing_by_itself(policy: ModuleType) -> None:
    # Given a role with no policy, bounded by a boundary that allows everything
    found = outcome(policy, "s3:GetObject", f"{BUCKET}/k", [], allow("*", "*"))
    # Then nothing is allowed, and it is not the boundary that denied
    assert (found.decision.value, found.boundary) == ("implicitly denied", False)


def test_an_explicit_deny_in_the_boundary_denies_what_both_allow(policy: ModuleType) -> None:
    # Given a role allowed everything in S3, bounded by a policy that allows S3 but
    # denies deleting objects
    identity = [allow("s3:*", "*")]
    boundary = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Sid": "KeepData", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
        ],
    }
    # When it deletes an object
    found = outcome(policy, "s3:DeleteObject", f"{BUCKET}/k", identity, boundary)
    # Then the boundary's statement denies it explicitly, and reading stays allowed
    assert (found.decision.value, found.statement, found.boundary) == (
        "explicitly denied",
        "KeepData",
        True,
    )
    assert outcome(policy, "s3:GetObject", f"{BUCKET}/k", identity, boundary).allowed


def test_the_boundary_caps_a_resource_policy_grant_to_the_role(policy: ModuleType) -> None:
    # Given a bucket policy that grants the role's ARN reads, and a role with no policy
    bucket_policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ROLE},
                "Action": "s3:GetObject",
                "Resource": f"{BUCKET}/*",
            }
        ]
    }
    # When the role is bounded to SQS, and when it is bounded to S3
    capped = outcome(policy, "s3:GetObject", f"{BUCKET}/k", [], allow("sqs:*", "*"), bucket_policy)
    within = outcome(policy, "s3:GetObject", f"{BUCKET}/k", [], allow("s3:*", "*"), bucket_policy)
    # Then the grant is cut by the first boundary and stands within the second
    assert (capped.decision.value, capped.boundary) == ("implicitly denied", True)
    assert within.allowed


def test_a_kms_key_policy_still_decides_within_the_boundary(policy: ModuleType) -> None:
    # Given a key whose policy delegates to IAM, and a role allowed to decrypt with it
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k1"
    key_policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
    }
    identity = [allow("kms:Decrypt", key)]
    # When the role's boundary allows KMS, and when it does not
    inside = outcome(
        policy,
        "kms:Decrypt",
        key,
        identity,
        APP_BOUNDARY,
        key_policy,
        resource_policy_required=True,
    )
    outside = outcome(
        policy,
        "kms:Decrypt",
        key,
        identity,
        allow("s3:*", "*"),
        key_policy,
        resource_policy_required=True,
    )
    # Then the first is allowed and the second implicitly denied by the boundary
    assert inside.allowed
    assert (outside.decision.value, outside.boundary) == ("implicitly denied", True)


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        ("s3:GetObject", f"{BUCKET}/transactions/a.csv"),
        ("s3:PutObject", "arn:aws:s3:::curated/transactions/v1/part.parquet"),
        ("sagemaker:CreateTrainingJob", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/x"),
        ("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/driftline-dev-sagemaker"),
        ("states:StartExecution", f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:x"),
        ("events:PutEvents", f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/driftline-dev"),
        ("kms:GenerateDataKey", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k1"),
        ("xray:PutTraceSegments", "*"),
    ],
)
def test_the_apps_boundary_allows_what_the_app_does(
    policy: ModuleType, action: str, resource: str
) -> None:
    # Given a role allowed everything, bounded by the boundary the e2e suite deploys under
    # When it makes one of the app's calls
    # Then the boundary lets it through
    assert outcome(policy, action, resource, [allow("*", "*")], APP_BOUNDARY).allowed


@pytest.mark.parametrize(
    ("action", "resource", "statement"),
    [
        ("iam:CreateUser", f"arn:aws:iam::{ACCOUNT}:user/intruder", "NoIdentityChanges"),
        ("iam:PutRolePolicy", ROLE, "NoIdentityChanges"),
        ("s3:PutBucketPolicy", BUCKET, "NoBucketPolicyChanges"),
    ],
)
def test_the_apps_boundary_denies_what_the_app_never_needs(
    policy: ModuleType, action: str, resource: str, statement: str
) -> None:
    # Given a role allowed everything, bounded by the boundary the e2e suite deploys under
    found = outcome(policy, action, resource, [allow("*", "*")], APP_BOUNDARY)
    # Then what the app never does is denied by the boundary's own statement
    assert (found.decision.value, found.statement, found.boundary) == (
        "explicitly denied",
        statement,
        True,
    )
    # And an action of a service the boundary does not list is implicitly denied
    other = outcome(policy, "secretsmanager:GetSecretValue", "*", [allow("*", "*")], APP_BOUNDARY)
    assert (other.decision.value, other.boundary) == ("implicitly denied", True)
