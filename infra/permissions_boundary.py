"""The stage's permissions boundary on every IAM role of every stack.

Accounts governed by a landing zone or an SCP refuse ``iam:CreateRole`` unless the role
carries a given boundary. CDK's ``PermissionsBoundary.of(stack).apply(...)`` aspect is
used rather than the ``@aws-cdk/core:permissionsBoundary`` context: the aspect visits
every ``AWS::IAM::Role`` resource once the stack is built, the L1 roles of CDK's own
custom-resource providers included, and takes a policy ARN as well as a name, while the
context is read by the L2 ``Role`` as it is constructed and names the policy only.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam

from infra.config import StageConfig


def apply_permissions_boundary(stack: cdk.Stack, config: StageConfig) -> iam.IManagedPolicy | None:
    """Bound every role of ``stack`` by the stage's policy; None when the stage sets none.

    A name resolves at deployment to the policy of that name in the account and partition
    deployed to (CDK's own lookup by name writes the partition of the synth's region, "aws"
    when the synth knows none).
    """
    boundary = config.permissions_boundary
    if boundary is None:
        return None
    if not boundary.startswith("arn:"):
        boundary = f"arn:{cdk.Aws.PARTITION}:iam::{cdk.Aws.ACCOUNT_ID}:policy/{boundary}"
    policy = iam.ManagedPolicy.from_managed_policy_arn(stack, "PermissionsBoundary", boundary)
    iam.PermissionsBoundary.of(stack).apply(policy)
    return policy
