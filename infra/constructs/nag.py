"""Acknowledging cdk-nag findings, always with a written reason.

cdk-nag 3 runs as a CDK validation plugin: any unacknowledged finding stops the synth.
Each finding is acknowledged by its exact id (``Rule[Finding]``), never by rule, so a
new wildcard that appears later is reported instead of being swallowed.
"""

from __future__ import annotations

from typing import Any

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


def resource_finding(scope: IConstruct, arn: str) -> str:
    """The IAM5 finding id cdk-nag reports for a policy resource ``arn`` (tokens allowed).

    cdk-nag names a finding after the resolved resource, with intrinsics flattened:
    ``{"Ref": "AWS::Region"}`` as ``<AWS::Region>``, a GetAtt as ``<Logical.Arn>``, an
    import by its export name. Deriving the id the same way keeps acknowledgements
    right whatever account and region the app is synthesized for.
    """
    return f"{PACK}-IAM5[Resource::{_flatten(Stack.of(scope).resolve(arn))}]"


def _flatten(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(_flatten(part) for part in parts)
        if function == "Fn::ImportValue":
            return _flatten(argument)
    raise ValueError(f"cdk-nag finding ids for {value!r} are not derived here")
