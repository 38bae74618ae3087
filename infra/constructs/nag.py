"""Acknowledging cdk-nag findings, always with a written reason.

cdk-nag 3 runs as a CDK validation plugin: any unacknowledged finding stops the synth.
Each finding is acknowledged by its exact id (``Rule[Finding]``), never by rule, so a
new wildcard that appears later is reported instead of being swallowed.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, CfnResource, Stack, Validations
from constructs import IConstruct

PACK = "AwsSolutions::AwsSolutions"


def acknowledge(scope: IConstruct, reason: str, *finding_ids: str) -> None:
    if not reason.strip():
        raise ValueError("A cdk-nag acknowledgement needs a reason")
    if not finding_ids:
        raise ValueError("Name the findings to acknowledge")
    Validations.of(scope).acknowledge(
        *(Acknowledgment(id=finding, reason=reason) for finding in finding_ids)
    )


def wildcard_resource(resource: CfnResource, suffix: str) -> str:
    """The IAM5 finding id for ``<resource>.Arn`` followed by a wildcard suffix."""
    logical_id = Stack.of(resource).resolve(Stack.of(resource).get_logical_id(resource))
    return f"{PACK}-IAM5[Resource::<{logical_id}.Arn>{suffix}]"
