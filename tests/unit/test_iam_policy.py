"""The local cloud's IAM evaluator against AWS's documented evaluation logic.

The cases follow "Policy evaluation logic" in the IAM User Guide: explicit deny wins,
an allow in an identity or (same-account) resource policy allows, KMS needs its key
policy, and the condition operators' documented treatment of missing keys.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::000000000000:role/driftline-dev-ingest"
ACCOUNT = "000000000000"
BUCKET = "arn:aws:s3:::raw"


def load(name: str) -> ModuleType:
    sys.path.insert(0, str(ROOT / "local"))
    try:
        return importlib.import_module(f"driftline_localcloud.iam.{name}")
    finally:
        sys.path.remove(str(ROOT / "local"))


@pytest.fixture(scope="module")
def policy() -> ModuleType:
    return load("policy")


def allow(action: str | list[str], resource: str | list[str], **extra: object) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource, **extra}],
    }


def decide(
    policy: ModuleType,
    action: str,
    resource: str,
    identity: list[dict[str, Any]],
    resource_policy: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    **kw: Any,
) -> str:
    request = policy.Request(
        ROLE, ACCOUNT, action, resource, context or {"aws:SecureTransport": "true"}
    )
    return str(policy.evaluate(request, identity, resource_policy, **kw).decision.value)


def test_an_identity_allow_allows_only_its_actions_and_resources(policy: ModuleType) -> None:
    # Given a role that may read objects under raw/transactions/ only
    identity = [allow("s3:GetObject", f"{BUCKET}/transactions/*")]
    # When it reads there, elsewhere, or writes
    # Then only the first is allowed; the others are implicitly denied
    assert decide(policy, "s3:GetObject", f"{BUCKET}/transactions/a.csv", identity) == "allowed"
    assert decide(policy, "s3:GetObject", f"{BUCKET}/other/a.csv", identity) == "implicitly denied"
    assert (
        decide(policy, "s3:PutObject", f"{BUCKET}/transactions/a.csv", identity)
        == "implicitly denied"
    )
    # And with no policy at all nothing is allowed
    assert decide(policy, "s3:GetObject", f"{BUCKET}/transactions/a.csv", []) == "implicitly denied"


def test_actions_match_without_case_and_wildcards_match_one_or_many_characters(
    policy: ModuleType,
) -> None:
    identity = [allow(["S3:get*", "sqs:SendMessag?"], "*")]
    assert decide(policy, "s3:GetObject", "x", identity) == "allowed"
    assert decide(policy, "sqs:SendMessage", "x", identity) == "allowed"
    assert decide(policy, "sqs:SendMessageBatch", "x", identity) == "implicitly denied"
    # Resources are case-sensitive, and IAM has no character classes
    assert (
        decide(
            policy,
            "s3:GetObject",
            "arn:aws:s3:::Raw/[a]",
            [allow("s3:GetObject", "arn:aws:s3:::raw/*")],
        )
        == "implicitly denied"
    )
    assert (
        decide(
            policy,
            "s3:GetObject",
            "arn:aws:s3:::raw/[a]",
            [allow("s3:GetObject", "arn:aws:s3:::raw/[a]")],
        )
        == "allowed"
    )


def test_not_action_and_not_resource_match_everything_else(policy: ModuleType) -> None:
    identity = [
        {
            "Statement": [
                {"Effect": "Allow", "NotAction": "iam:*", "NotResource": f"{BUCKET}/secret/*"}
            ]
        }
    ]
    assert decide(policy, "s3:GetObject", f"{BUCKET}/a", identity) == "allowed"
    assert decide(policy, "iam:PassRole", ROLE, identity) == "implicitly denied"
    assert decide(policy, "s3:GetObject", f"{BUCKET}/secret/k", identity) == "implicitly denied"


def test_an_explicit_deny_anywhere_wins_over_any_allow(policy: ModuleType) -> None:
    # Given an identity allow and a bucket policy that denies calls without TLS
    identity = [allow("s3:*", "*")]
    bucket_policy = {
        "Statement": [
            {
                "Sid": "TLSOnly",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "s3:*",
                "Resource": [BUCKET, f"{BUCKET}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
    }
    # When the call comes without and with TLS
    insecure = decide(
        policy,
        "s3:GetObject",
        f"{BUCKET}/k",
        identity,
        bucket_policy,
        {"aws:SecureTransport": "false"},
    )
    secure = decide(
        policy,
        "s3:GetObject",
        f"{BUCKET}/k",
        identity,
        bucket_policy,
        {"aws:SecureTransport": "true"},
    )
    # Then only the one with TLS is allowed
    assert (insecure, secure) == ("explicitly denied", "allowed")
    # And an identity deny beats an identity allow
    deny = {"Statement": [{"Effect": "Deny", "Action": "s3:PutObject", "Resource": "*"}]}
    assert (
        decide(policy, "s3:PutObject", f"{BUCKET}/k", [allow("s3:*", "*"), deny])
        == "explicitly denied"
    )


def test_a_resource_policy_allows_a_named_principal_but_the_account_only_delegates(
    policy: ModuleType,
) -> None:
    queue = "arn:aws:sqs:us-east-1:000000000000:q"
    names_role = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": ROLE},
                "Action": "sqs:SendMessage",
                "Resource": queue,
            }
        ]
    }
    names_account = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sqs:SendMessage",
                "Resource": queue,
            }
        ]
    }
    names_service = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue,
            }
        ]
    }
    assert decide(policy, "sqs:SendMessage", queue, [], names_role) == "allowed"
    assert decide(policy, "sqs:SendMessage", queue, [], names_account) == "implicitly denied"
    assert decide(policy, "sqs:SendMessage", queue, [], names_service) == "implicitly denied"
    assert (
        decide(policy, "sqs:SendMessage", queue, [allow("sqs:SendMessage", queue)], names_account)
        == "allowed"
    )


def test_kms_needs_the_key_policy_to_allow_or_to_delegate_to_iam(policy: ModuleType) -> None:
    key = "arn:aws:kms:us-east-1:000000000000:key/k1"
    identity = [allow("kms:Decrypt", key)]
    delegates = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
    }
    only_logs = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "logs.amazonaws.com"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
    }
    assert (
        decide(policy, "kms:Decrypt", key, identity, delegates, resource_policy_required=True)
        == "allowed"
    )
    assert (
        decide(policy, "kms:Decrypt", key, [], delegates, resource_policy_required=True)
        == "implicitly denied"
    )
    assert (
        decide(policy, "kms:Decrypt", key, identity, only_logs, resource_policy_required=True)
        == "implicitly denied"
    )


@pytest.mark.parametrize(
    ("condition", "context", "held"),
    [
        (
            {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            {"iam:PassedToService": "sagemaker.amazonaws.com"},
            True,
        ),
        (
            {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            {"iam:PassedToService": "lambda.amazonaws.com"},
            False,
        ),
        ({"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}, {}, False),
        ({"StringEqualsIfExists": {"aws:SourceAccount": "1"}}, {}, True),
        ({"StringNotEquals": {"aws:SourceAccount": "1"}}, {}, True),
        (
            {"StringLike": {"s3:prefix": ["transactions/*", ""]}},
            {"s3:prefix": "transactions/2026"},
            True,
        ),
        ({"StringLike": {"s3:prefix": ["transactions/*"]}}, {"s3:prefix": "scoring/"}, False),
        (
            {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:000000000000:rule/*"}},
            {"aws:SourceArn": "arn:aws:events:us-east-1:000000000000:rule/r"},
            True,
        ),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "true"}, False),
        ({"Null": {"aws:SourceArn": "true"}}, {}, True),
        ({"Null": {"aws:SourceArn": "false"}}, {}, False),
        ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"}, True),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": ["a"]}, True),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}}, {"aws:TagKeys": ["a", "c"]}, False),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["c"]}}, {"aws:TagKeys": ["a", "c"]}, True),
        (
            {"StringEquals": {"aws:SourceAccount": "1"}, "Bool": {"aws:SecureTransport": "true"}},
            {"aws:SourceAccount": "1", "aws:SecureTransport": "false"},
            False,
        ),
    ],
)
def test_condition_operators_follow_iams_rules(
    policy: ModuleType, condition: dict[str, Any], context: dict[str, Any], held: bool
) -> None:
    assert policy.conditions_hold(condition, context) is held


def test_an_unknown_condition_operator_is_an_error_not_an_allow(policy: ModuleType) -> None:
    with pytest.raises(ValueError, match="DateGreaterThan"):
        policy.conditions_hold(
            {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01"}}, {"aws:CurrentTime": "x"}
        )
